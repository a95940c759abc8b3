"""Shared fixtures: real ZooKeeper and Kafka brokers in temporary lab homes on free ports.

- ``kafka_cluster`` (session): ZooKeeper + 3 brokers, ``SmartCar-Topic`` created (RF 3).
- ``lab_factory`` (function): ``lab_factory(brokers=1, partitions=1, mode="zookeeper",
  quorum=1)`` -> a ready ``Cluster`` of its own, stopped after the test.
Both are lazy: a session that uses neither starts no JVM. They never touch ./.lab or the
book's ports (2181, 9092).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labctl.cluster import Cluster, ClusterSpec, TopicSpec, port_free
from labctl.paths import LabPaths

SHARED = Path(__file__).resolve().parents[2] / "shared"


def free_port_block(size: int) -> int:
    """The first of ``size`` consecutive free ports in a range the book's ports are not in."""
    for _ in range(200):
        base = random.randrange(20000, 40000)
        if all(port_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports found")


def start_cluster(
    home: Path, brokers: int, partitions: int = 1, mode: str = "zookeeper", quorum: int = 1
) -> Cluster:
    base = free_port_block(brokers + quorum)
    spec = ClusterSpec(brokers, base, base + quorum, TopicSpec(partitions=partitions),
                       mode=mode, quorum=quorum)  # fmt: skip
    cluster = Cluster(LabPaths(home), spec)
    try:
        cluster.up()
    except BaseException:
        cluster.down(purge=False, timeout=5)
        raise
    return cluster


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("lab") / "home", brokers=3)
    yield cluster
    cluster.down(timeout=10)


@pytest.fixture
def lab_factory(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    started: list[Cluster] = []

    def make(
        brokers: int = 1, partitions: int = 1, mode: str = "zookeeper", quorum: int = 1
    ) -> Cluster:
        cluster = start_cluster(tmp_path / f"lab{len(started)}", brokers, partitions, mode,
                                quorum)  # fmt: skip
        started.append(cluster)
        return cluster

    yield make
    for cluster in started:
        cluster.down(timeout=10)
