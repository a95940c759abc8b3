"""Shared fixtures: real ZooKeeper and Kafka brokers in temporary lab homes on free ports.

- ``kafka_cluster`` (session): ZooKeeper + 3 brokers, ``SmartCar-Topic`` created (RF 3).
- ``lab_factory`` (function): ``lab_factory(brokers=1, partitions=1, mode="zookeeper",
  quorum=1)`` -> a ready ``Cluster`` of its own, stopped after the test.
Both are lazy: a session that uses neither starts no JVM. They never touch ./.lab or the
book's ports (2181, 9092).

Markers (CONTRIBUTING.md): a test is marked ``kafka`` when it uses one of those fixtures or
lives in a folder whose tests all start a lab (``MARKED_FOLDERS``), ``docker`` (and ``kafka``:
the project image serves the lab's servers) when it needs the engine; a test that starts a
lab another way (``labctl up`` as a subprocess, Apache Flume) says so itself. So
``pytest -m "not kafka"`` is the fast part, and ``--collect-only -m kafka`` shows the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labctl.cluster import Cluster, ClusterSpec, TopicSpec, free_port_block
from labctl.paths import LabPaths

SHARED = Path(__file__).resolve().parents[2] / "shared"
TESTS = Path(__file__).resolve().parent
# Fixtures that start JVMs (or need the engine), and folders whose every test does.
MARKED_FIXTURES = {"kafka_cluster": ("kafka",), "lab_factory": ("kafka",),
                   "engine": ("docker", "kafka"), "lab_image": ("docker", "kafka")}  # fmt: skip
MARKED_FOLDERS = {"docker": ("docker", "kafka")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the fixtures it uses and the folder it lives in (see above)."""
    for item in items:
        names: set[str] = set()
        for fixture in getattr(item, "fixturenames", ()):
            names.update(MARKED_FIXTURES.get(fixture, ()))
        folder = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
        names.update(MARKED_FOLDERS.get(folder, ()))
        for name in sorted(names - {m.name for m in item.iter_markers()}):
            item.add_marker(name)


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
