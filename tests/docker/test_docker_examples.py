"""The four Flume architectures (`labctl example run flume-1..4`) with every agent a container
of the project image on a Docker lab's bridge network (two brokers: flume-3 kills one)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import docker
import pytest

from labctl.backends.compose import PROJECT_LABEL, SERVICE_LABEL
from labctl.backends.docker import project_name
from tests.conftest import free_port_block
from tests.labctl.test_cli import labctl


@pytest.fixture(scope="module")
def home(lab_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = str(tmp_path_factory.mktemp("docker-examples") / "lab")
    base = free_port_block(3)
    up = labctl("up", "--backend", "docker", "--brokers", "2", "--home", home,
                "--zookeeper-port", str(base), "--base-port", str(base + 1))  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield home
    finally:
        labctl("down", "--purge", "--home", home)


@pytest.mark.parametrize("name", ["flume-1", "flume-2", "flume-3", "flume-4"])
def test_example_runs_with_agents_in_containers(
    engine: docker.DockerClient, home: str, name: str
) -> None:
    seen: set[str] = set()
    result = labctl("example", "run", name, "--cars", "1", "--json", "--home", home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["ok"] and report["figures"]["backend"] == "docker"
    label = {"label": f"{PROJECT_LABEL}={project_name(home)}"}
    for c in engine.containers.list(all=True, filters=label):
        seen.add(c.labels.get(SERVICE_LABEL, ""))
    assert not {s for s in seen if s.startswith(f"agent-{name}")}, "agents left behind"
