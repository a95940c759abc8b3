"""HTTP monitoring: Flume's JSON at ``/metrics`` and Prometheus text at ``/metrics/prometheus``.

The JSON keeps Flume's shape (``{"SOURCE.name": {"EventReceivedCount": "12", ...}}``, values
as strings) and adds ``Health`` to each component. Bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents.runtime import Agent


def metrics(agent: Agent) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for comp in agent.components():
        snap = comp.counters.snapshot()
        if comp.KIND == "CHANNEL":
            size = comp.size()  # type: ignore[attr-defined]
            cap = int(comp.counters.get("ChannelCapacity")) or 1
            snap["ChannelSize"] = str(size)
            snap["ChannelFillPercentage"] = str(100.0 * size / cap)
        snap["Health"] = agent.health(comp)
        out[f"{comp.KIND}.{comp.name}"] = snap
    return out


def prometheus(agent: Agent) -> str:
    lines = []
    for key, snap in metrics(agent).items():
        kind, _, name = key.partition(".")
        for counter, value in snap.items():
            if counter in ("Type", "Health"):
                continue
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            lines.append(
                f'flume_{kind.lower()}_{counter}{{agent="{agent.name}",component="{name}"}} '
                f"{number:g}"
            )
        up = 1 if str(snap["Health"]) == "running" else 0
        lines.append(
            f'flume_component_up{{agent="{agent.name}",component="{name}",kind="{kind}"}} {up}'
        )
    return "\n".join(lines) + "\n"


class MonitoringServer:
    def __init__(self, agent: Agent, port: int, host: str = "127.0.0.1") -> None:
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


def _handler(agent: Agent) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/metrics":
                body = json.dumps(metrics(agent), indent=1).encode()
                ctype = "application/json"
            elif self.path.rstrip("/") == "/metrics/prometheus":
                body = prometheus(agent).encode()
                ctype = "text/plain; version=0.0.4"
            else:
                self.send_error(404, "try /metrics or /metrics/prometheus")
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler
