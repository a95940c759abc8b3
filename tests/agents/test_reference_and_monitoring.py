"""The component reference matches the code; monitoring serves Flume's JSON and Prometheus."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

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


def test_metrics_json_and_prometheus(tmp_path: Path):
    out = tmp_path / "out"
    agent = agent_from_text(
        "a.sources = x\na.channels = c\na.sinks = k\n"
        "a.sources.x.type = exec\na.sources.x.command = seq 1 250\na.sources.x.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 1000\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.channel = c\n"
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
        assert data["SINK.k"]["Health"] == "running"
        prom = get("/metrics/prometheus")
        assert 'flume_sink_EventDrainSuccessCount{agent="a",component="k"} 250' in prom
        assert 'flume_component_up{agent="a",component="c",kind="CHANNEL"} 1' in prom
    finally:
        agent.stop()
        server.stop()
