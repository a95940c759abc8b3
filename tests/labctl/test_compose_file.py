"""The Docker Compose file agrees with the local backend (no engine needed to check this)."""

from __future__ import annotations

from pathlib import Path

import yaml

from labctl.cluster import TOPIC, ClusterSpec
from labctl.kafka.dist import KAFKA_VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_compose_matches_the_local_defaults():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    spec = ClusterSpec()
    brokers = sorted(name for name in services if name.startswith("broker-"))
    assert len(brokers) == spec.brokers
    ports = [int(services[b]["ports"][0].split(":")[0]) for b in brokers]
    assert ports == spec.broker_ports
    assert services["zookeeper"]["ports"] == [f"{spec.zookeeper_port}:{spec.zookeeper_port}"]
    for b in brokers:
        assert services[b]["image"].endswith(f":{KAFKA_VERSION}")
    agent = services["agent"]
    assert agent["environment"]["SMARTCAR_TOPIC"] == TOPIC
    brokers_env = agent["environment"]["SMARTCAR_BROKERS"].split(",")
    assert [int(b.rsplit(":", 1)[1]) for b in brokers_env] == spec.broker_ports
    assert (ROOT / agent["build"] / "Dockerfile").exists()
