"""End-to-end acknowledgements: a source is *notified* when what it read is safe.

A memory channel forgets everything on a crash, so a source must not record its read position
(spooldir's tracker, TAILDIR's position file) when a channel took the lines, only once they are
safe downstream. Each batch a source hands over carries an ``Ack``: channels count its events in
when a put takes them, and out when they are safe (a memory channel: when a sink committed the
take; a durable channel may do so when its put is on disk; a rolled-back put counts them out at
once). The source holds one extra count until every channel has the batch, so an ack cannot
complete between two channels' puts. When the count reaches zero the ack calls back once, on the
thread that completed it (a sink's), so callbacks must be short: ``Progress`` advances a stream's
safe position and wakes its source, which writes its state on its own thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable


class Ack:
    """Events of one batch not yet safe, plus the source's hold until all channels have it."""

    __slots__ = ("_lock", "_on_complete", "position", "remaining")

    def __init__(self, on_complete: Callable[[Ack], None] | None = None, position: int = 0) -> None:
        self.remaining = 1  # the hold, released by the source's outbox
        self.position = position  # where the stream is safe up to once this ack completes
        self._on_complete = on_complete
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.remaining += n

    def done(self, n: int) -> None:
        with self._lock:
            self.remaining -= n
            complete = self.remaining == 0
        if complete and self._on_complete is not None:
            self._on_complete(self)

    def release(self) -> None:
        """Every channel has the batch: drop the hold."""
        self.done(1)

    @property
    def complete(self) -> bool:
        return self.remaining <= 0


class Progress:
    """Read positions of one stream in read order, and the furthest safe one.

    ``ack(position)`` gives the ack of a batch that ends at *position* (a line boundary; equal
    positions are fine). ``safe`` is the position of the last ack that completed with every
    earlier ack complete too. ``on_advance`` is called (on the completing thread) each time
    ``safe`` moves, and ``on_idle`` when no ack is left pending.
    """

    def __init__(self, start: int = 0, on_advance: Callable[[], None] | None = None) -> None:
        self.safe = start
        self._pending: deque[Ack] = deque()
        self._lock = threading.Lock()
        self._on_advance = on_advance

    def ack(self, position: int) -> Ack:
        ack = Ack(self._completed, position)
        with self._lock:
            self._pending.append(ack)
        return ack

    def _completed(self, _ack: Ack) -> None:
        moved = False
        with self._lock:
            pending = self._pending
            while pending and pending[0].complete:
                self.safe = pending.popleft().position
                moved = True
        if moved and self._on_advance is not None:
            self._on_advance()

    @property
    def idle(self) -> bool:
        """Every ack issued so far is complete."""
        with self._lock:
            return not self._pending
