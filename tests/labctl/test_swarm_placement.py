"""Where `labctl up --backend swarm` puts each server (pure logic: nodes as the manager lists
them); the deployment itself is tested on a simulated swarm in tests/docker/test_swarm_lab.py."""

from __future__ import annotations

import pytest

from labctl.backends.swarm import SwarmNode, place
from labctl.errors import UsageError

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
