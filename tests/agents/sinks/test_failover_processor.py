"""The failover sink processor: the sink of highest priority delivers; a failed one is set
aside and a standby takes over; after its penalty the failed sink is tried with a real batch
and takes over again. Nothing is lost or delivered twice (the sinks roll back whole batches)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.agent_helpers import config_problems, put_events, running, wait_for
from tests.agents.sink_helpers import Recording

GROUP = (
    "a.channels = c\na.sinks = k1 k2 k3\na.channels.c.type = memory\n"
    "a.channels.c.capacity = 10000\na.channels.c.transactionCapacity = 100\n"
    "a.sinkgroups = g\na.sinkgroups.g.sinks = k1 k2 k3\n"
    "a.sinkgroups.g.processor.type = failover\n"
    "a.sinkgroups.g.processor.priority.k1 = 10\na.sinkgroups.g.processor.priority.k2 = 5\n"
    "a.sinkgroups.g.processor.maxpenalty = 1000\n"
    + "".join(f"a.sinks.{k}.type = tests.agents.sink_helpers.Recording\na.sinks.{k}.channel = c\n"
              f"a.sinks.{k}.batchSize = 10\n" for k in ("k1", "k2", "k3"))
)  # fmt: skip


@pytest.fixture(autouse=True)
def recording() -> Iterator[None]:
    Recording.reset()
    yield
    Recording.reset()


def bodies(first: int, n: int) -> list[bytes]:
    return [b"e%05d" % i for i in range(first, first + n)]


def test_failover_to_the_next_priority_and_back(tmp_path: Path) -> None:
    with running(GROUP, state_dir=tmp_path) as agent:
        c = agent.channels["c"]
        k1, k2, k3 = (agent.sinks[k] for k in ("k1", "k2", "k3"))
        put_events(c, bodies(0, 50))
        assert wait_for(lambda: Recording.count("k1") == 50)
        assert Recording.count("k2") == Recording.count("k3") == 0
        assert wait_for(lambda: agent.health(k2) == "running: standby (priority 5)")
        assert agent.health(k3) == "running: standby (priority -1)"  # unset: below the set ones

        Recording.down.add("k1")  # the active sink's destination goes away
        put_events(c, bodies(50, 50))
        assert wait_for(lambda: Recording.count("k2") == 50)
        assert agent.health(k1).startswith("retrying: failed over (sink k1: k1 is down)")
        assert agent.health(k2) == "running"
        assert Recording.count("k3") == 0

        Recording.down.clear()  # back: after its penalty (at most maxpenalty) k1 takes over
        n = 100
        while Recording.count("k1") == 50 and n < 2000:
            put_events(c, bodies(n, 10))
            n += 10
            wait_for(lambda: c.size() == 0, timeout=1)
        assert Recording.count("k1") > 50, "k1 never took over again"
        assert wait_for(lambda: c.size() == 0)
        assert wait_for(lambda: agent.health(k2).startswith("running: standby"))
    assert sorted(Recording.everything()) == bodies(0, n)  # each once
    assert k1.counters.get("RollbackCount") >= 1


def test_every_sink_down_keeps_the_events_until_one_is_back(tmp_path: Path) -> None:
    Recording.down.update({"k1", "k2", "k3"})
    with running(GROUP, state_dir=tmp_path) as agent:
        c = agent.channels["c"]
        put_events(c, bodies(0, 30))
        k3 = agent.sinks["k3"]
        assert wait_for(lambda: agent.health(k3).startswith("retrying: failed over"))
        assert c.size() == 30  # every sink failed: the events wait in the channel
        Recording.down.discard("k3")
        assert wait_for(lambda: Recording.count("k3") == 30)
    assert sorted(Recording.everything()) == bodies(0, 30)


def problems(text: str) -> str:
    return config_problems(text, "g.conf")


def test_bad_groups_are_reported_with_line_and_key() -> None:
    same = GROUP.replace("priority.k2 = 5", "priority.k2 = 10")
    assert "g.conf:10: a.sinkgroups.g.processor.priority.k2: is 10, the same as sink k1's" in (
        problems(same)
    )
    unknown = GROUP.replace("priority.k2 = 5", "priority.k9 = 5")
    assert "priority.k9: names sink 'k9', which is not in this group" in problems(unknown)
    missing = GROUP.replace("g.sinks = k1 k2 k3", "g.sinks = k1 k4")
    text = problems(missing)
    assert "a.sinkgroups.g.sinks: names sink(s) k4 that are not defined" in text
    assert "Flume leaves out k4; --lenient runs it" in text
    typo = GROUP.replace("processor.type = failover", "processor.type = failovr")
    assert "unknown processor type 'failovr'" in problems(typo)
    assert "did you mean 'failover'?" in problems(typo)
    bad_key = GROUP + "a.sinkgroups.g.processor.maxpenaltty = 5\n"
    assert "processor.maxpenaltty: is not a property" in problems(bad_key)
    twice = GROUP + "a.sinkgroups = g h\na.sinkgroups.h.sinks = k1\n"
    assert "names sink 'k1', already in sink group 'g'" in problems(twice)
