"""Sink contract: take a batch from the channel, deliver it, commit or roll back.

A sink runner (``agents.runners``) calls its sink processor's ``process`` in a loop on a thread
it owns; a processor drives one sink or a sink group (``agents.sinks.processors``).

A delivery that failed is rolled back and reported by raising ``DeliveryError`` from
``process`` (Flume's EventDeliveryException): the default processor backs off, a failover
group moves on to its next sink, a load-balancing group tries another. A sink that keeps
batches in flight (Kafka) finishes them in ``settle``.
"""

from __future__ import annotations

from agents.channels.base import Channel
from agents.component import Component, Status
from agents.errors import DeliveryError

__all__ = ["DeliveryError", "Sink", "Status"]


class Sink(Component):
    KIND = "SINK"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.channel: Channel | None = None  # set by the runtime before start()
        for key in ("RollbackCount", "RestartCount"):
            self.counters.values.setdefault(key, 0)

    def process(self) -> Status:
        """Take, deliver and commit one batch; raises DeliveryError (after rolling back) when
        the destination did not accept it."""
        raise NotImplementedError

    def failing(self) -> bool:
        """Whether its last delivery failed (the destination is down or refusing): at stop the
        agent does not wait for such a sink to drain its channel."""
        return False

    def settle(self, timeout: float = 30.0) -> None:
        """Finish what is in flight: commit what the destination acknowledged within *timeout*
        seconds, roll back the rest; raises DeliveryError if a batch failed. Sinks that deliver
        each batch before ``process`` returns have nothing to settle."""

    def interrupt(self) -> None:
        """Called from another thread when the agent stops, to end a blocking call."""

    def forwards_marks(self) -> bool:
        """Whether it sends each event's origin and read position on to the next agent (an
        avro sink with ``originHeaders``; ``agents.exactly_once``)."""
        return False
