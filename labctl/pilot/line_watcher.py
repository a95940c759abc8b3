"""When each line of a run first became visible in the driving log: the start of the latency
that `verify` reports (the topic's append time minus that moment)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from labctl.kafka.reader import Record
from labctl.pilot.latency import percentiles


class LineWatcher:
    """Notes when each line the run appends to the driving log (from byte *offset*) first
    became visible in the file (every ~5 ms), so latency is measured from the file, not from
    the writer's intentions; ``seen`` is then exactly the set of this run's lines."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path, self.offset = path, offset
        self.seen: dict[bytes, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="line-watcher", daemon=True)

    def __enter__(self) -> LineWatcher:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        while True:
            try:
                fh = open(self.path, "rb")  # noqa: SIM115
                break
            except FileNotFoundError:
                self.offset = 0  # the run creates it
                if self.stop.wait(0.005):
                    return
        with fh:
            fh.seek(self.offset)
            partial = b""
            while True:
                stopping = self.stop.is_set()  # read to the end once more after the run
                chunk = fh.read()
                now = time.time() * 1000
                if chunk:
                    lines = (partial + chunk).split(b"\n")
                    partial = lines.pop()
                    for line in lines:
                        self.seen.setdefault(line, now)
                elif stopping:
                    return
                else:
                    self.stop.wait(0.005)

    def latencies(self, got: list[Record]) -> dict[str, Any]:
        """p50, p99, p99.9 and max of the topic's append time minus the time the line was seen
        in the file."""
        lat = percentiles(r.timestamp_ms - self.seen[r.value] for r in got if r.value in self.seen)
        return {f"latency_{key}": value for key, value in lat.items()}
