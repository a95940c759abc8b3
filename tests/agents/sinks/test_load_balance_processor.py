"""The load_balance sink processor: calls go round the sinks (or in random order); a failed
sink's batch goes to the next sink at once, and with backoff the failed sink is left out for
a while. Every event is delivered once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.agent_helpers import put_events, running, wait_for
from tests.agents.sink_helpers import Recording


def group(selector: str = "round_robin", backoff: bool = False) -> str:
    sinks = "".join(
        f"a.sinks.{k}.type = tests.agents.sink_helpers.Recording\na.sinks.{k}.channel = c\n"
        f"a.sinks.{k}.batchSize = 10\n"
        for k in ("k1", "k2", "k3")
    )
    return (
        "a.channels = c\na.sinks = k1 k2 k3\na.channels.c.type = memory\n"
        "a.channels.c.capacity = 10000\na.channels.c.transactionCapacity = 1000\n"
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k1 k2 k3\n"
        "a.sinkgroups.g.processor.type = load_balance\n"
        f"a.sinkgroups.g.processor.selector = {selector}\n"
        f"a.sinkgroups.g.processor.backoff = {str(backoff).lower()}\n"
        "a.sinkgroups.g.processor.selector.maxTimeOut = 60000\n" + sinks
    )


@pytest.fixture(autouse=True)
def recording() -> Iterator[None]:
    Recording.reset()
    yield
    Recording.reset()


def bodies(n: int) -> list[bytes]:
    return [b"e%05d" % i for i in range(n)]


@pytest.mark.parametrize("selector", ["round_robin", "random"])
def test_calls_are_spread_over_the_sinks(tmp_path: Path, selector: str) -> None:
    with running(group(selector), state_dir=tmp_path) as agent:
        put_events(agent.channels["c"], bodies(600))
        assert wait_for(lambda: len(Recording.everything()) == 600)
    counts = [Recording.count(k) for k in ("k1", "k2", "k3")]
    assert all(n > 0 for n in counts), counts
    if selector == "round_robin":  # 60 batches of 10, taken in turn
        assert max(counts) - min(counts) <= 20, counts
    assert sorted(Recording.everything()) == bodies(600)


def test_a_failed_sink_is_skipped_and_with_backoff_left_out(tmp_path: Path) -> None:
    Recording.down.add("k2")
    with running(group(backoff=True), state_dir=tmp_path) as agent:
        put_events(agent.channels["c"], bodies(300))
        assert wait_for(lambda: len(Recording.everything()) == 300)
        k2 = agent.sinks["k2"]
        assert agent.health(k2).startswith("retrying: backed off (sink k2: k2 is down)")
        # left out with a growing penalty: it was tried once, not once per batch
        assert 1 <= k2.counters.get("RollbackCount") <= 2
    assert Recording.count("k2") == 0
    assert sorted(Recording.everything()) == bodies(300)


def test_load_balance_needs_two_sinks() -> None:
    from agents.config.properties import parse_properties
    from agents.config.topology import build_plan

    text = group().replace("g.sinks = k1 k2 k3", "g.sinks = k1")
    plan = build_plan(parse_properties(text, "lb.conf"), "a")
    assert any("a load_balance group needs at least 2" in str(p) for p in plan.problems)
    assert not plan.groups


def test_the_failure_count_starts_over_once_a_sink_worked_a_while(tmp_path: Path) -> None:
    """Flume's OrderSelector: a failure within the last penalty + 2 s is one more in a row
    (the penalty doubles); a later one starts over at 2 s (issue 19 item 5)."""
    from agents.sinks.processors import LoadBalancingSinkProcessor
    from tests.agents.agent_helpers import agent_from_text

    agent = agent_from_text(group(backoff=True), state_dir=tmp_path)
    proc = agent.groups["g"]
    assert isinstance(proc, LoadBalancingSinkProcessor)
    k2 = agent.sinks["k2"]
    penalties = []
    for now in (100.0, 102.5, 107.0, 150.0, 152.1):  # in a row x3, then much later, then again
        proc._left_out(k2, RuntimeError("down"), now)
        failures, until, _ = proc._out["k2"]
        penalties.append((failures, until - now))
    assert penalties == [(1, 2.0), (2, 4.0), (3, 8.0), (1, 2.0), (2, 4.0)]
