"""Issue 19 item 4: every channel's transaction keeps one state machine (open -> committed |
rolled back, closed once) and refuses illegal moves with a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.channels.base import Channel, TransactionStateError, TxState
from agents.event import EventBatch
from tests.agents.agent_helpers import agent_from_text


@pytest.fixture(params=["memory", "file"])
def channel(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Channel]:
    agent = agent_from_text(
        "a.sinks = k\na.channels = c\na.sinks.k.type = null\na.sinks.k.channel = c\n"
        f"a.channels.c.type = {request.param}\n",
        state_dir=tmp_path,
    )
    ch = agent.channels["c"]
    ch.start()
    yield ch
    ch.stop()


def test_a_committed_transaction_refuses_more_work_and_ignores_cleanup(channel: Channel) -> None:
    tx = channel.transaction()
    states = [tx.state]
    tx.put(EventBatch([b"a"]))
    tx.commit()
    states.append(tx.state)
    assert states == [TxState.OPEN, TxState.COMMITTED]
    with pytest.raises(TransactionStateError, match="cannot put: the transaction is committed"):
        tx.put(EventBatch([b"b"]))
    with pytest.raises(TransactionStateError, match="cannot take"):
        tx.take(1, 0)
    tx.commit()  # again: nothing to do
    tx.rollback()  # cleanup after the end: nothing to undo, the put stays
    tx.close()
    tx.close()
    assert tx.closed and tx.state is TxState.COMMITTED
    assert channel.size() == 1


def test_a_rolled_back_transaction_refuses_a_commit(channel: Channel) -> None:
    tx = channel.transaction()
    tx.put(EventBatch([b"a"]))
    tx.rollback()
    with pytest.raises(TransactionStateError, match="cannot commit: the transaction is rolled"):
        tx.commit()
    tx.close()
    assert channel.size() == 0


def test_close_rolls_back_an_open_take_and_a_closed_one_refuses_work(channel: Channel) -> None:
    with channel.transaction() as tx:
        tx.put(EventBatch([b"a", b"b"]))
        tx.commit()
    tx = channel.transaction()
    assert tx.take(10, 0).bodies == [b"a", b"b"]
    tx.close()
    assert tx.state is TxState.ROLLED_BACK and tx.closed
    with pytest.raises(TransactionStateError, match="cannot take: the transaction is rolled"):
        tx.take(1, 0)
    with channel.transaction() as again:  # the rolled-back events are back, in order
        assert again.take(10, 0).bodies == [b"a", b"b"]
        again.commit()


def test_a_transaction_puts_or_takes_not_both(channel: Channel) -> None:
    with channel.transaction() as tx:
        tx.put(EventBatch([b"a"]))
        tx.commit()
    with channel.transaction() as tx:
        tx.take(1, 0)
        with pytest.raises(TransactionStateError):
            (tx.put(EventBatch([b"b"])) if channel.TYPE == "file" else tx.take(1, 0))
        tx.rollback()
