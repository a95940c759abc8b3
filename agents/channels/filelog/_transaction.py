"""A file-channel transaction: either puts or takes, then commit or rollback once
(``agents.channels.base.Transaction``'s state machine).

Puts are encoded when made and reach the disk at commit; takes hold their events (counted
against capacity) until commit deletes them or rollback returns them, in order, to the head
of the channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.acks import Ack
from agents.channels.base import Transaction, TransactionStateError
from agents.channels.filelog._records import encode_batch
from agents.errors import ChannelFullError
from agents.event import EventBatch

if TYPE_CHECKING:
    from agents.channels.filelog._store import FileChannelStore, _Slice


class FileTransaction(Transaction):
    """A put needs no acknowledgement count (*ack* is unused): it is safe once committed."""

    __slots__ = ("_put_events", "_puts", "_store", "_taken_events", "_takes")

    def __init__(self, store: FileChannelStore) -> None:
        store.check_open()
        super().__init__()
        self._store = store
        self._puts: list[tuple[bytes, EventBatch]] = []
        self._put_events = 0
        self._takes: list[_Slice] = []
        self._taken_events = 0

    def _put(self, batch: EventBatch, ack: Ack | None) -> None:
        store = self._store
        if self._takes:
            raise TransactionStateError("a file-channel transaction puts or takes, not both")
        n = len(batch)
        if self._put_events + n > store.config.transaction_capacity:
            raise ChannelFullError(
                f"a put of {self._put_events + n} events exceeds channel {store.name}'s "
                f"transactionCapacity ({store.config.transaction_capacity})"
            )
        store.counts["EventPutAttemptCount"] += n
        if n:
            self._puts.append((encode_batch(batch), batch))
            self._put_events += n

    def _take(self, max_events: int, timeout: float | None) -> EventBatch:
        """Up to *max_events* (within transactionCapacity), waiting up to *timeout* s."""
        store = self._store
        if self._puts:
            raise TransactionStateError("a file-channel transaction puts or takes, not both")
        limit = min(max_events, store.config.transaction_capacity - self._taken_events)
        if limit <= 0:
            store.counts["EventTakeAttemptCount"] += 1
            return EventBatch()
        slices = store._take(self, limit, timeout)
        self._takes.extend(slices)
        n = sum(s.end - s.start for s in slices)
        self._taken_events += n
        # as Flume counts its take() calls: one per event, and one more that found none
        store.counts["EventTakeAttemptCount"] += n + (n < limit)
        return store._events(slices) if slices else EventBatch()

    def _commit(self) -> None:
        """Durable when it returns (``fsyncPerTransaction``); raises and stays open on error."""
        if self._puts:
            self._store._commit_puts(self._puts, self._put_events)
        elif self._takes:
            self._store._commit_takes(self, self._takes)

    def _rollback(self) -> None:
        if self._takes:
            self._store._rollback_takes(self, self._takes)
