"""Source contract: read from outside, hand batches to the outbox; never own a thread.

A ``SourceRunner`` (``agents.runners``) calls ``process()`` in a loop on a thread it owns, as
Flume's PollableSourceRunner does: ``process`` reads what is there, adds batches to
``self.outbox`` and flushes it, and returns READY (made progress) or BACKOFF (nothing to do;
the runner waits ``backoff_pause``, or less if ``wake`` is set). When a channel is full the
outbox raises ``ChannelFullError``; the runner backs off and calls ``process`` again, which
flushes the outbox first, so nothing is re-read or dropped. A source whose ``process`` raises
anything else is restarted (``stop`` then ``start``) by its runner and resumes from its
recorded state.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, ClassVar

from agents.acks import Ack
from agents.component import Component, Status
from agents.counters import Counters
from agents.errors import ChannelFullError
from agents.event import EventBatch
from agents.processor import ChannelProcessor, Delivery
from agents.sources.resume import Resume

if TYPE_CHECKING:
    from agents.committed import Committed


class Outbox:
    """The batches a source has read, in order, on their way into its channels.

    ``add`` queues a batch (with its ack); ``flush`` puts them through the ChannelProcessor one
    by one. A batch a channel refused stays first in line, with what each channel already took
    remembered, and ``ChannelFullError`` propagates. Counts the source's Flume counters:
    ``EventReceivedCount`` / ``AppendBatchReceivedCount`` when a batch is read,
    ``EventAcceptedCount`` / ``AppendBatchAcceptedCount`` (events before the interceptors, as
    Flume) when every channel took it, ``ChannelWriteFail`` per refusal, and our
    ``EventForwardedCount`` (events after the interceptors), ``EventUnroutedCount`` (events the
    selector sent to no channel) and ``OptionalChannelWriteFail`` (events an optional channel
    refused).
    """

    def __init__(
        self, processor: ChannelProcessor, counters: Counters, received: bool = True
    ) -> None:
        self.processor = processor
        self.counters = counters
        self.received = received  # count EventReceivedCount (seq does not, as in Flume)
        self._queue: deque[tuple[EventBatch, Ack | None, Delivery | None]] = deque()
        self.delivered: Delivery | None = None  # the last batch every channel took

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, batch: EventBatch, ack: Ack | None = None) -> None:
        if self.received:
            self.counters.add("EventReceivedCount", len(batch))
            self.counters.add("AppendBatchReceivedCount")
        self._queue.append((batch, ack, None))

    def flush(self) -> None:
        """Put every queued batch; raises ChannelFullError (the rest stays queued)."""
        queue = self._queue
        counters = self.counters
        progressed = False
        while queue:
            batch, ack, delivery = queue[0]
            if delivery is None:
                delivery = self.processor.prepare(batch, ack)
                queue[0] = (batch, ack, delivery)
            try:
                self.processor.put(delivery)
            except ChannelFullError as exc:
                counters.add("ChannelWriteFail")
                exc.progressed = progressed
                raise
            progressed = True
            queue.popleft()
            self.delivered = delivery
            counters.add("EventAcceptedCount", len(batch))
            counters.add("AppendBatchAcceptedCount")
            counters.add("EventForwardedCount", delivery.events)
            if delivery.unrouted:
                counters.add("EventUnroutedCount", delivery.unrouted)
            if delivery.optional_failed:
                counters.add("OptionalChannelWriteFail", delivery.optional_failed)
            if ack is not None:
                ack.release()

    def clear(self) -> int:
        """Abandon what is queued (the source stops or restarts and will read it again)."""
        n = sum(len(b) for b, _, _ in self._queue)
        self._queue.clear()
        return n


class Source(Component):
    KIND = "SOURCE"
    # Exactly-once (docs/exactly-once.md): a source that can read a stream again from a byte
    # offset (REPLAYABLE) marks its events when an exactly-once sink is downstream, and resumes
    # from the positions committed in Kafka when its events go only to such sinks.
    REPLAYABLE: ClassVar[bool] = False

    COUNTS_RECEIVED: ClassVar[bool] = True  # Flume's EventReceivedCount: events read from outside

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.outbox: Outbox | None = None  # set by the runtime (``connect``) before start()
        self.wake = threading.Event()  # set to cut the runner's backoff short
        self.origin: str | None = None  # set by the runtime: mark events ("<agent>/<source>")
        self.resume: Resume | None = None  # set by the runtime: resume from Kafka's positions
        # set by the runtime for a source that CARRIES_MARKS (avro): channel -> the committed
        # positions of its exactly-once sink, which a batch waits for before it is answered
        self.commit_waits: dict[str, Committed] = {}
        self.interrupted = threading.Event()  # set by ``interrupt``, cleared by ``stop``

    def connect(self, processor: ChannelProcessor) -> None:
        self.outbox = Outbox(processor, self.counters, self.COUNTS_RECEIVED)
        for key in ("EventForwardedCount", "LineSplitCount", "RestartCount"):
            self.counters.values.setdefault(key, 0)

    def process(self) -> Status:
        raise NotImplementedError

    def max_event_bytes(self) -> tuple[str, int] | None:
        """The property that caps an event's size, and the most bytes an event can have."""
        return None

    def interrupt(self) -> None:
        """Called by the runner on stop, from another thread, to end a blocking read (or a
        ``start`` waiting for the committed positions)."""
        self.interrupted.set()

    def stop(self) -> None:
        if self.outbox is not None:
            self.outbox.clear()
        self.interrupted.clear()
        super().stop()

    def checkpoint(self) -> None:
        """Record the read position of everything sinks committed (after the agent drained)."""

    def send(self, batches: list[tuple[EventBatch, Ack | None]]) -> None:
        """Queue *batches* and put what the outbox holds (raises ChannelFullError when full;
        the batches stay queued)."""
        assert self.outbox is not None, "source started without channels"
        for batch, ack in batches:
            self.outbox.add(batch, ack)
        self.outbox.flush()

    def flush(self) -> None:
        """Put what the outbox still holds; raises ChannelFullError while a channel is full."""
        assert self.outbox is not None, "source started without channels"
        self.outbox.flush()
