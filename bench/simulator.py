"""Benchmark of the status simulator: a 100-car day (2,160,100 records) against 10 s
(``--quick``: a 10-car day, not judged).

Run with ``python -m bench simulator`` or ``python -m bench.simulator``. Writes into a
temporary folder; measures in-process with 1 worker and with 2 worker processes, and the
CLI end to end (``python -m simulator car-status``, its default workers).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.options import Options
from simulator.status import write_status_file

CARS = 100
TARGET_SECONDS = 10.0
DATE = "20160101"


def _row(label: str, seconds: float, records: int, size: int, target: float | None) -> str:
    out = (
        f"{label:<26} {seconds:7.2f} s {records / seconds:12,.0f} rec/s "
        f"{size / seconds / 1e6:7.1f} MB/s"
    )
    if target is None:
        return out + "   (a try-out: the target is judged on the 100-car day)"
    verdict = "ok" if seconds <= target else "MISSED"
    return out + f"   target {target:.0f} s  ratio {target / seconds:5.2f}x  {verdict}"


def run(options: Options | None = None) -> dict[str, float]:
    """Print the figures; return ``{label: seconds}``."""
    cars = options.cars if options is not None else CARS
    target = TARGET_SECONDS if cars == CARS else None
    print(f"simulator car-status: {cars} cars, one day, {os.cpu_count()} CPUs")
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        for workers in (1, 2):
            out = Path(tmp) / f"w{workers}"
            began = time.perf_counter()
            manifest = write_status_file(DATE, cars, out, seed=1, workers=workers)
            seconds = time.perf_counter() - began
            size = Path(manifest.output).stat().st_size
            label = f"api, {workers} worker{'s' if workers > 1 else ''}"
            print(_row(label, seconds, manifest.records, size, target))
            results[label] = round(seconds, 3)
        out = Path(tmp) / "cli"
        cmd = [sys.executable, "-m", "simulator", "car-status", "--date", DATE]
        began = time.perf_counter()
        subprocess.run(
            [*cmd, "--cars", str(cars), "--out", str(out), "--seed", "1"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - began
        path = out / f"SmartCarStatusInfo_{DATE}.txt"
        print(_row("cli (default workers)", seconds, cars * 21_601, path.stat().st_size, target))
        results["cli"] = round(seconds, 3)
    return results


if __name__ == "__main__":
    run()
