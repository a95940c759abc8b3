"""The component reference matches the code; monitoring serves Flume's JSON and Prometheus."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from agents.monitoring import MonitoringServer
from agents.reference import render
from agents.registry import BUILTIN, _load
from tests.agents.agent_helpers import agent_from_text, wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_docs_components_md_is_current():
    assert (ROOT / "docs" / "components.md").read_text() == render(), (
        "docs/components.md is stale: python -m agents.reference > docs/components.md"
    )


def test_every_declared_property_is_in_the_reference():
    text = (ROOT / "docs" / "components.md").read_text()
    for table in BUILTIN.values():
        for target in table.values():
            for prop in _load(target).PROPERTIES:
                for name in prop.names():
                    assert f"`{name}`" in text, name


def test_metrics_json_and_prometheus(tmp_path: Path) -> None:
    """Flume's JSON shape, and a Prometheus exposition a Prometheus parser reads: HELP and
    TYPE lines, ``_total`` counters, label values escaped (the agent name has a quote)."""
    out = tmp_path / "out"
    name = 'we"ird'
    agent = agent_from_text(
        (
            "a.sources = x\na.channels = c\na.sinks = k\n"
            "a.sources.x.type = exec\na.sources.x.command = seq 1 250\na.sources.x.channels = c\n"
            "a.channels.c.type = memory\na.channels.c.capacity = 1000\n"
            f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
            "a.sinks.k.channel = c\n"
        ).replace("a.", f"{name}."),
        name,
    )
    server = MonitoringServer(agent, 0)
    server.start()
    agent.start()
    try:
        url = f"http://127.0.0.1:{server.port}"

        def get(path: str) -> str:
            with urllib.request.urlopen(url + path, timeout=5) as resp:
                return resp.read().decode()

        assert wait_for(lambda: json.loads(get("/metrics"))["SINK.k"]["EventDrainSuccessCount"]
                        == "250")  # fmt: skip
        data = json.loads(get("/metrics"))
        assert set(data) == {"SOURCE.x", "CHANNEL.c", "SINK.k"}
        assert data["SOURCE.x"]["EventAcceptedCount"] == "250"
        assert data["SOURCE.x"]["Type"] == "SOURCE"
        assert data["CHANNEL.c"]["ChannelCapacity"] == "1000"
        assert data["SINK.k"]["ChannelReadFail"] == "0"  # Flume's SinkCounter has it
        assert data["SINK.k"]["Health"] == "running"
        assert data["SOURCE.x"]["Health"] == "stopped: command exited 0"
        prom = get("/metrics/prometheus")
    finally:
        agent.stop()
        server.stop()
    assert "# HELP flume_sink_event_drain_success_total Flume's EventDrainSuccessCount" in prom
    assert "# TYPE flume_sink_event_drain_success_total counter" in prom
    assert 'flume_sink_event_drain_success_total{agent="we\\"ird",component="k"} 250.0' in prom
    families = {f.name: f for f in text_string_to_metric_families(prom)}
    drained = families["flume_sink_event_drain_success"]
    assert drained.type == "counter"
    assert drained.samples[0].labels == {"agent": name, "component": "k"}
    assert families["flume_channel_size"].type == "gauge"
    up = {s.labels["component"]: s.value for s in families["flume_component_up"].samples}
    assert up == {"x": 0.0, "c": 1.0, "k": 1.0}  # seq ended: the exec source is stopped
    health = {(s.labels["component"], s.labels["state"]): s.value
              for s in families["flume_component_health"].samples}  # fmt: skip
    assert health[("x", "stopped")] == 1.0 and health[("k", "running")] == 1.0
