"""Flume's seq source: the numbers 0, 1, 2, ... as event bodies (ASCII), ``batchSize`` at a time,
until ``totalEvents`` have been put (then it idles). For tests and benchmarks. A full channel
makes it wait; no number is skipped or repeated while the agent runs (it starts again from 0
after a restart, as Flume's does).
"""

from __future__ import annotations

from agents.component import Status
from agents.config.spec import Prop
from agents.event import EventBatch
from agents.sources.base import Source


class SequenceSource(Source):
    TYPE = "seq"
    PROPERTIES = (
        Prop("batchSize", "int", 1, "Events per batch.", minimum=1),
        Prop("totalEvents", "int", 2**63 - 1, "How many events in all.", minimum=0),
    )

    COUNTS_RECEIVED = False  # Flume's seq counts only what its channels accepted

    def start(self) -> None:
        self.sent = 0
        super().start()

    def process(self) -> Status:
        self.flush()
        total = self.conf["totalEvents"]
        if self.sent >= total:
            return Status.BACKOFF
        end = min(self.sent + self.conf["batchSize"], total)
        batch = EventBatch([b"%d" % n for n in range(self.sent, end)])
        self.sent = end
        self.send([(batch, None)])
        return Status.READY

    def backoff_pause(self, attempt: int) -> float:
        return 1.0 if self.sent >= self.conf["totalEvents"] else super().backoff_pause(attempt)
