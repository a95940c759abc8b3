"""One description of the lab: the shipped docker-compose.yml is `labctl compose` with the
defaults (byte for byte), every shape `labctl up` takes renders, the Docker backend's containers
come from the same services, and each Compose CLI installed accepts every rendering. No engine
needed, except for `--backend docker` without one: a clear exit 3."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from labctl.backends.compose import (
    FILE,
    LAB_HOME,
    AgentService,
    Target,
    agent_service,
    agent_variables,
    port_variable,
    render,
    server_service,
)
from labctl.backends.container import (
    AGENT_CONF,
    AGENT_METRICS_PORT,
    container_port,
    read_server_command,
)
from labctl.backends.docker import run_options
from labctl.kafka.config import CONTAINER_DATA, Bridge
from labctl.kafka.dist import KAFKA_VERSION
from labctl.pilot.agent import AGENT_NAME, pilot_conf
from labctl.spec import TOPIC, ClusterSpec

ROOT = Path(__file__).resolve().parents[2]
# The shapes `labctl up` takes, as `labctl compose` flags.
SHAPES = {
    "1 broker": ["--brokers", "1"],
    "3 brokers": [],
    "3 ZooKeepers": ["--zookeepers", "3"],
    "KRaft, 3 controllers": ["--kraft", "--controllers", "3"],
    "flume-4's agents": ["--brokers", "1", "--example", "flume-4"],
}


def labctl_compose(*flags: str, cwd: Path = ROOT) -> str:
    done = subprocess.run([sys.executable, "-m", "labctl", "compose", *flags], cwd=cwd,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def services() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_the_shipped_file_is_the_rendered_default() -> None:
    assert (ROOT / "docker-compose.yml").read_text() == labctl_compose(), (
        "docker-compose.yml is stale: .venv/bin/labctl compose -o docker-compose.yml"
    )


def with_defaults(command: list[str]) -> list[str]:
    """A command as Compose runs it with no variable set (``${VAR:-N}`` is N)."""
    return [re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", part) for part in command]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_renders_servers_that_read_back_as_its_spec(shape: str) -> None:
    project = yaml.safe_load(labctl_compose(*SHAPES[shape]))
    found = project["services"]
    read = {name: read_server_command(with_defaults(s["command"])) for name, s in found.items()}
    servers = {name: found[name] for name, r in read.items() if r is not None}
    specs = [r[1] for r in read.values() if r is not None]
    spec = specs[0]
    assert all(s.to_json() == spec.to_json() for s in specs)  # one shape, said by every server
    assert set(servers) == set(spec.ports())
    assert all((r := read[n]) is not None and r[0] == n for n in servers)
    for name, service in servers.items():
        port = spec.ports()[name]
        published = f"127.0.0.1:${{{port_variable(name)}:-{port}}}:{container_port(name)}"
        assert service["ports"] == [published] and service["hostname"] == name
        assert service["volumes"] == [f"{name}-data:{CONTAINER_DATA}"]
        assert f"{name}-data" in project["volumes"]
    assert found["topic"]["command"][0] == "topic"
    agents = {name: s for name, s in found.items() if name.startswith("agent")}
    assert agents, "every rendering runs agents"
    for name, agent in agents.items():
        env = agent["environment"]
        assert env["SMARTCAR_BROKERS"] == Bridge().bootstrap(spec) and env["SMARTCAR_BIND"]
        assert env["SMARTCAR_WORKING"] == f"{LAB_HOME}/working"
        assert env["SMARTCAR_STATE"].startswith(f"{LAB_HOME}/agents/")
        assert f"{LAB_HOME}/logs/{name}.log" in agent["command"]  # its log in the lab home
        conf = agent["volumes"][1].split(":")[0]
        assert (ROOT / conf).is_file(), conf


def test_the_pilot_agent_is_the_same_in_the_file_and_in_the_docker_backend(tmp_path: Path) -> None:
    """Both are rendered by one function: only the lab home, the image, the user and the
    ports are values for the backend and variables for the file."""
    spec = ClusterSpec(backend="docker")
    agent = AgentService("agent", AGENT_NAME, pilot_conf(), f"agents/{AGENT_NAME}")
    in_file = services()["agent"]
    backend = agent_service(spec, agent, Target.values(tmp_path, "smartcar-lab:x"))
    for key in ("command", "environment", "healthcheck", "hostname", "init"):
        assert in_file[key] == backend[key], key
    assert in_file["environment"] == {"HOME": "/tmp", **agent_variables(spec, agent)}
    assert in_file["volumes"][0] == f"{FILE.home}:{LAB_HOME}"
    assert backend["volumes"][0] == f"{tmp_path}:{LAB_HOME}"
    assert backend["volumes"][1] == f"{pilot_conf().resolve()}:{AGENT_CONF}:ro"
    command = in_file["command"]
    assert command[command.index("--name") + 1] == AGENT_NAME
    sink_topic = re.search(r"KafkaSink\.topic = (\S+)", pilot_conf().read_text())
    assert sink_topic and sink_topic.group(1) == TOPIC == spec.topic.name
    options = run_options("p", "agent", backend)  # what the SDK is given
    assert options["ports"] == {f"{AGENT_METRICS_PORT}/tcp": ("127.0.0.1", AGENT_METRICS_PORT)}
    assert options["volumes"][str(tmp_path)] == {"bind": LAB_HOME, "mode": "rw"}
    assert options["healthcheck"]["interval"] == 5_000_000_000


@pytest.mark.parametrize("name", ["zookeeper", "broker-0", "broker-2"])
def test_a_server_is_the_same_in_the_file_and_in_the_docker_backend(
    name: str, tmp_path: Path
) -> None:
    spec = ClusterSpec(backend="docker")
    in_file, backend = services()[name], server_service(spec, name, Target.values(tmp_path, "i"))
    assert [c.replace("${SMARTCAR_PORT_BROKER_0:-9092}", "9092") for c in in_file["command"]] == (
        backend["command"]
    )
    for key in ("healthcheck", "hostname", "init", "volumes"):
        assert in_file[key] == backend[key], key
    options = run_options("p", name, backend)
    assert options["volumes"] == {f"p_{name}-data": {"bind": str(CONTAINER_DATA), "mode": "rw"}}
    assert options["ports"] == {f"{container_port(name)}/tcp": ("127.0.0.1", spec.ports()[name])}
    assert options["name"] == f"p-{name}-1"


def test_an_example_agent_reaches_its_peers_by_service_name() -> None:
    found = yaml.safe_load(labctl_compose(*SHAPES["flume-4's agents"]))["services"]
    collector = found["agent-flume-4-c1"]["environment"]
    assert collector["AGG5_HOST"] == "agent-flume-4-agg5" in found
    assert collector["AGG6_HOST"] == "agent-flume-4-agg6" in found
    assert found["agent-flume-4-agg5"]["environment"]["AGG_PORT"] == collector["AGG5_PORT"]


def test_render_is_pure_and_the_dockerfile_builds_the_local_kafka() -> None:
    spec = ClusterSpec(brokers=1)
    assert render(spec) == render(spec)
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
def test_compose_cli_accepts_every_rendering(version: str, tmp_path: Path) -> None:
    cli = compose_cli(version)
    if cli is None:
        pytest.skip(f"Compose {version} is not installed")
    for shape, flags in SHAPES.items():
        rendered = tmp_path / "docker-compose.yml"
        rendered.write_text(labctl_compose(*flags))
        result = subprocess.run([*cli, "-f", str(rendered), "config", "-q"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert result.returncode == 0, (shape, result.stderr)


def test_docker_backend_without_an_engine_is_a_clear_exit_3(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    argv = [sys.executable, "-m", "labctl", "up", "--backend", "docker", "--home",
            str(tmp_path / "lab")]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("error: no Docker engine answers")
    assert "Traceback" not in result.stderr and not (tmp_path / "lab").exists()
