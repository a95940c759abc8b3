"""Coordination shapes beyond the book's: a 3-server ZooKeeper ensemble and KRaft."""

from __future__ import annotations

from collections.abc import Callable

from labctl.cluster import Cluster
from tests.labctl.test_cluster import produce_all, read_all


def test_kraft_quorum_round_trip(lab_factory: Callable[..., Cluster]) -> None:
    cluster = lab_factory(brokers=3, mode="kraft", quorum=1)
    assert cluster.spec.quorum_names == ["controller-0"]
    assert cluster.quorum_health()[0] == 1
    metadata = cluster.admin().list_topics(timeout=10)
    assert sorted(metadata.brokers) == [0, 1, 2]
    values = [b"kraft-%d" % i for i in range(50)]
    assert produce_all(cluster, "SmartCar-Topic", values) == []
    assert read_all(cluster, "SmartCar-Topic", len(values)) == values


def test_three_zookeepers_form_an_ensemble(lab_factory: Callable[..., Cluster]) -> None:
    cluster = lab_factory(brokers=1, quorum=3)
    modes = [cluster.zk_four_letters("srvr", port) for port in cluster.spec.quorum_ports]
    roles = sorted(line.split(": ")[1] for m in modes for line in m.splitlines()
                   if line.startswith("Mode:"))  # fmt: skip
    assert roles == ["follower", "follower", "leader"]
    assert produce_all(cluster, "SmartCar-Topic", [b"ensemble"]) == []
