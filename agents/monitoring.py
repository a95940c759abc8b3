"""HTTP monitoring: Flume's JSON at ``/metrics`` and Prometheus text at ``/metrics/prometheus``.

The JSON keeps Flume's shape (``{"SOURCE.name": {"EventReceivedCount": "12", ...}}``, values
as strings) and adds ``Health`` to each component. The Prometheus exposition is rendered by
``prometheus_client`` from the same counters at each scrape: ``flume_<kind>_<counter>_total``
counters (``EventDrainSuccessCount`` -> ``flume_sink_event_drain_success_total``), gauges for
sizes and times, ``flume_component_up`` (1 when healthy) and ``flume_component_health`` (one
series per state), each with HELP and TYPE and labels ``agent``, ``component`` (escaped by
the library). Bound to 127.0.0.1 unless told otherwise. What is served comes from a
``Monitored``: an agent, or the supervisor of an agent whose flows run in processes of their
own (``agents.supervisor``: the merge of its flows' metrics).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from agents.servers import send_reply

GAUGES = {"ChannelSize", "ChannelCapacity", "ChannelFillPercentage", "OpenConnectionCount",
          "StartTime", "StopTime"}  # fmt: skip
Metrics = dict[str, dict[str, object]]  # "KIND.name" -> counter -> value (strings), + Health


class Monitored(Protocol):
    """What a monitoring server serves: an agent's name and its components' metrics
    (``agents.runtime.Agent.metrics``: each component's counters as Flume's JSON shows them,
    strings, a channel's size and fill, and its ``Health``)."""

    @property
    def name(self) -> str: ...
    def metrics(self) -> Metrics: ...


HEALTH_STATES = (
    "running",
    "retrying",
    "restarting",
    "blocked",
    "stalled",
    "rolling back",
    "stopped",
)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class FlumeCollector(Collector):
    """The agent's counters as Prometheus metric families, read at each scrape."""

    def __init__(self, agent: Monitored) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        labels = ["agent", "component"]
        up = GaugeMetricFamily("flume_component_up", "1 when the component is healthy",
                               labels=[*labels, "kind"])  # fmt: skip
        health = GaugeMetricFamily("flume_component_health", "1 for the component's state",
                                   labels=[*labels, "kind", "state"])  # fmt: skip
        for key, snap in self.agent.metrics().items():
            kind, _, name = key.partition(".")
            for counter, value in snap.items():
                if counter in ("Type", "Health"):
                    continue
                try:
                    number = float(str(value))
                except ValueError:
                    continue
                base = _snake(counter).removesuffix("_count")
                base = base.removeprefix(f"{kind.lower()}_")  # ChannelSize: flume_channel_size
                if counter in GAUGES:
                    metric_name = f"flume_{kind.lower()}_{base}"
                    if counter in ("StartTime", "StopTime"):
                        metric_name, number = f"{metric_name}_seconds", number / 1000
                    family: CounterMetricFamily | GaugeMetricFamily = families.get(
                        metric_name
                    ) or GaugeMetricFamily(metric_name, f"Flume's {counter}", labels=labels)
                else:
                    metric_name = f"flume_{kind.lower()}_{base}"
                    family = families.get(metric_name) or CounterMetricFamily(
                        metric_name, f"Flume's {counter}", labels=labels
                    )
                families[metric_name] = family
                family.add_metric([self.agent.name, name], number)
            state = str(snap["Health"])
            word = state.split(":", 1)[0]
            up.add_metric([self.agent.name, name, kind], 1.0 if word == "running" else 0.0)
            for s in HEALTH_STATES:
                health.add_metric([self.agent.name, name, kind, s], 1.0 if word == s else 0.0)
        yield from families.values()
        yield up
        yield health


def prometheus(agent: Monitored) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FlumeCollector(agent))
    return generate_latest(registry)


class MonitoringServer:
    def __init__(self, agent: Monitored, port: int, host: str = "127.0.0.1") -> None:
        handler = _handler(agent)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="monitoring", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(agent: Monitored) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/metrics":
                body = json.dumps(agent.metrics(), indent=1).encode()
                ctype = "application/json"
            elif self.path.rstrip("/") == "/metrics/prometheus":
                body = prometheus(agent)
                ctype = CONTENT_TYPE_LATEST
            else:
                self.send_error(404, "try /metrics or /metrics/prometheus")
                return
            send_reply(self, 200, ctype, body, close=False)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler
