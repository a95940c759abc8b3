"""Channel contract: transactions that put or take batches, then commit or roll back.

A source puts a batch in a transaction and commits; a sink takes a batch, delivers it, and
commits only after its destination accepted it, or rolls back so the events are taken again.
Several transactions of one sink may be open at once (a Kafka sink keeps batches in flight);
they must be committed or rolled back in the order they were opened.
"""

from __future__ import annotations

from types import TracebackType

from agents.acks import Ack
from agents.component import Component
from agents.event import EventBatch


class Transaction:
    """One unit of work on a channel. Use as a context manager: an exception rolls back."""

    def put(self, batch: EventBatch, ack: Ack | None = None) -> None:
        """Add *batch*; *ack* (if given) is counted down as sinks commit its events."""
        raise NotImplementedError

    def take(self, max_events: int, timeout: float | None = None) -> EventBatch:
        """Up to *max_events*, waiting at most *timeout* s for the first; empty if none came."""
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """End the transaction; rolls back if neither commit nor rollback was called."""
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
