"""The terminal view of a running `labctl pilot` / `verify`: one line per step with what runs,
a bar, the records so far and the time left; finished steps stay on screen, ticked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from labctl.paths import LabPaths
from labctl.pilot.progress import ProgressFile, Steps, Tee


class RecordsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        records = task.fields.get("records")
        return Text("" if records is None else f"{records:,} records", style="magenta")


class TimeLeftColumn(ProgressColumn):
    """Exact for a step counted in seconds, else rich's estimate from the step's pace."""

    def render(self, task: Task) -> Text:
        if task.total is None or task.finished:
            return Text("")
        if task.fields.get("unit") == "s":
            left: float | None = task.total - task.completed
        else:
            left = task.time_remaining
        return Text("" if left is None else f"{max(left, 0):.0f} s left", style="cyan")


class RichSteps:
    """``Steps`` (labctl.pilot.progress) shown with rich; use it as a context manager."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            TaskProgressColumn(),
            RecordsColumn(),
            TimeLeftColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> RichSteps:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.close()

    def step(self, what: str, total: float | None = None, unit: str = "records") -> None:
        self._finish()
        self.task = self.progress.add_task(what, total=total, unit=unit, records=None)

    def advance(self, done: float, records: int | None = None) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=done, records=records)

    def close(self) -> None:
        self._finish()
        self.progress.stop()

    def _finish(self) -> None:
        """The current step is over: its bar full at what it reached."""
        if self.task is None:
            return
        task = next(t for t in self.progress.tasks if t.id == self.task)
        reached = task.completed if task.completed > 0 else 1
        self.progress.update(self.task, total=reached, completed=reached)
        self.task = None


@contextmanager
def shown_steps(console: Console, paths: LabPaths, command: str) -> Iterator[Steps]:
    """Steps shown on ``console`` and left in the lab's progress file (for the dashboard)."""
    with RichSteps(console) as view:
        steps = Tee(view, ProgressFile(paths, command))
        try:
            yield steps
        finally:
            steps.close()
