"""The way into the channels: interceptors, a selector that routes, and a put per channel.

``prepare`` runs the interceptors once and asks the selector which channel takes which events;
``put`` puts into every channel that has not taken its share yet, and raises
``ChannelFullError`` when one of them is full (or stopping). The ``Delivery`` keeps what each
channel still has to take, so calling ``put`` again adds no duplicates to the channels that
already took theirs. Nothing here waits or retries: the caller (a source's outbox, run by a
``SourceRunner``) backs off and calls again. It knows nothing of sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.acks import Ack
from agents.channels.base import Channel
from agents.errors import ChannelClosedError, ChannelFullError
from agents.event import EventBatch
from agents.interceptors.base import Interceptor


class ReplicatingSelector:
    """Flume's default selector: every channel takes every event."""

    def __init__(self, channels: list[Channel]) -> None:
        self.channels = channels

    def route(self, batch: EventBatch) -> dict[Channel, EventBatch]:
        return dict.fromkeys(self.channels, batch)


@dataclass
class Delivery:
    """One batch after the interceptors, on its way into channels."""

    events: int  # after the interceptors
    pending: dict[Channel, EventBatch] = field(default_factory=dict)  # what each still takes
    ack: Ack | None = None

    @property
    def done(self) -> bool:
        return not self.pending


class ChannelProcessor:
    def __init__(
        self,
        channels: list[Channel],
        interceptors: list[Interceptor],
        selector: ReplicatingSelector | None = None,
    ) -> None:
        self.channels = channels
        self.interceptors = interceptors
        self.selector = selector or ReplicatingSelector(channels)

    def intercept(self, batch: EventBatch) -> EventBatch:
        for interceptor in self.interceptors:
            if not batch:
                break
            batch = interceptor.intercept(batch)
        return batch

    def prepare(self, batch: EventBatch, ack: Ack | None = None) -> Delivery:
        batch = self.intercept(batch)
        if not batch:
            return Delivery(0, {}, ack)
        return Delivery(len(batch), self.selector.route(batch), ack)

    def put(self, delivery: Delivery) -> None:
        """Put what each channel still has to take; raises ChannelFullError if one refused."""
        refused: list[str] = []
        for channel, rest in list(delivery.pending.items()):
            try:
                _put(channel, rest, delivery.ack)
            except _Partial as exc:
                delivery.pending[channel] = exc.remaining
                refused.append(str(exc.__cause__ or exc))
                continue
            except (ChannelFullError, ChannelClosedError) as exc:
                refused.append(str(exc))
                continue
            del delivery.pending[channel]
        if refused:
            raise ChannelFullError("; ".join(refused))


def _put(channel: Channel, batch: EventBatch, ack: Ack | None) -> None:
    cap = channel.transaction_capacity or len(batch)
    if len(batch) <= cap:
        with channel.transaction() as tx:
            tx.put(batch, ack)
            tx.commit()
        return
    # Larger than one transaction: all-or-nothing is impossible; put in order, and on a
    # failure keep only what is left (the earlier parts are committed).
    rest = batch
    while rest:
        head, tail = rest.split(cap)
        try:
            with channel.transaction() as tx:
                tx.put(head, ack)
                tx.commit()
        except (ChannelFullError, ChannelClosedError) as exc:
            raise _Partial(rest) from exc
        rest = tail


class _Partial(ChannelFullError):
    """A split put stopped part-way; ``remaining`` is what the channel has not taken."""

    def __init__(self, remaining: EventBatch) -> None:
        super().__init__("channel full part-way through a batch")
        self.remaining = remaining
