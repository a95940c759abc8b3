"""End-to-end acknowledgements: a source learns when a sink committed what it read.

A memory channel forgets everything on a crash, so a source must not record its read position
(spooldir's tracker, TAILDIR's position file) when the channel took the lines, only when a
sink committed them downstream. Each put carries an ``Ack`` counting the events still to be
committed (times the number of channels); a ``Checkpoints`` list turns acks into the furthest
position that is safe to record, in read order.
"""

from __future__ import annotations

import threading
from collections import deque


class Ack:
    __slots__ = ("_lock", "remaining")

    def __init__(self, remaining: int = 0) -> None:
        self.remaining = remaining
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.remaining += n

    def done(self, n: int) -> None:
        with self._lock:
            self.remaining -= n

    @property
    def complete(self) -> bool:
        return self.remaining <= 0


class Checkpoints:
    """Positions in read order, each safe once every ack issued before it is complete."""

    def __init__(self) -> None:
        self._marks: deque[tuple[list[Ack], object]] = deque()
        self._open: list[Ack] = []

    def ack(self) -> Ack:
        a = Ack()
        self._open.append(a)
        return a

    def mark(self, position: object) -> None:
        """Everything acked so far ends at *position*."""
        self._marks.append((self._open, position))
        self._open = []

    def safe(self) -> object | None:
        """The furthest position whose acks (and all earlier ones) are complete, if any moved."""
        found = None
        while self._marks and all(a.complete for a in self._marks[0][0]):
            found = self._marks.popleft()[1]
        return found

    @property
    def idle(self) -> bool:
        return not self._marks and all(a.complete for a in self._open)
