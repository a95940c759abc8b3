"""The Docker Compose file agrees with the local backend (no engine needed to check this)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
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
    agent = services["agent"]
    assert agent["environment"]["SMARTCAR_TOPIC"] == TOPIC
    brokers_env = agent["environment"]["SMARTCAR_BROKERS"].split(",")
    assert [int(b.rsplit(":", 1)[1]) for b in brokers_env] == spec.broker_ports
    assert (ROOT / agent["build"] / "Dockerfile").exists()


def test_compose_images_carry_the_local_kafka_line():
    from labctl.docker_backend import CONFLUENT_FOR_KAFKA

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    line = CONFLUENT_FOR_KAFKA[".".join(KAFKA_VERSION.split(".")[:2])]
    for name, service in compose["services"].items():
        if "image" in service:
            assert service["image"].split(":")[1].startswith(line + "."), name


def test_docker_backend_without_an_engine_is_a_clear_exit_3(tmp_path):
    import subprocess
    import sys

    from labctl.docker_backend import require_engine
    from labctl.errors import PrerequisiteError

    try:
        require_engine()
    except PrerequisiteError:
        pass
    else:
        pytest.skip("a Docker engine answers here; the engine test below covers it")
    argv = [sys.executable, "-m", "labctl", "up", "--backend", "docker", "--home", str(tmp_path)]
    result = subprocess.run(argv, capture_output=True, text=True)
    assert result.returncode == 3
    assert "no Docker engine answers" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.docker
def test_compose_lab_comes_up_with_testcontainers():
    """Runs only where a Docker engine answers (never on the development machine)."""
    from labctl.docker_backend import require_engine
    from labctl.errors import PrerequisiteError

    try:
        require_engine()
    except PrerequisiteError as exc:
        pytest.skip(str(exc))
    from confluent_kafka.admin import AdminClient
    from testcontainers.compose import DockerCompose

    with DockerCompose(str(ROOT), services=["zookeeper", "broker-0", "broker-1", "broker-2"]):
        admin = AdminClient(
            {"bootstrap.servers": ClusterSpec().bootstrap.replace("127.0.0.1", "localhost")}
        )
        deadline = __import__("time").monotonic() + 120
        brokers = []
        while __import__("time").monotonic() < deadline and len(brokers) < 3:
            with contextlib.suppress(Exception):
                brokers = list(admin.list_topics(timeout=5).brokers)
        assert sorted(brokers) == [0, 1, 2]
