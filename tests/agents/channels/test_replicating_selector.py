"""The replicating selector: every channel takes every event; an optional channel's refusal
is logged and counted and never holds the required channels back."""

from __future__ import annotations

from pathlib import Path

from tests.agents.agent_helpers import running, take_all, wait_for


def test_a_full_optional_channel_does_not_hold_the_flow(tmp_path: Path) -> None:
    conf = (
        "a.sources = s\na.channels = main side\n"
        "a.sources.s.type = seq\na.sources.s.totalEvents = 300\na.sources.s.batchSize = 10\n"
        "a.sources.s.channels = main side\na.sources.s.selector.type = replicating\n"
        "a.sources.s.selector.optional = side\n"
        "a.channels.main.type = memory\na.channels.main.capacity = 1000\n"
        "a.channels.side.type = memory\na.channels.side.capacity = 50\n"
        "a.channels.side.keep-alive = 0\na.channels.side.transactionCapacity = 10\n"
    )
    with running(conf, state_dir=tmp_path) as agent:
        source = agent.sources["s"]
        assert wait_for(lambda: source.counters.get("EventAcceptedCount") == 300)
        main = take_all(agent.channels["main"], 300)
        side = take_all(agent.channels["side"], 50)
    assert [int(b) for b in main.bodies] == list(range(300))
    assert [int(b) for b in side.bodies] == list(range(50))  # it took what fitted, in order
    assert source.counters.get("OptionalChannelWriteFail") == 250


def test_a_full_required_channel_holds_the_source(tmp_path: Path) -> None:
    conf = (
        "a.sources = s\na.channels = c1 c2\n"
        "a.sources.s.type = seq\na.sources.s.totalEvents = 100\na.sources.s.batchSize = 10\n"
        "a.sources.s.channels = c1 c2\n"
        "a.channels.c1.type = memory\na.channels.c1.capacity = 1000\n"
        "a.channels.c2.type = memory\na.channels.c2.capacity = 30\na.channels.c2.keep-alive = 0\n"
        "a.channels.c2.transactionCapacity = 10\n"
    )
    with running(conf, state_dir=tmp_path) as agent:
        source = agent.sources["s"]
        assert wait_for(lambda: source.counters.get("ChannelWriteFail") > 0)
        assert agent.channels["c1"].size() == 40  # the batch c2 refused is in c1 once

        def drain_c2() -> bool:
            with agent.channels["c2"].transaction() as tx:
                tx.take(10, 0.05)
                tx.commit()
            return source.counters.get("EventAcceptedCount") == 100

        assert wait_for(drain_c2)
        c1 = take_all(agent.channels["c1"], 100)
    assert [int(b) for b in c1.bodies] == list(range(100))  # no duplicates in c1
