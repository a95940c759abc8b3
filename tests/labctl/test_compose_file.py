"""docker-compose.yml and the Dockerfile agree with the Docker backend and the local defaults
(no engine needed to check this), and `--backend docker` without an engine is a clear exit 3."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from labctl.backends.container import (
    AGENT_CONF,
    AGENT_METRICS_PORT,
    AGENT_STATE,
    WORKING,
    container_port,
    healthcheck,
    server_command,
    spec_flags,
)
from labctl.backends.image import IMAGE
from labctl.kafka.config import CONTAINER_DATA, Bridge
from labctl.kafka.dist import KAFKA_VERSION
from labctl.pilot.agent import AGENT_NAME, pilot_conf
from labctl.spec import TOPIC, ClusterSpec

ROOT = Path(__file__).resolve().parents[2]
SECOND = 1_000_000_000


def seconds(text: str) -> int:
    return int(text.rstrip("s")) * SECOND


def services() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_compose_servers_are_the_backend_s_containers() -> None:
    spec = ClusterSpec(backend="docker")  # the local defaults: 3 brokers, 2181, 9092..
    found = services()
    assert sorted(found) == sorted([*spec.ports(), "topic", "agent"])
    for name, port in spec.ports().items():
        service = found[name]
        assert service["image"] == f"{IMAGE}:latest" and service["build"] == "."
        assert service["command"] == server_command(spec, name)
        assert service["hostname"] == name and service["init"] is True
        assert service["ports"] == [f"127.0.0.1:{port}:{container_port(name)}"]
        assert service["volumes"] == [f"{name}-data:{CONTAINER_DATA}"]
        check = healthcheck(name)
        ours = service["healthcheck"]
        assert ours["test"] == check["test"]
        assert [seconds(ours[k]) for k in ("interval", "timeout", "start_period")] == [
            check[k] for k in ("interval", "timeout", "start_period")]  # fmt: skip
        assert ours["retries"] == check["retries"]
    assert found["topic"]["command"] == ["topic", *spec_flags(spec)]


def test_compose_agent_is_the_pilot_s() -> None:
    spec = ClusterSpec(backend="docker")
    agent = services()["agent"]
    env = agent["environment"]
    assert env["SMARTCAR_BROKERS"] == Bridge().bootstrap(spec)
    assert env["SMARTCAR_WORKING"] == WORKING
    conf, _, target = agent["volumes"][1].rpartition(":ro")[0].partition(":")
    assert (ROOT / conf).resolve() == pilot_conf().resolve() and target == AGENT_CONF
    assert agent["volumes"][0].endswith(f":{WORKING}")
    assert agent["ports"] == [f"127.0.0.1:{AGENT_METRICS_PORT}:{AGENT_METRICS_PORT}"]
    command = agent["command"]
    assert command[command.index("--name") + 1] == AGENT_NAME
    assert f"agent-state:{AGENT_STATE}" in agent["volumes"]
    assert command[command.index("--state-dir") + 1] == AGENT_STATE
    assert command[command.index("--conf-file") + 1] == AGENT_CONF
    sink_topic = re.search(r"KafkaSink\.topic = (\S+)", pilot_conf().read_text())
    assert sink_topic and sink_topic.group(1) == TOPIC == spec.topic.name


def test_dockerfile_builds_the_local_kafka_on_plain_debian() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG KAFKA_VERSION={KAFKA_VERSION}\n" in dockerfile
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M)[0] == "debian:bookworm-slim"
    assert "labctl/kafka/pom.xml" in dockerfile  # the same pinned pom as the local backend


def compose_cli(version: str) -> list[str] | None:
    """The Compose CLI of that version if installed: v2 (`docker compose`), v1
    (`docker-compose`, Debian's package)."""
    if version == "v1":
        return ["docker-compose"] if shutil.which("docker-compose") else None
    if shutil.which("docker") is None:
        return None
    found = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return ["docker", "compose"] if found.returncode == 0 else None


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_compose_cli_accepts_the_file(version: str) -> None:
    cli = compose_cli(version)
    if cli is None:
        pytest.skip(f"Compose {version} is not installed")
    result = subprocess.run([*cli, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_docker_backend_without_an_engine_is_a_clear_exit_3(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    argv = [sys.executable, "-m", "labctl", "up", "--backend", "docker", "--home",
            str(tmp_path / "lab")]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("error: no Docker engine answers")
    assert "Traceback" not in result.stderr and not (tmp_path / "lab").exists()
