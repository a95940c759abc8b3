"""Issue 23 item 6: EventTakeAttemptCount counts as Flume's channels count it.

Flume's sinks call ``take()`` once per event until the batch is full or a take finds nothing,
and the channel counts every call (MemoryChannel/FileChannel ``doTake``). So a batch of n
events out of a limit of b is n attempts when n == b, else n + 1; a take that finds nothing
is one attempt.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agents.agent_helpers import agent_from_text, put_events


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_take_attempts_count_events_and_the_take_that_found_none(kind: str, tmp_path: Path) -> None:
    extra = (f"a.channels.c.checkpointDir = {tmp_path}/cp\na.channels.c.dataDirs = {tmp_path}/d\n"
             if kind == "file" else "")  # fmt: skip
    agent = agent_from_text(
        "a.sinks = k\na.channels = c\na.sinks.k.type = null\na.sinks.k.channel = c\n"
        f"a.channels.c.type = {kind}\na.channels.c.capacity = 1000\n"
        f"a.channels.c.transactionCapacity = 100\n{extra}",
        state_dir=tmp_path,
    )
    channel = agent.channels["c"]
    channel.start()
    try:
        taken = []
        for bodies in (100, 30, 0):  # a full batch, a short one, none
            if bodies:
                put_events(channel, [b"x"] * bodies)
            with channel.transaction() as tx:
                taken.append(len(tx.take(100, 0)))
                tx.commit()
        assert taken == [100, 30, 0]
        assert channel.counters.get("EventTakeAttemptCount") == 100 + (30 + 1) + 1
        assert channel.counters.get("EventTakeSuccessCount") == 130
    finally:
        channel.stop()
