"""`up` after a restart leaves every partition on its preferred leader, before anyone writes.

Otherwise Kafka's controller moves leadership back by itself 5 s after it is elected, and
under the book's requiredAcks = 1 the records only the old leader had are cut from the log
(the pilot lost 100-300 driving records that way after `labctl down` + `make pilot`).
"""

from __future__ import annotations

from collections.abc import Callable

from labctl.cluster import Cluster
from labctl.pilot.collection import lost_why


def leaders_and_preferred(cluster: Cluster) -> dict[int, tuple[int, int]]:
    topic = cluster.spec.topic.name
    parts = cluster.admin().list_topics(topic, timeout=10).topics[topic].partitions
    return {pid: (p.leader, p.replicas[0]) for pid, p in parts.items()}


def test_up_after_a_restart_settles_every_partition_on_its_preferred_leader(
    lab_factory: Callable[..., Cluster],
) -> None:
    cluster = lab_factory(brokers=3, partitions=3)
    cluster.down(timeout=10)
    cluster.up()
    leaders = leaders_and_preferred(cluster)
    assert len(leaders) == 3
    assert all(leader == preferred for leader, preferred in leaders.values()), leaders


def test_missing_records_are_explained_by_a_moved_leader() -> None:
    hint = lost_why({0: 0, 1: 1}, {0: 1, 1: 1}, agent_alive=True)
    assert "partition 0: broker 0 -> 1" in hint and "requiredAcks" in hint
    assert "agent stopped" in lost_why({0: 0}, {0: 1}, agent_alive=False)
    assert lost_why({0: 0}, {0: 0}, agent_alive=True) == "records were lost between log and topic"


def test_up_after_every_server_was_killed_waits_out_the_old_registrations(
    lab_factory: Callable[..., Cluster],
) -> None:
    """Killed brokers stay registered in ZooKeeper until their sessions expire, and a
    restarted ZooKeeper restores those sessions before it serves: `up` must wait for both,
    or each broker dies at start-up with NodeExists."""
    cluster = lab_factory(brokers=3, partitions=3)
    for name in [*cluster.spec.broker_names, *cluster.spec.quorum_names]:
        cluster.kill(name)  # returns once the process and its ports are gone
    said: list[str] = []
    cluster.up(progress=said.append)
    assert any("expire broker-" in line for line in said), said
    assert len(cluster.admin().list_topics(timeout=10).brokers) == 3
