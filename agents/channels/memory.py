"""The memory channel: Flume's MemoryChannel semantics over a queue of batches.

Capacity counts events that are stored *or taken but not yet committed* (as Flume's does), so
a sink's in-flight batches keep their slots until Kafka acknowledged them. A put that finds no
room waits up to ``keep-alive`` seconds, then fails with ChannelFullError: the source retries,
nothing is dropped. A rolled-back take goes back to the head of the queue, in order.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from agents.acks import Ack
from agents.channels.base import Channel, Transaction, TransactionStateError
from agents.config.context import Context
from agents.config.settings import Settings, prop
from agents.errors import ChannelClosedError, ChannelFullError
from agents.event import EventBatch


@dataclass(frozen=True, kw_only=True)
class MemorySettings(Settings):
    capacity: int = prop(
        "capacity",
        "int",
        100,
        "Most events stored (taken-but-uncommitted included).",
        minimum=1,
        fallback=True,
    )
    transaction_capacity: int = prop(
        "transactionCapacity",
        "int",
        100,
        "Most events one put or take transaction holds.",
        minimum=1,
        fallback=True,
    )
    byte_capacity: int = prop(
        "byteCapacity",
        "bytes",
        0,
        "Most body bytes stored; 0 means no byte limit (Flume: 80% of the JVM heap).",
        fallback=True,
    )
    byte_capacity_buffer_percentage: int = prop(
        "byteCapacityBufferPercentage",
        "int",
        20,
        "Share of byteCapacity reserved for headers, as Flume counts it.",
        minimum=0,
        fallback=True,
    )
    keep_alive: float = prop(
        "keep-alive",
        "float",
        3.0,
        "Seconds a put waits for room, or a take for an event, before giving up.",
        minimum=0,
        fallback=True,
    )


class MemoryChannel(Channel):
    TYPE = "memory"
    SETTINGS = MemorySettings
    PROPERTIES = MemorySettings.props()
    settings: MemorySettings

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._cond = threading.Condition()
        self._queue: deque[tuple[EventBatch, Ack | None]] = deque()
        self._stored = 0  # events in the queue
        self._taken = 0  # events taken, not yet committed
        self._bytes = 0  # body bytes stored or taken
        self._closed = False
        self._interrupts = 0  # interrupt_takes() so far

    def setup(self, context: Context) -> None:
        conf = self.settings
        if conf.transaction_capacity > conf.capacity:
            context.problem(
                "transactionCapacity",
                f"({conf.transaction_capacity}) exceeds capacity ({conf.capacity})",
                "make it at most capacity",
                flume=context.removes,
            )
        pct = conf.byte_capacity_buffer_percentage
        self._byte_limit = int(conf.byte_capacity * (100 - pct) / 100)
        self.counters.set("ChannelCapacity", conf.capacity)

    @property
    def transaction_capacity(self) -> int:
        return self.settings.transaction_capacity

    def start(self) -> None:
        with self._cond:
            self._closed = False
        super().start()

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        super().stop()

    def size(self) -> int:
        return self._stored

    def interrupt_takes(self) -> None:
        with self._cond:
            self._interrupts += 1
            self._cond.notify_all()

    def wait_drained(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._stored == 0 or self._closed, timeout)

    def transaction(self) -> MemoryTransaction:
        if self._closed:
            raise ChannelClosedError(f"channel {self.name} is stopped")
        return MemoryTransaction(self)

    # Called by MemoryTransaction under no lock.
    def _commit_put(
        self, batches: list[tuple[EventBatch, Ack | None]], events: int, nbytes: int
    ) -> None:
        keep_alive = self.settings.keep_alive
        capacity = self.settings.capacity
        with self._cond:
            fits = self._cond.wait_for(
                lambda: (
                    self._closed
                    or (
                        self._stored + self._taken + events <= capacity
                        and (
                            not self._byte_limit
                            or self._bytes + nbytes <= self._byte_limit
                            or self._bytes == 0
                        )
                    )
                ),
                timeout=keep_alive,
            )
            if self._closed:
                raise ChannelClosedError(f"channel {self.name} is stopping")
            if not fits:
                raise ChannelFullError(
                    f"channel {self.name} is full ({self._stored + self._taken} of {capacity} "
                    f"events); a sink is not keeping up"
                )
            self._queue.extend(batches)
            self._stored += events
            self._bytes += nbytes
            self.counters.add("EventPutSuccessCount", events)
            self.counters.set("ChannelSize", self._stored)
            self._cond.notify_all()

    def _take(
        self, max_events: int, timeout: float | None
    ) -> tuple[EventBatch, list[tuple[EventBatch, Ack | None]]]:
        with self._cond:
            if not self._queue and timeout:
                seen = self._interrupts
                self._cond.wait_for(
                    lambda: self._queue or self._closed or self._interrupts != seen,
                    timeout=timeout,
                )
            parts: list[tuple[EventBatch, Ack | None]] = []
            want = max_events
            while want and self._queue:
                head, ack = self._queue[0]
                if len(head) <= want:
                    parts.append(self._queue.popleft())
                    want -= len(head)
                else:
                    first, rest = head.split(want)
                    self._queue[0] = (rest, ack)
                    parts.append((first, ack))
                    want = 0
            taken = max_events - want
            self._stored -= taken
            self._taken += taken
            self.counters.set("ChannelSize", self._stored)
            if taken and not self._stored:
                self._cond.notify_all()  # wait_drained
        batch = parts[0][0] if len(parts) == 1 else EventBatch.concat(p for p, _ in parts)
        return batch, parts

    def _commit_take(
        self, batch: EventBatch, parts: list[tuple[EventBatch, Ack | None]], nbytes: int
    ) -> None:
        for part, ack in parts:
            if ack is not None:
                ack.done(len(part))
        with self._cond:
            self._taken -= len(batch)
            self._bytes -= nbytes
            self.counters.add("EventTakeSuccessCount", len(batch))
            self._cond.notify_all()

    def _rollback_take(self, batch: EventBatch, parts: list[tuple[EventBatch, Ack | None]]) -> None:
        with self._cond:
            self._queue.extendleft(reversed(parts))
            self._taken -= len(batch)
            self._stored += len(batch)
            self.counters.set("ChannelSize", self._stored)
            self._cond.notify_all()


class MemoryTransaction(Transaction):
    """Either puts or takes (Flume's rule), one take at most."""

    __slots__ = ("_ch", "_parts", "_put_bytes", "_put_events", "_puts", "_taken", "_taken_bytes")

    def __init__(self, channel: MemoryChannel) -> None:
        super().__init__()
        self._ch = channel
        self._puts: list[tuple[EventBatch, Ack | None]] = []
        self._parts: list[tuple[EventBatch, Ack | None]] = []
        self._put_events = 0
        self._put_bytes = 0
        self._taken: EventBatch | None = None
        self._taken_bytes = 0

    def _put(self, batch: EventBatch, ack: Ack | None) -> None:
        n = len(batch)
        if self._put_events + n > self._ch.transaction_capacity:
            raise ChannelFullError(
                f"a put of {self._put_events + n} events exceeds channel {self._ch.name}'s "
                f"transactionCapacity ({self._ch.transaction_capacity})"
            )
        self._ch.counters.add("EventPutAttemptCount", n)
        self._puts.append((batch, ack))
        self._put_events += n
        if self._ch._byte_limit:
            self._put_bytes += batch.byte_size()
        if ack is not None:
            ack.add(n)

    def _take(self, max_events: int, timeout: float | None) -> EventBatch:
        if self._taken is not None:
            raise TransactionStateError("one take per memory-channel transaction")
        limit = min(max_events, self._ch.transaction_capacity)
        batch, self._parts = self._ch._take(limit, timeout)
        # as Flume counts its take() calls: one per event, and one more that found none
        self._ch.counters.add("EventTakeAttemptCount", len(batch) + (len(batch) < limit))
        self._taken = batch
        if self._ch._byte_limit:
            self._taken_bytes = batch.byte_size()
        return batch

    def _commit(self) -> None:
        if self._puts:
            self._ch._commit_put(self._puts, self._put_events, self._put_bytes)
        if self._taken is not None:
            self._ch._commit_take(self._taken, self._parts, self._taken_bytes)

    def _rollback(self) -> None:
        if self._puts:
            for batch, ack in self._puts:  # never stored: these events are not pending
                if ack is not None:
                    ack.done(len(batch))
        if self._taken:
            self._ch._rollback_take(self._taken, self._parts)
        elif self._taken is not None:
            self._ch._commit_take(self._taken, [], 0)
