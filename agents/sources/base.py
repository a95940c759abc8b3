"""Source contract: read from outside, hand batches to the ChannelProcessor.

A source owns its thread(s). ``deliver`` runs the interceptors and puts the batch into the
source's channels; when a channel is full it waits and retries with backoff (never drops),
returning False only when the source is stopping and the batch was not accepted, so the source
can leave its position where it was (the data is read again on restart).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from agents.acks import Ack
from agents.component import Component
from agents.event import EventBatch

if TYPE_CHECKING:
    from agents.processor import ChannelProcessor


class Source(Component):
    KIND = "SOURCE"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.processor: ChannelProcessor | None = None  # set by the runtime before start()
        self.stopping = threading.Event()

    def deliver(self, batch: EventBatch, ack: Ack | None = None) -> bool:
        """Interceptors + channel put, retried while channels are full. False if stopping.

        *ack* is counted down as sinks commit the events (see ``agents.acks``).
        """
        assert self.processor is not None, "source started without a channel processor"
        return self.processor.process(batch, self, ack)

    def checkpoint(self) -> None:
        """Record the read position of everything sinks committed (after the agent drained)."""
