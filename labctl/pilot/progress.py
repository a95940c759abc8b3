"""Progress of a running `labctl pilot` / `verify`: what runs now, records so far, time left.

The checks report their steps to a ``Steps``; the terminal shows them with rich
(``labctl.views.progress``) and ``ProgressFile`` leaves them in the lab home for the
dashboard. ``read_progress`` reads that file back (None once its writer is gone).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import psutil

from labctl.paths import LabPaths

WRITE_EVERY_S = 0.25  # the file is rewritten at most this often (the last state always)


class Steps(Protocol):
    def step(self, what: str, total: float | None = None, unit: str = "records") -> None:
        """A new step starts; ``total`` is its size in ``unit`` (None: unknown)."""

    def advance(self, done: float, records: int | None = None) -> None:
        """How far the current step is (in its unit), and the records handled so far."""

    def close(self) -> None:
        """The run is over."""


class Silent:
    """Steps that go nowhere (the default)."""

    def step(self, what: str, total: float | None = None, unit: str = "records") -> None:
        return None

    def advance(self, done: float, records: int | None = None) -> None:
        return None

    def close(self) -> None:
        return None


class Tee:
    """Every step to each of several ``Steps``."""

    def __init__(self, *outputs: Steps) -> None:
        self.outputs = outputs

    def step(self, what: str, total: float | None = None, unit: str = "records") -> None:
        for out in self.outputs:
            out.step(what, total, unit)

    def advance(self, done: float, records: int | None = None) -> None:
        for out in self.outputs:
            out.advance(done, records)

    def close(self) -> None:
        for out in self.outputs:
            out.close()


@dataclass
class StepState:
    """One progress file's content."""

    pid: int
    command: str
    started: float  # time.time() the run began
    step: str = ""
    step_started: float = 0.0
    total: float | None = None
    unit: str = "records"
    done: float = 0.0
    records: int | None = None

    def seconds_left(self, now: float) -> float | None:
        """Of the current step: exact for a step counted in seconds, else from its pace."""
        if self.total is None:
            return None
        left = max(self.total - self.done, 0.0)
        if self.unit == "s":
            return left
        spent = now - self.step_started
        if self.done <= 0 or spent <= 0:
            return None
        return left * spent / self.done


class ProgressFile:
    """Steps written to ``<home>/run/progress.json`` (replaced atomically; removed at close)."""

    def __init__(self, paths: LabPaths, command: str) -> None:
        self.path = progress_file(paths)
        self.state = StepState(os.getpid(), command, time.time())
        self.written = 0.0

    def step(self, what: str, total: float | None = None, unit: str = "records") -> None:
        self.state.step, self.state.total, self.state.unit = what, total, unit
        self.state.done, self.state.records = 0.0, None
        self.state.step_started = time.time()
        self._write(force=True)

    def advance(self, done: float, records: int | None = None) -> None:
        self.state.done, self.state.records = done, records
        self._write()

    def close(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.written < WRITE_EVERY_S:
            return
        self.written = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self.state)))
        temporary.replace(self.path)


def progress_file(paths: LabPaths) -> Path:
    return paths.run_dir / "progress.json"


def read_progress(paths: LabPaths) -> StepState | None:
    """The running pilot's / verify's progress, or None (none runs, or its writer died)."""
    try:
        state = StepState(**json.loads(progress_file(paths).read_text()))
        writer = psutil.Process(state.pid)
        alive = writer.create_time() <= state.started + 1.0  # not a reused pid
    except (OSError, ValueError, TypeError, psutil.Error):
        return None
    return state if alive else None
