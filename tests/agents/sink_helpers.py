"""Sinks for sink-group tests: they record what they deliver and fail while told to."""

from __future__ import annotations

import threading

from agents.event import EventBatch
from agents.sinks.simple import BatchSink


class Recording(BatchSink):
    """Appends bodies to ``delivered[name]``; raises while its name is in ``down``."""

    PROPERTIES = (BatchSink.BATCH_PROP,)
    delivered: dict[str, list[bytes]] = {}
    down: set[str] = set()
    lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        cls.delivered.clear()
        cls.down.clear()

    def write(self, batch: EventBatch) -> None:
        if self.name in self.down:
            raise OSError(f"{self.name} is down")
        with self.lock:
            self.delivered.setdefault(self.name, []).extend(batch.bodies)

    @classmethod
    def count(cls, name: str) -> int:
        with cls.lock:
            return len(cls.delivered.get(name, []))

    @classmethod
    def everything(cls) -> list[bytes]:
        with cls.lock:
            return [b for bodies in cls.delivered.values() for b in bodies]
