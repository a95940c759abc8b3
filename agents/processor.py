"""A source's path into its channels: interceptors, then a put per channel, retried when full.

Nothing is dropped here. A full channel makes the source wait (backpressure up to the file
or the tailed log); the put is retried with a growing pause until it succeeds or the source is
stopping, in which case ``process`` returns False and the source keeps its read position.
With several channels (Flume's replicating selector) each channel that already took the
batch is not asked again, so a retry adds no duplicates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.acks import Ack
from agents.channels.base import Channel
from agents.errors import ChannelClosedError, ChannelFullError
from agents.event import EventBatch
from agents.interceptors.base import Interceptor

if TYPE_CHECKING:
    from agents.sources.base import Source

MAX_PAUSE = 1.0


class ChannelProcessor:
    def __init__(self, channels: list[Channel], interceptors: list[Interceptor]) -> None:
        self.channels = channels
        self.interceptors = interceptors

    def intercept(self, batch: EventBatch) -> EventBatch:
        for interceptor in self.interceptors:
            if not batch:
                break
            batch = interceptor.intercept(batch)
        return batch

    def process(self, batch: EventBatch, source: Source, ack: Ack | None = None) -> bool:
        counters = source.counters
        received = len(batch)
        counters.add("EventReceivedCount", received)
        counters.add("AppendBatchReceivedCount")
        batch = self.intercept(batch)
        if not batch:
            counters.add("AppendBatchAcceptedCount")
            return True
        pending = {channel: batch for channel in self.channels}
        pause = 0.01
        warned = False
        while pending:
            for channel, rest in list(pending.items()):
                try:
                    self._put(channel, rest, ack)
                    del pending[channel]
                except _Partial as exc:
                    pending[channel] = exc.remaining
                    counters.add("ChannelWriteFail")
                except (ChannelFullError, ChannelClosedError) as exc:
                    counters.add("ChannelWriteFail")
                    if not warned:
                        source.log.warning("%s; waiting (nothing is dropped)", exc)
                        warned = True
            if not pending:
                break
            if source.stopping.wait(pause):
                return False
            pause = min(pause * 2, MAX_PAUSE)
        if warned:
            source.log.info("channel accepted the batch again; resuming")
        counters.add("EventAcceptedCount", len(batch))
        counters.add("AppendBatchAcceptedCount")
        return True

    @staticmethod
    def _put(channel: Channel, batch: EventBatch, ack: Ack | None) -> None:
        cap = channel.transaction_capacity or len(batch)
        if len(batch) <= cap:
            with channel.transaction() as tx:
                tx.put(batch, ack)
                tx.commit()
            return
        # Larger than one transaction: all-or-nothing is impossible; put in order, and on a
        # failure put again only what is left (the earlier parts are committed).
        rest = batch
        while rest:
            head, rest = rest.split(cap)
            try:
                with channel.transaction() as tx:
                    tx.put(head, ack)
                    tx.commit()
            except (ChannelFullError, ChannelClosedError):
                raise _Partial(EventBatch.concat([head, rest])) from None


class _Partial(ChannelFullError):
    """A split put stopped part-way; ``remaining`` is what the channel has not taken."""

    def __init__(self, remaining: EventBatch) -> None:
        super().__init__("channel full part-way through a batch")
        self.remaining = remaining
