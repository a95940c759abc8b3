"""How bench results are shown and kept: aligned text tables, verdicts, one JSON per run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import confluent_kafka as ck

from labctl.paths import LabPaths, resolve_home

ROOT = Path(__file__).resolve().parents[1]


def verdict(ok: bool) -> str:
    """A target met or missed, spelled so that a missed one stands out."""
    return "ok" if ok else "MISSED"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Plain text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  " + "  ".join([first, *rest])

    return "\n".join([line(headers), *(line(r) for r in rows)])


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict[str, Any]:
    """What the figures were taken on, and how busy it was when they started."""
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "kernel": platform.release(),
        "python": platform.python_version(),
        "librdkafka": ck.libversion()[0],
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(_git("status", "--porcelain")),
    }


def write_json(results: dict[str, Any], home: Path | None = None) -> Path:
    """``<lab home>/bench/bench-<time>.json``; the home is labctl's (--home, $LABCTL_HOME,
    ./.lab)."""
    folder = LabPaths(home or resolve_home()).bench_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
