"""Where `labctl up --backend swarm` puts each server (pure logic: nodes as the manager lists
them) and the stack's healthchecks; the deployment itself is tested on a simulated swarm in
tests/docker/test_swarm_lab.py."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from labctl.backends.swarm import SwarmBackend, SwarmNode, place, place_agent
from labctl.errors import UsageError
from labctl.kafka.config import SESSION_TIMEOUT_MS
from labctl.paths import LabPaths
from labctl.spec import ClusterSpec

SERVERS = ["zookeeper", "broker-0", "broker-1", "broker-2"]
BROKERS = SERVERS[1:]


def nodes(*names: str, labels: dict[str, dict[str, str]] | None = None) -> list[SwarmNode]:
    return [SwarmNode(f"id-{n}", n, f"10.0.0.{i}", (labels or {}).get(n, {}))
            for i, n in enumerate(names, 1)]  # fmt: skip


def hosts(placed: dict[str, SwarmNode]) -> dict[str, str]:
    return {server: node.hostname for server, node in placed.items()}


def test_spread_in_host_name_order() -> None:
    placed = place(SERVERS, BROKERS, nodes("server03", "server01", "server02"), False)
    assert hosts(placed) == {"zookeeper": "server01", "broker-0": "server01",
                             "broker-1": "server02", "broker-2": "server03"}  # fmt: skip


def test_a_label_the_user_set_wins() -> None:
    labelled = nodes("a", "b", "c", labels={"c": {"smartcar-lab.broker-0": "true"},
                                            "a": {"smartcar-lab.broker-2": "true"}})  # fmt: skip
    assert hosts(place(SERVERS, BROKERS, labelled, False))["broker-0"] == "c"


def test_fewer_nodes_than_brokers_is_one_sentence() -> None:
    with pytest.raises(UsageError, match=r"2 ready node\(s\) \(a, b\) for 3 brokers"):
        place(SERVERS, BROKERS, nodes("a", "b"), False)
    placed = place(SERVERS, BROKERS, nodes("a", "b"), True)
    assert hosts(placed)["broker-2"] == "a"


def test_a_label_on_two_nodes_names_both() -> None:
    twice = nodes("a", "b", "c", labels={"a": {"smartcar-lab.broker-1": "true"},
                                         "c": {"smartcar-lab.broker-1": "true"}})  # fmt: skip
    with pytest.raises(UsageError, match=r"smartcar-lab.broker-1=true is on 2 nodes \(a, c\)"):
        place(SERVERS, BROKERS, twice, False)


def test_labels_putting_brokers_together_need_allow_colocated() -> None:
    together = nodes("a", "b", "c", labels={"a": {"smartcar-lab.broker-1": "true"}})
    with pytest.raises(UsageError, match="broker-1 on a"):
        place(SERVERS, BROKERS, together, False)
    assert hosts(place(SERVERS, BROKERS, together, True))["broker-1"] == "a"


def test_no_node_at_all() -> None:
    with pytest.raises(UsageError, match="no ready node"):
        place(SERVERS, BROKERS, [], False)


def test_swarm_probes_are_slower_than_a_zookeeper_session(tmp_path: Path) -> None:
    """Swarm restarts a task whose healthcheck fails `retries` times in a row: in the stack,
    that takes longer than a broker's ZooKeeper session, however quick the Docker backend's
    own ZooKeeper probe is."""
    stack = SwarmBackend(LabPaths(tmp_path), ClusterSpec(backend="swarm")).stack()
    for name, service in stack["services"].items():
        check = service["healthcheck"]
        interval = int(check["interval"].rstrip("s"))
        assert interval >= 5 and interval * check["retries"] * 1000 > SESSION_TIMEOUT_MS, name


def test_agents_reading_files_share_the_home_node_and_aggregators_spread() -> None:
    """flume-4: collectors on the first home node, aggregator 5 and 6 each on another."""
    three = nodes("host2", "host0", "host1")
    assert place_agent("agent-flume-4-c1", False, three, Counter()).hostname == "host0"
    agg5 = place_agent("agent-flume-4-agg5", True, three, Counter({"id-host0": 4}))
    assert agg5.hostname == "host1"
    agg6 = place_agent("agent-flume-4-agg6", True, three, Counter({"id-host0": 4, agg5.id: 1}))
    assert agg6.hostname == "host2"


def test_an_agents_own_label_and_the_home_label_win() -> None:
    labelled = nodes("host0", "host1", "host2", labels={
        "host2": {"smartcar-lab.agent-flume-4-agg5": "true"},
        "host1": {"smartcar-lab.home": "true"}})  # fmt: skip
    assert place_agent("agent-flume-4-agg5", True, labelled, Counter()).hostname == "host2"
    assert place_agent("agent", False, labelled, Counter()).hostname == "host1"
    # one node holds the home: an agent that runs apart has nowhere else to go
    assert place_agent("agent-flume-4-agg6", True, labelled, Counter()).hostname == "host1"
    with pytest.raises(UsageError, match="no ready node"):
        place_agent("agent", False, [], Counter())
