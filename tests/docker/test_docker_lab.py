"""`labctl up --backend docker` and every command after it, against a real Docker engine.

One lab for the module (ZooKeeper + 3 brokers, each its own container on the lab's bridge
network, free ports on 127.0.0.1), used in file order: its shape, the full small pilot with the
agent in a container, the CLI tour, a broker killed with `docker kill` while acks=all writes go
on, and `down` / `down --purge` leaving nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from labctl.backends.compose import PROJECT_LABEL, container_name, network_name
from labctl.backends.docker import project_name
from labctl.cluster import Cluster
from labctl.paths import LabPaths
from tests.conftest import free_port_block
from tests.labctl.test_cli import labctl
from tests.labctl.test_cluster import produce_all, read_all


@pytest.fixture(scope="module")
def home(lab_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = str(tmp_path_factory.mktemp("docker") / "lab")
    base = free_port_block(4)
    up = labctl("up", "--backend", "docker", "--home", home, "--zookeeper-port", str(base),
                "--base-port", str(base + 1))  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "multi-broker / multi-node" in " ".join(up.stdout.split())
        yield home
    finally:
        labctl("down", "--purge", "--home", home)


def mine(engine: docker.DockerClient, home: str) -> dict[str, list[str]]:
    """The lab's containers, networks and volumes, as the engine lists them."""
    label = {"label": f"{PROJECT_LABEL}={project_name(home)}"}
    return {"containers": [c.name for c in engine.containers.list(all=True, filters=label)],
            "networks": [n.name for n in engine.networks.list(filters=label)],
            "volumes": [v.name for v in engine.volumes.list(filters=label)]}  # fmt: skip


def test_each_broker_is_its_own_node(engine: docker.DockerClient, home: str) -> None:
    status = json.loads(labctl("status", "--json", "--home", home).stdout)
    assert status["backend"] == "docker"
    assert status["architecture"].startswith("multi-broker / multi-node")
    assert [c["component"] for c in status["components"]] == [
        "zookeeper", "broker-0", "broker-1", "broker-2"]  # fmt: skip
    assert all(c["state"] == "running" and c["where"].startswith("container ")
               for c in status["components"])  # fmt: skip
    assert status["brokers"] == [0, 1, 2] and sorted(status["partitions"][0]["isr"]) == [0, 1, 2]
    project = project_name(home)
    network = engine.networks.get(network_name(project))
    assert network.attrs["Driver"] == "bridge" and not network.attrs["Internal"]
    addresses, hostnames = set(), set()
    for i in range(3):
        container = engine.containers.get(container_name(project, f"broker-{i}"))
        attrs = container.attrs
        hostnames.add(attrs["Config"]["Hostname"])
        addresses.add(attrs["NetworkSettings"]["Networks"][network_name(project)]["IPAddress"])
        bindings = [b for port in attrs["NetworkSettings"]["Ports"].values() for b in port or []]
        assert bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings)  # never the LAN
        mounts = {m["Destination"]: m for m in attrs["Mounts"]}
        assert mounts["/var/lib/smartcar/data"]["Type"] == "volume"  # its own filesystem
    assert hostnames == {"broker-0", "broker-1", "broker-2"} and len(addresses) == 3


def test_pilot_passes_every_stage_with_the_agent_in_a_container(home: str) -> None:
    result = labctl("pilot", "--home", home, "--cars", "5", "--duration", "10", "--seed", "11")
    text = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "pilot PASSED" in text and "FAIL" not in text
    agent = json.loads(labctl("agent", "status", "--json", "--home", home).stdout)
    assert agent["where"].startswith("container ")
    assert int(agent["metrics"]["SINK.DriverCarInfo_KafkaSink"]["EventDrainSuccessCount"]) > 0
    log = Path(home) / "logs" / "agent.log"  # written by the container, read on the host
    assert "agent SmartCar_Agent started from /lab/agent.conf" in log.read_text()


def test_cli_talks_to_the_containers(home: str) -> None:
    assert labctl("topics", "--create", "tour", "--home", home).returncode == 0
    assert "tour" in labctl("topics", "--home", home).stdout.split()
    sent = labctl("produce", "tour", "--home", home, stdin="one\ntwo\nthree\n")
    assert sent.returncode == 0, sent.stderr
    got = labctl("consume", "tour", "--from-beginning", "--max-messages", "3", "--home", home)
    assert got.stdout.split() == ["one", "two", "three"]
    broker_log = labctl("logs", "broker-1", "--home", home)
    assert broker_log.returncode == 0 and "KafkaServer id=1] started" in broker_log.stdout
    assert labctl("logs", "zookeeper", "--home", home).returncode == 0
    assert "started from" in labctl("logs", "agent", "--home", home).stdout


def test_docker_kill_of_a_broker_acks_all_goes_on_and_up_brings_it_back(
    engine: docker.DockerClient, home: str
) -> None:
    cluster = Cluster.open(LabPaths(Path(home)))
    cluster.create_topic("drill")  # RF 3, min ISR 2, like SmartCar-Topic
    before = [b"before-%d" % i for i in range(100)]
    assert produce_all(cluster, "drill", before) == []
    leader = cluster.admin().list_topics(timeout=10).topics["drill"].partitions[0].leader
    victim = engine.containers.get(container_name(project_name(home), f"broker-{leader}"))
    victim.kill()  # `docker kill`: SIGKILL, no controlled shutdown
    victim.reload()
    assert victim.status == "exited"
    after = [b"after-%d" % i for i in range(100)]
    assert produce_all(cluster, "drill", after) == []  # two of three replicas in sync
    again = labctl("up", "--home", home)  # a second `up` brings the broker back
    assert again.returncode == 0, again.stderr
    status = json.loads(labctl("status", "--json", "--home", home).stdout)
    assert all(c["state"] == "running" for c in status["components"])
    assert read_all(cluster, "drill", 200) == before + after
    metadata = cluster.admin().list_topics(timeout=10).topics["drill"].partitions[0]
    assert sorted(metadata.isrs) == [0, 1, 2]


def test_down_leaves_no_container_or_network_and_purge_no_volume(
    engine: docker.DockerClient, home: str
) -> None:
    down = labctl("down", "--home", home)
    assert down.returncode == 0, down.stderr
    assert down.stdout.split()[:2] == ["stopped:", "agent,"]  # the agent goes first
    left = mine(engine, home)
    assert left["containers"] == [] and left["networks"] == []
    assert len(left["volumes"]) == 4  # data kept for the next `up`
    purge = labctl("down", "--purge", "--home", home)
    assert purge.returncode == 0, purge.stderr
    assert mine(engine, home) == {"containers": [], "networks": [], "volumes": []}
