"""Flume's seq source: the numbers 0, 1, 2, ... as event bodies (ASCII), ``batchSize`` at a time,
until ``totalEvents`` have been put (then it idles). For tests and benchmarks. A full channel
makes it wait; no number is skipped or repeated while the agent runs (it starts again from 0
after a restart, as Flume's does).
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.component import Status
from agents.config.settings import Settings, prop
from agents.event import EventBatch
from agents.sources.base import Source


@dataclass(frozen=True, kw_only=True)
class SequenceSettings(Settings):
    batch_size: int = prop("batchSize", "int", 1, "Events per batch.", minimum=1)
    total_events: int = prop("totalEvents", "int", 2**63 - 1, "How many events in all.", minimum=0)


class SequenceSource(Source):
    TYPE = "seq"
    SETTINGS = SequenceSettings
    PROPERTIES = SequenceSettings.props()
    settings: SequenceSettings

    COUNTS_RECEIVED = False  # Flume's seq counts only what its channels accepted

    def start(self) -> None:
        self.sent = 0
        super().start()

    def process(self) -> Status:
        self.flush()
        total = self.settings.total_events
        if self.sent >= total:
            return Status.BACKOFF
        end = min(self.sent + self.settings.batch_size, total)
        batch = EventBatch([b"%d" % n for n in range(self.sent, end)])
        self.sent = end
        self.send([(batch, None)])
        return Status.READY

    def backoff_pause(self, attempt: int) -> float:
        return 1.0 if self.sent >= self.settings.total_events else super().backoff_pause(attempt)
