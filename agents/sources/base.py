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


class ThreadedSource(Source):
    """A source that reads on one thread of its own: ``run`` until ``stopping`` is set.

    Subclasses implement ``run`` and may override ``prepare`` (before the thread starts),
    ``interrupt`` (to wake a blocked ``run`` on stop) and ``release`` (after it ended).
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        raise NotImplementedError

    def prepare(self) -> None:
        """Called by ``start`` before the reader thread starts."""

    def interrupt(self) -> None:
        """Called by ``stop`` after ``stopping`` is set, before joining the thread."""

    def release(self) -> None:
        """Called by ``stop`` once the thread has ended."""

    def start(self) -> None:
        self.prepare()
        self.stopping.clear()
        self._thread = threading.Thread(target=self.run, name=f"source-{self.name}", daemon=True)
        self._thread.start()
        super().start()

    def stop(self) -> None:
        self.stopping.set()
        self.interrupt()
        if self._thread is not None:
            self._thread.join()
        self.release()
        super().stop()

    def health(self) -> str:
        if self._thread is not None and not self._thread.is_alive() and not self.stopping.is_set():
            return "failed: reader thread ended"
        return super().health()
