"""The avro sink between two of our agents: every event arrives once; while the next hop is
down or refuses, the sending channel keeps the events and they follow once it takes them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.agents.agent_helpers import running, take_all, wait_for
from tests.conftest import free_port_block


def sender(port: int, total: int) -> str:
    return (
        "a.sources = s\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = seq\na.sources.s.totalEvents = {total}\n"
        "a.sources.s.batchSize = 100\na.sources.s.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 100000\n"
        "a.channels.c.transactionCapacity = 100\n"
        f"a.sinks.k.type = avro\na.sinks.k.hostname = 127.0.0.1\na.sinks.k.port = {port}\n"
        "a.sinks.k.batch-size = 100\na.sinks.k.connect-timeout = 1000\n"
        "a.sinks.k.compression-type = deflate\na.sinks.k.channel = c\n"
    )


def receiver(port: int, capacity: int) -> str:
    return (
        "b.sources = r\nb.channels = c\nb.sources.r.type = avro\n"
        f"b.sources.r.port = {port}\nb.sources.r.compression-type = deflate\n"
        "b.sources.r.channels = c\nb.channels.c.type = memory\n"
        f"b.channels.c.capacity = {capacity}\nb.channels.c.transactionCapacity = 100\n"
        "b.channels.c.keep-alive = 0\n"
    )


def test_next_hop_down_then_full_then_everything_once(tmp_path: Path) -> None:
    port = free_port_block(1)
    with running(sender(port, 3000), state_dir=tmp_path / "a") as a:
        sink, channel = a.sinks["k"], a.channels["c"]
        assert wait_for(lambda: sink.counters.get("ConnectionFailedCount") >= 1)
        assert wait_for(lambda: a.sources["s"].counters.get("EventAcceptedCount") == 3000)
        assert channel.size() == 3000  # nothing left the sending channel
        with running(receiver(port, 1000), "b", state_dir=tmp_path / "b") as b:
            # the receiver fills at 1000 and answers FAILED: the sender keeps the rest
            assert wait_for(lambda: b.sources["r"].counters.get("ChannelWriteFail") > 0)
            assert channel.size() >= 1900  # (a batch may be out, being refused again)
            got: list[bytes] = []
            while len(got) < 3000:
                got.extend(take_all(b.channels["c"], min(1000, 3000 - len(got))).bodies)
            # before b stops: the last batch is taken from the channel before b answers it
            assert wait_for(lambda: sink.counters.get("EventDrainSuccessCount") == 3000)
            assert channel.size() == 0
        assert sink.counters.get("RollbackCount") >= 2  # down, then FAILED answers
    assert [int(b) for b in got] == list(range(3000))  # in order, each once


def test_stop_with_the_next_hop_down_does_not_wait_the_drain_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 23 item 5: the sink's last call failed, so stop does not wait 30 s for it; the
    events stay in the channel (a memory channel loses them at exit, and says so)."""
    port = free_port_block(1)
    with running(sender(port, 50)) as agent:
        assert wait_for(lambda: agent.sinks["k"].failing(), timeout=30)
        began = time.monotonic()
        agent.stop(drain_timeout=30)
        took = time.monotonic() - began
    assert took < 10, took  # a connect to a closed port fails at once; no 30 s drain
    # the sink's last call failed (or its runner backs off after it): it is not waited for
    assert "events in channel c: " in caplog.text
    assert "; a memory channel loses them" in caplog.text
