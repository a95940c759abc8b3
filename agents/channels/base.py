"""Channel contract: transactions that put or take batches, then commit or roll back.

A source puts a batch in a transaction and commits; a sink takes a batch, delivers it, and
commits only after its destination accepted it, or rolls back so the events are taken again.
Several transactions of one sink may be open at once (a Kafka sink keeps batches in flight);
they must be committed or rolled back in the order they were opened.
"""

from __future__ import annotations

import enum
from types import TracebackType

from agents.acks import Ack
from agents.component import Component
from agents.event import EventBatch


class TxState(enum.Enum):
    OPEN = "open"
    COMMITTED = "committed"
    ROLLED_BACK = "rolled back"


class TransactionStateError(RuntimeError):
    """A move the transaction's state does not allow (a put after its commit, a commit after
    its rollback): a bug in the caller, never retried."""


class Transaction:
    """One unit of work on a channel. Use as a context manager: an exception rolls back.

    Its state machine: ``open -> committed | rolled back``, then closed once. While open it
    puts or takes; ``commit`` ends it committed (a commit that raises leaves it open, to be
    rolled back); ``rollback`` ends it rolled back; ``close`` rolls back an open one and closes
    it. Refused with ``TransactionStateError``: a put or take once it is no longer open, and a
    commit after a rollback (the caller would believe lost work safe). Allowed and doing
    nothing: a commit after a commit, a rollback once it has ended (cleanup paths roll back
    whatever is still pending), a second close.

    A channel's transaction implements ``_put``, ``_take``, ``_commit`` and ``_rollback``;
    this class checks the moves.
    """

    __slots__ = ("_closed", "_state")

    def __init__(self) -> None:
        self._state = TxState.OPEN
        self._closed = False

    @property
    def state(self) -> TxState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, batch: EventBatch, ack: Ack | None = None) -> None:
        """Add *batch*; *ack* (if given) is counted down as sinks commit its events."""
        self._require_open("put")
        self._put(batch, ack)

    def take(self, max_events: int, timeout: float | None = None) -> EventBatch:
        """Up to *max_events*, waiting at most *timeout* s for the first; empty if none came."""
        self._require_open("take")
        return self._take(max_events, timeout)

    def commit(self) -> None:
        if self._state is TxState.COMMITTED:
            return
        self._require_open("commit")
        self._commit()
        self._state = TxState.COMMITTED

    def rollback(self) -> None:
        if self._state is not TxState.OPEN:
            return
        self._state = TxState.ROLLED_BACK
        self._rollback()

    def close(self) -> None:
        """End the transaction; rolls back if neither commit nor rollback was called."""
        if self._closed:
            return
        self.rollback()
        self._closed = True

    def _require_open(self, move: str) -> None:
        if self._state is not TxState.OPEN or self._closed:
            now = "closed" if self._closed and self._state is TxState.OPEN else self._state.value
            raise TransactionStateError(f"cannot {move}: the transaction is {now}")

    def _put(self, batch: EventBatch, ack: Ack | None) -> None:
        raise NotImplementedError

    def _take(self, max_events: int, timeout: float | None) -> EventBatch:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.rollback()
        self.close()


class Channel(Component):
    KIND = "CHANNEL"
    DURABLE = False  # what it holds at stop survives the process (the file channel)

    @property
    def transaction_capacity(self) -> int | None:
        """Most events one transaction may hold; None for no limit."""
        return None

    def transaction(self) -> Transaction:
        raise NotImplementedError

    def interrupt_takes(self) -> None:
        """Make a take waiting on another thread return at once (a stopping sink's)."""

    def size(self) -> int:
        """Events stored and not yet taken (committed puts minus committed takes, roughly)."""
        raise NotImplementedError

    def wait_drained(self, timeout: float) -> bool:
        """Wait up to *timeout* s until nothing is stored (sinks took it all); True if so.

        Acks (``agents.acks``): a channel counts a put's events into its ack when it takes
        them, and out when they are safe: a memory channel when a sink committed the take.
        """
        raise NotImplementedError
