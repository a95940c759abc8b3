"""Shared fixtures: real ZooKeeper and Kafka brokers in temporary lab homes on free ports.

- ``kafka_cluster`` (session): ZooKeeper + 3 brokers, ``SmartCar-Topic`` created (RF 3).
- ``lab_factory`` (function): ``lab_factory(brokers=1, partitions=1, mode="zookeeper",
  quorum=1)`` -> a ready ``Cluster`` of its own, stopped after the test.
Both are lazy: a session that uses neither starts no JVM. They never touch ./.lab or the
book's ports (2181, 9092).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labctl.cluster import Cluster, ClusterSpec, TopicSpec, free_port_block
from labctl.paths import LabPaths

SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared(*parts: str) -> Path:
    """A path under ../shared (the pilot's facts), or a clear failure when it is not there:
    never a silent skip (a parametrized test over a missing folder would collect as NOTSET)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need ../shared (the pilot's facts, with "
                    "book-conf/) beside the repository", pytrace=False)  # fmt: skip
    return path


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


__all__ = ["SHARED", "free_port_block", "shared", "start_cluster"]
