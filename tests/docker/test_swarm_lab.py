"""`labctl up --backend swarm` on a simulated three-host swarm (``tests.docker.swarm_hosts``):
the project image handed to each host without a registry, ZooKeeper and one broker per host as
services of a stack, clients on this machine at the hosts' addresses, the pilot with its agent on
a host, the four examples (flume-4's aggregators on hosts of their own, then with aggregator
5's host frozen), a host lost and back as `status`, `top` and the dashboard show it, and `down`
leaving nothing.
The refusals (not a manager, fewer hosts than brokers) leave nothing behind either.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from labctl.backends.docker import project_name
from labctl.backends.swarm import STACK_LABEL
from labctl.cluster import Cluster
from labctl.examples import Scale
from labctl.examples.base import ExampleRun
from labctl.examples.flume4 import Flume4
from labctl.paths import LabPaths
from labctl.spec import load_spec
from tests.conftest import free_port_block
from tests.docker.swarm_hosts import SimulatedSwarm
from tests.labctl.test_cli import LABCTL, one_sentence_error
from tests.labctl.test_cluster import produce_all, read_all
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


def on(swarm: SimulatedSwarm, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """labctl with DOCKER_HOST at the swarm's manager (and a wide terminal for `top`)."""
    env = {**os.environ, "DOCKER_HOST": swarm.manager_url, "COLUMNS": "160"}
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
    print(result.stdout[-2500:])
    text = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "pilot PASSED" in text and "FAIL" not in text
    agent = json.loads(on(swarm, "agent", "status", "--json", "--home", home).stdout)
    assert agent["where"] in {f"node {host}" for host in swarm.hosts}


@pytest.mark.parametrize("name", ["flume-1", "flume-2", "flume-3", "flume-4"])
def test_example_runs_with_its_agents_on_the_hosts(swarm: SimulatedSwarm, home: str,
                                                   name: str) -> None:  # fmt: skip
    """Each example passes with its agents as services on the hosts (flume-3 kills broker-0
    through its host's engine and starts it again); flume-4's collectors run on the host of
    the lab's files and each aggregator on a host of its own; no agent is left behind."""
    began = time.monotonic()
    result = on(swarm, "example", "run", name, "--cars", "1", "--json", "--home", home)
    print(f"swarm {name} took {time.monotonic() - began:.1f} s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["ok"] and report["figures"]["backend"] == "swarm"
    where = report["figures"]["where"]
    print(f"{name}: {report['figures']}")
    assert set(where.values()) <= {f"node {host}" for host in swarm.hosts}, where
    if name == "flume-4":
        collectors = {where[c] for c in ("c1", "c2", "c3", "c4")}
        assert len(collectors) == 1 and where["agg5"] != where["agg6"], where
        assert not collectors & {where["agg5"], where["agg6"]}, where
    assert not [s for s in stack(swarm, home)["services"] if f"agent-{name}" in s]


class Aggregator5HostFrozen(Flume4):
    """flume-4 with aggregator 5's whole host frozen (its container paused: engine, agent and
    the broker there stop at once) instead of aggregator 5 killed, and thawed again."""

    def __init__(self, engine: docker.DockerClient, swarm: SimulatedSwarm) -> None:
        super().__init__()
        self.engine, self.swarm, self.frozen = engine, swarm, ""

    def fail_aggregator(self, run: ExampleRun) -> None:
        where = run.cluster.backend.agent_where(run.component("agg5"))
        assert where is not None and where.startswith("node ")
        self.frozen = where.split()[1]
        run.progress(f"freezing {self.frozen}, aggregator 5's host")
        self.engine.containers.get(f"{self.swarm.name}-{self.frozen}").pause()

    def recover_aggregator(self, run: ExampleRun) -> None:
        """The host thawed; Swarm, which marked it down, may replace aggregator 5's task:
        until one task of it runs (the old one gone) and answers."""
        self.engine.containers.get(f"{self.swarm.name}-{self.frozen}").unpause()
        manager = docker.DockerClient(base_url=self.swarm.manager_url)
        project = run.cluster.backend.compose_project
        service = manager.services.get(f"{project}_{run.component('agg5')}")

        def settled() -> bool:
            tasks = service.tasks()
            running = [t["ID"] for t in tasks if t["Status"]["State"] == "running"]
            wanted = [t["ID"] for t in tasks if t["DesiredState"] == "running"]
            return len(running) == 1 and wanted == running and run.answers("agg5")

        wait_for(
            settled,
            180,
            "aggregator 5 to run once again on its host",
            lambda: [(t["DesiredState"], t["Status"]["State"]) for t in service.tasks()],
        )


def test_flume4_collectors_fail_over_when_aggregator5s_host_is_lost(
    engine: docker.DockerClient, swarm: SimulatedSwarm, home: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Aggregator 5's host frozen mid-run: every collector fails over to aggregator 6 on
    another host, both aggregators deliver (5 once its host is back), every record arrives."""
    monkeypatch.setenv("DOCKER_HOST", swarm.manager_url)
    example = Aggregator5HostFrozen(engine, swarm)
    report = example.execute(Cluster.open(LabPaths(Path(home))), Scale(cars=1), print)
    print(f"flume-4 with {example.frozen} frozen: {report.figures}")
    assert example.frozen and example.frozen != report.figures["where"]["c1"].split()[1]
    failed = [c for c in report.checks if not c.ok]
    assert report.ok, failed
    assert report.figures["records"] > 0


def snapshot(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.loads(response.read()))


def members(url: str) -> dict[str, dict[str, Any]]:
    cluster = snapshot(url)["cluster"] or {"members": []}
    return {m["name"]: m for m in cluster["members"]}


@pytest.fixture(scope="module")
def dashboard(swarm: SimulatedSwarm, home: str) -> Iterator[str]:
    """`labctl dashboard` on the swarm lab: its snapshot's URL."""
    port = free_port_block(1)
    env = {**os.environ, "DOCKER_HOST": swarm.manager_url}
    process = subprocess.Popen([*LABCTL, "dashboard", "--port", str(port), "--home", home],
                               env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}/api/snapshot"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_host_lost_and_back(engine: docker.DockerClient, swarm: SimulatedSwarm,
                              home: str, dashboard: str) -> None:  # fmt: skip
    """host2 frozen (its container paused: its engine and broker-2 stop at once, as a hung
    server): status, top and the dashboard show its node down, acks=all writes go on with two
    brokers, and once it is back broker-2 rejoins and the ISR is full again."""
    cluster = Cluster.open(LabPaths(Path(home)))

    def every_member_up() -> dict[str, dict[str, Any]] | None:
        try:
            found = members(dashboard)
        except OSError:
            return None
        return found if len(found) == 4 and all(m["ok"] for m in found.values()) else None

    shown = wait_for(every_member_up, 60, "the dashboard to show every member up")
    assert {shown[f"broker-{i}"]["where"] for i in range(3)} == {
        f"node {host}" for host in swarm.hosts}  # fmt: skip
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
        assert "host2 (node down)" in broker["where"]
        top = on(swarm, "top", "--once", "--home", home)
        assert top.returncode == 0, top.stdout + top.stderr
        row = next(line for line in top.stdout.splitlines() if "broker-2" in line)
        assert "down" in row and "node host2 (node down)" in row, top.stdout
        down = wait_for(lambda: not members(dashboard)["broker-2"]["ok"] and members(dashboard),
                        30, "the dashboard to show broker-2 down")  # fmt: skip
        assert "host2 (node down)" in down["broker-2"]["where"], down["broker-2"]
        assert all(down[m]["ok"] for m in ("zookeeper", "broker-0", "broker-1")), down
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
