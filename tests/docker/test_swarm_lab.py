"""`labctl up --backend swarm` on a simulated three-host swarm (``tests.docker.swarm_hosts``):
the project image handed to each host without a registry, ZooKeeper and one broker per host as
services of a stack, clients on this machine at the hosts' addresses, the pilot with its agent on
a host, and `down` leaving nothing.
The refusals (not a manager, fewer hosts than brokers) leave nothing behind either.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from labctl.backends.docker import project_name
from labctl.backends.swarm import STACK_LABEL
from labctl.cluster import Cluster
from labctl.paths import LabPaths
from labctl.spec import load_spec
from tests.conftest import free_port_block
from tests.docker.swarm_hosts import SimulatedSwarm
from tests.labctl.test_cli import LABCTL, one_sentence_error
from tests.labctl.test_cluster import produce_all, read_all

pytestmark = pytest.mark.slow


def on(swarm: SimulatedSwarm, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """labctl with DOCKER_HOST at the swarm's manager."""
    env = {**os.environ, "DOCKER_HOST": swarm.manager_url}
    return subprocess.run([*LABCTL, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)  # fmt: skip


def stack(swarm: SimulatedSwarm, home: str) -> dict[str, list[str]]:
    """The lab's services and networks, as the manager lists them."""
    manager = docker.DockerClient(base_url=swarm.manager_url)
    label = {"label": f"{STACK_LABEL}={project_name(home)}"}
    return {"services": [s.name for s in manager.services.list(filters=label)],
            "networks": [n.name for n in manager.networks.list(filters=label)]}  # fmt: skip


@pytest.fixture(scope="module")
def home(swarm: SimulatedSwarm) -> Iterator[str]:
    home = str(swarm.shared[0] / "lab")
    base = free_port_block(4)
    began = time.monotonic()
    up = on(swarm, "up", "--backend", "swarm", "--home", home, "--zookeeper-port", str(base),
            "--base-port", str(base + 1))  # fmt: skip
    print(f"swarm up took {time.monotonic() - began:.1f} s")  # the figure docs/multi-host.md cites
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield home
    finally:
        on(swarm, "down", "--purge", "--home", home)


def test_not_a_manager_is_one_sentence(engine: docker.DockerClient, tmp_path: str) -> None:
    if (engine.info().get("Swarm") or {}).get("ControlAvailable"):
        pytest.skip("this machine's engine is a swarm manager")
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    result = subprocess.run([*LABCTL, "up", "--backend", "swarm", "--home", f"{tmp_path}/lab"],
                            capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert result.returncode != 0
    assert "is not a swarm manager" in one_sentence_error(result)


def test_fewer_hosts_than_brokers_is_refused(swarm: SimulatedSwarm) -> None:
    home = str(swarm.shared[0] / "four")
    result = on(swarm, "up", "--backend", "swarm", "--brokers", "4", "--home", home)
    assert result.returncode != 0
    error = one_sentence_error(result)
    assert "3 ready node(s) (host0, host1, host2) for 4 brokers" in error
    assert "--allow-colocated" in error
    assert stack(swarm, home) == {"services": [], "networks": []}


def test_each_broker_on_its_own_host(swarm: SimulatedSwarm, home: str) -> None:
    status = json.loads(on(swarm, "status", "--json", "--home", home).stdout)
    assert status["backend"] == "swarm" and status["architecture"] == "multi-broker / multi-node"
    where = {c["component"]: c["where"] for c in status["components"]}
    assert all(c["state"] == "running" for c in status["components"]), status["components"]
    assert {where[f"broker-{i}"] for i in range(3)} == {"node host0", "node host1", "node host2"}
    assert status["brokers"] == [0, 1, 2] and sorted(status["partitions"][0]["isr"]) == [0, 1, 2]
    spec = load_spec(LabPaths(Path(home)))
    assert spec is not None
    addresses = {spec.host_of(f"broker-{i}") for i in range(3)}
    assert addresses == set(swarm.addresses)  # clients here reach each broker at its host
    assert status["bootstrap"] == spec.bootstrap and "127.0.0.1" not in spec.bootstrap


def test_records_written_here_are_read_back_over_the_hosts(home: str) -> None:
    cluster = Cluster.open(LabPaths(Path(home)))
    values = [f"swarm-{i}".encode() for i in range(200)]
    assert produce_all(cluster, "SmartCar-Topic", values) == []
    assert sorted(read_all(cluster, "SmartCar-Topic", len(values))) == sorted(values)


def test_pilot_passes_every_stage_with_the_agent_on_a_host(swarm: SimulatedSwarm,
                                                           home: str) -> None:  # fmt: skip
    began = time.monotonic()
    result = on(swarm, "pilot", "--home", home, "--cars", "3", "--duration", "10", "--seed", "7")
    print(f"swarm pilot took {time.monotonic() - began:.1f} s")  # docs/multi-host.md cites it
    text = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "pilot PASSED" in text and "FAIL" not in text
    agent = json.loads(on(swarm, "agent", "status", "--json", "--home", home).stdout)
    assert agent["where"] in {f"node {host}" for host in swarm.hosts}


def test_a_host_lost_and_back(engine: docker.DockerClient, swarm: SimulatedSwarm,
                              home: str) -> None:  # fmt: skip
    """host2 frozen (its container paused: its engine and broker-2 stop at once, as a hung
    server): status shows its node down, acks=all writes go on with two brokers, and once it
    is back broker-2 rejoins and the ISR is full again."""
    cluster = Cluster.open(LabPaths(Path(home)))
    host = engine.containers.get(f"{swarm.name}-host2")
    values = [f"while-host2-is-down-{i}".encode() for i in range(100)]
    host.pause()
    try:
        began = time.monotonic()
        while time.monotonic() - began < 90:
            status = json.loads(on(swarm, "status", "--json", "--home", home).stdout)
            broker = next(c for c in status["components"] if c["component"] == "broker-2")
            if broker["state"] == "stopped":
                break
        print(f"node loss shown in status after {time.monotonic() - began:.1f} s")
        assert broker["state"] == "stopped", broker
        print(f"status says: broker-2 {broker['where']}")
        assert produce_all(cluster, "SmartCar-Topic", values) == []  # RF 3, min ISR 2
    finally:
        host.unpause()
    deadline = time.monotonic() + 180
    isr: list[int] = []
    while time.monotonic() < deadline:
        status = json.loads(on(swarm, "status", "--json", "--home", home).stdout)
        isr = sorted(status["partitions"][0]["isr"]) if status["partitions"] else []
        if isr == [0, 1, 2] and all(c["state"] == "running" for c in status["components"]):
            break
    assert isr == [0, 1, 2], status


def test_down_leaves_nothing(swarm: SimulatedSwarm, home: str) -> None:
    down = on(swarm, "down", "--home", home)
    assert down.returncode == 0, down.stdout + down.stderr
    assert stack(swarm, home) == {"services": [], "networks": []}
