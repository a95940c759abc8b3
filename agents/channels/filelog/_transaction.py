"""A file-channel transaction (``FileTransaction``) and the unit it takes (``_Slice``: events
[start, end) of one PUT record). The transaction keeps ``Transaction``'s state machine and
leaves the queue, the log and the counts to the store (``_Store``: what it uses of
``FileChannelStore``)."""

from __future__ import annotations

from typing import Protocol

from agents.acks import Ack
from agents.channels.base import Transaction, TransactionStateError
from agents.channels.filelog._checkpoint import Slice
from agents.channels.filelog._config import FileChannelConfig
from agents.channels.filelog._records import encode_batch
from agents.errors import ChannelFullError
from agents.event import EventBatch


class _Slice:
    __slots__ = ("batch", "cached", "end", "off", "seg", "start")

    def __init__(
        self, seg: int, off: int, start: int, end: int, batch: EventBatch | None, cached: int
    ) -> None:
        self.seg, self.off, self.start, self.end = seg, off, start, end
        self.batch = batch  # the whole record's events, when cached in memory
        self.cached = cached  # payload bytes this slice accounts for in the cache

    def split(self, n: int) -> _Slice:
        """Cut off and return the first *n* events; self keeps the rest."""
        share = self.cached * n // (self.end - self.start)
        head = _Slice(self.seg, self.off, self.start, self.start + n, self.batch, share)
        self.start += n
        self.cached -= share
        return head

    def key(self) -> Slice:
        return self.seg, self.off, self.start, self.end


class _Store(Protocol):
    """What a transaction uses of its store (``FileChannelStore``)."""

    name: str
    config: FileChannelConfig
    counts: dict[str, int]

    def check_open(self) -> None: ...
    def _take(self, tx: FileTransaction, limit: int, timeout: float | None) -> list[_Slice]: ...
    def _events(self, slices: list[_Slice]) -> EventBatch: ...
    def _commit_puts(self, puts: list[tuple[bytes, EventBatch]], n: int) -> None: ...
    def _commit_takes(self, tx: FileTransaction, slices: list[_Slice]) -> None: ...
    def _rollback_takes(self, tx: FileTransaction, slices: list[_Slice]) -> None: ...


class FileTransaction(Transaction):
    """Either puts or takes, then commit or rollback once (``Transaction``'s state machine).
    Puts are encoded when made and reach the disk at commit; takes hold their events (counted
    against capacity) until commit deletes them or rollback returns them, in order, to the head
    of the channel. A put needs no acknowledgement count (*ack* is unused): it is safe once
    committed."""

    __slots__ = ("_put_events", "_puts", "_store", "_taken_events", "_takes")

    def __init__(self, store: _Store) -> None:
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
