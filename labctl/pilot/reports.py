"""The reports `labctl verify` leaves in ``<home>/reports``, read back: the newest result of
each stage, and the pilot summary (generated / filtered / delivered per flow) of a full run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labctl.paths import LabPaths

FULL_RUN_FIGURE = "status_records"  # in the figures of a run that did stages 3-5


@dataclass(frozen=True)
class SavedReport:
    path: Path
    written: float  # the file's mtime
    ok: bool
    checks: tuple[dict[str, Any], ...]
    figures: dict[str, Any]

    @property
    def stages(self) -> set[int]:
        return {int(c["stage"]) for c in self.checks}

    def checks_of(self, stage: int) -> tuple[dict[str, Any], ...]:
        return tuple(c for c in self.checks if c["stage"] == stage)


@dataclass(frozen=True)
class Flow:
    """One row of the pilot summary."""

    flow: str
    generated: int
    filtered: int
    delivered: int
    where: str


def flows(figures: dict[str, Any]) -> list[Flow]:
    """Lines generated, filtered out and delivered per flow, from a full run's figures."""
    if FULL_RUN_FIGURE not in figures:
        return []
    f = figures
    status = f["status_records"] + f["status_headers"] + f["status_garbage"]
    driving = f["driving_records"] + f["driving_headers"] + f["driving_garbage"]
    return [Flow("status file", status, status - f["logged"], f["logged"], "logger sink"),
            Flow("driving log", driving, driving - f["delivered"], f["delivered"],
                 "SmartCar-Topic")]  # fmt: skip


class ReportShelf:
    """The saved reports of one lab, newest first; each file is parsed once (until it changes)."""

    def __init__(self, paths: LabPaths) -> None:
        self.directory = paths.reports_dir
        self._parsed: dict[Path, tuple[int, SavedReport | None]] = {}

    def newest_first(self) -> list[SavedReport]:
        try:
            files = sorted(self.directory.glob("verify-*.json"), reverse=True)
        except OSError:
            return []
        reports = [r for r in map(self._read, files) if r is not None]
        self._parsed = {p: v for p, v in self._parsed.items() if p in set(files)}
        return reports

    def latest_per_stage(self) -> dict[int, SavedReport]:
        """For each stage, the newest report that checked it."""
        found: dict[int, SavedReport] = {}
        for report in self.newest_first():
            for stage in report.stages - set(found):
                found[stage] = report
        return found

    def latest_full_run(self) -> SavedReport | None:
        return next((r for r in self.newest_first() if FULL_RUN_FIGURE in r.figures), None)

    def _read(self, path: Path) -> SavedReport | None:
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        cached = self._parsed.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            data = json.loads(path.read_text())
            report: SavedReport | None = SavedReport(
                path, mtime / 1e9, bool(data["ok"]), tuple(data["checks"]),
                dict(data.get("figures", {})))  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            report = None  # being written, or not a report: skipped
        self._parsed[path] = (mtime, report)
        return report
