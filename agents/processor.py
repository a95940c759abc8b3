"""The way into the channels: interceptors, a selector that routes, and a put per channel.

``prepare`` runs the interceptors once and asks the selector (``agents.channels.selectors``)
which channel takes which events; ``put`` puts into every required channel that has not taken
its share yet, and raises ``ChannelFullError`` when one of them is full (or stopping). The
``Delivery`` keeps what each channel still has to take, so calling ``put`` again adds no
duplicates to the channels that already took theirs. Once every required channel has its
events, the optional ones are tried once each: a refusal is logged and counted, never retried
(Flume's rule). Nothing here waits or retries: the caller (a source's outbox, run by a source
runner) backs off and calls again. It knows nothing of sources.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from agents.acks import Ack
from agents.channels.base import Channel
from agents.channels.selectors import ChannelSelector, ReplicatingSelector
from agents.errors import ChannelClosedError, ChannelFullError
from agents.event import EventBatch
from agents.interceptors.base import Interceptor

log = logging.getLogger("agents.processor")


@dataclass
class Delivery:
    """One batch after the interceptors, on its way into channels."""

    events: int  # after the interceptors
    pending: dict[Channel, EventBatch] = field(default_factory=dict)  # what each still takes
    ack: Ack | None = None
    optional: dict[Channel, EventBatch] = field(default_factory=dict)  # tried once, after
    unrouted: int = 0  # events the selector sent nowhere
    optional_failed: int = 0  # events an optional channel refused
    routed: dict[Channel, EventBatch] = field(default_factory=dict)  # what each required one got

    @property
    def done(self) -> bool:
        return not self.pending


class ChannelProcessor:
    def __init__(
        self,
        channels: list[Channel],
        interceptors: list[Interceptor],
        selector: ChannelSelector | None = None,
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
        route = self.selector.route(batch)
        return Delivery(len(batch), route.required, ack, route.optional, route.unrouted,
                        routed=dict(route.required))  # fmt: skip

    def put(self, delivery: Delivery) -> None:
        """Put what each channel still has to take; raises ChannelFullError if a required one
        refused. The optional channels are tried once, after every required one took its part.
        """
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
        for channel, batch in delivery.optional.items():
            try:
                _put(channel, batch, None)  # its sink's progress never holds the source back
            except (ChannelFullError, ChannelClosedError) as exc:
                left = exc.remaining if isinstance(exc, _Partial) else batch
                delivery.optional_failed += len(left)
                log.error("optional channel %s refused %d events; they are not put there "
                          "(Flume's rule for optional channels): %s", channel.name, len(left),
                          exc.__cause__ or exc)  # fmt: skip
        delivery.optional.clear()


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
