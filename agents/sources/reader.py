"""One stream (a file, a command's output) read into batches of line events, with acks.

Shared by spooldir, TAILDIR and exec. ``LineReader.read(chunk)`` splits the chunk into events
(``LineSplitter``) and cuts them into batches of at most ``batch_size``. With a ``Progress``,
every batch gets an ack that, once complete, makes the stream safe up to a line boundary: the
last batch of a chunk carries the boundary after the chunk's last whole line, the others the
boundary before the chunk, so a recorded position never lies inside a line or ahead of
unacknowledged events. Each line split for being too long is counted (``LineSplitCount``) and
logged once, as Flume warns for each cut.

With an ``origin`` (the stream's name, ``agent/source/stream``), every event is marked with it
and the byte offset it starts at (``EventBatch.marks``; the splitter must keep ``offsets``):
what an exactly-once Kafka sink commits with the events, and resumes from.
"""

from __future__ import annotations

import logging
from itertools import repeat

from agents.acks import Ack, Progress
from agents.counters import Counters
from agents.event import EventBatch
from agents.sources.lines import LineSplitter


class LineReader:
    def __init__(
        self,
        splitter: LineSplitter,
        batch_size: int,
        common: dict[str, str],
        counters: Counters,
        log: logging.Logger,
        name: str,
        progress: Progress | None = None,
        byteoffset_header: bool = False,
    ) -> None:
        self.splitter = splitter
        self.batch_size = batch_size
        self.common = common
        self.counters = counters
        self.log = log
        self.name = name  # the stream, for messages
        self.progress = progress
        self.byteoffset_header = byteoffset_header  # each event's offset as header 'byteoffset'
        self.origin: str | None = None  # set: events are marked (needs the splitter's offsets)
        self._marked = splitter.boundary  # the boundary the last ack carries

    def read(self, chunk: bytes) -> list[tuple[EventBatch, Ack | None]]:
        """Batches of the events *chunk* completes (raises DecodeFailure under FAIL)."""
        return self.batches_of(self.splitter.feed(chunk))

    def finish(self) -> list[tuple[EventBatch, Ack | None]]:
        """The stream ended: its last line, even without a newline."""
        return self.batches_of(self.splitter.flush())

    def batches_of(
        self, events: list[bytes], advance: bool = True
    ) -> list[tuple[EventBatch, Ack | None]]:
        """*events* in batches; ``advance=False`` keeps the acks at the last boundary (the
        splitter stopped part-way through a chunk and its boundary cannot be trusted)."""
        splitter = self.splitter
        if splitter.split_at:
            for at in splitter.split_at:
                self.log.warning(
                    "%s: the line at byte %d is longer than %d characters; split into "
                    "several events", self.name, at, splitter.max_chars,
                )  # fmt: skip
            self.counters.add("LineSplitCount", len(splitter.split_at))
            splitter.split_at.clear()
        if not events:
            return []
        starts = splitter.offsets
        headers: list[dict[str, str]] | None = None
        marks = None
        if starts is not None:
            splitter.offsets = []
            del starts[len(events) :]  # a decode failure stopped part-way: the good ones'
            if self.byteoffset_header:
                headers = [{"byteoffset": str(o)} for o in starts]
            if self.origin is not None:
                marks = list(zip(repeat(self.origin), starts))
        size = self.batch_size
        out: list[tuple[EventBatch, Ack | None]] = []
        last = (len(events) - 1) // size * size
        for i in range(0, len(events), size):
            batch = EventBatch(events[i : i + size], self.common,
                               None if headers is None else headers[i : i + size],
                               None if marks is None else marks[i : i + size])  # fmt: skip
            ack = None
            if self.progress is not None:
                if i == last and advance:
                    self._marked = splitter.boundary
                ack = self.progress.ack(self._marked)
            out.append((batch, ack))
        return out
