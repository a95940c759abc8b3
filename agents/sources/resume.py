"""Where a source resumes when its events go only to exactly-once Kafka sinks.

Each such sink commits, with the events, the offset its last written event of a stream starts
at (``agents.committed``). A source reads a stream again from the line holding the lowest of
those (each sink drops what it wrote already); the source's own record (spooldir's tracker,
TAILDIR's position file) is then a cache: it fills in only for a sink that has no position for
the stream (a stream the sink never got an event of, say), and where no sink knows the stream.
"""

from __future__ import annotations

import os
import threading

from agents.committed import Committed

WAIT_STEP = 0.2  # s between looks at whether the source is being stopped
BACK_READ = 1 << 16  # bytes read at a time looking back for the start of a line


class Resume:
    """The committed positions of one source's streams, in every sink its events go to."""

    def __init__(self, committed: list[Committed], prefix: str) -> None:
        self.committed = committed
        self.prefix = prefix  # "<agent>/<source>/"

    def wait(self, timeout: float, stopping: threading.Event) -> None:
        """Until every sink has read its committed positions; raises RuntimeError (the runner
        starts the source again later) if a sink failed, or after *timeout* s."""
        waited = 0.0
        for c in self.committed:
            while not c.wait_loaded(WAIT_STEP):
                waited += WAIT_STEP
                if stopping.is_set():
                    raise RuntimeError("stopping")
                if waited >= timeout:
                    raise RuntimeError(f"waiting for the committed read positions "
                                       f"(transactional.id {c.tid})")  # fmt: skip
            if c.failure is not None:
                raise RuntimeError(f"its exactly-once sink failed: {c.failure}")

    def position(self, stream: str, cache: int | None) -> int | None:
        """Where *stream* is safe up to for every sink (the start of an event they all wrote, or
        the cache's line boundary); None when no sink knows the stream (the caller goes by its
        cache alone)."""
        origin = self.prefix + stream
        known = [c.get(origin) for c in self.committed]
        if all(k is None for k in known):
            return None
        fallback = -1 if cache is None else cache
        return min(fallback if k is None else k for k in known)

    def streams(self) -> dict[str, int]:
        """Every stream of the source some sink committed, with its lowest position (a stream
        one sink lacks counts -1 there)."""
        out: dict[str, int] = {}
        tables = [c.under(self.prefix) for c in self.committed]
        for origin in {o for t in tables for o in t}:
            out[origin[len(self.prefix) :]] = min(t.get(origin, -1) for t in tables)
        return out


def line_start(fd: int, position: int, size: int) -> int:
    """The start of the line holding byte *position* of the open file (0 for -1; the file's
    size if *position* is at or past its end)."""
    if position <= 0:
        return 0
    if position >= size:
        return size
    end = position
    while end > 0:
        start = max(0, end - BACK_READ)
        block = os.pread(fd, end - start, start)
        cut = block.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        end = start
    return 0
