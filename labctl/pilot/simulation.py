"""One simulator run against the lab: the day's status file into the spool dir and the driving
log appended in real time, at once, as the book's stage 5 runs both simulators.

Each run gets a folder under ``<home>/runs/`` with both manifests, and starts a new driving log
(the previous one is moved into the run folder), so every run can be checked on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labctl.errors import LabError
from labctl.paths import LabPaths
from simulator.clock import parse_date
from simulator.driver import DriverProgress, run_driver
from simulator.handoff import check_free
from simulator.manifest import Manifest
from simulator.status import status_file_name, write_status_file

DRIVER_GARBAGE_RATE = 0.01  # malformed driving lines for the filter to drop
TAIL_NOTICE = 1.5  # s for `tail -F` to notice a new log file before lines arrive


@dataclass
class SimulationRun:
    run_dir: Path
    status: Manifest
    driver: Manifest
    started: float  # time.monotonic() when the driver started

    @property
    def spooled(self) -> Path:
        """Where the status file was handed over (gone once the agent consumed it)."""
        return Path(self.status.parameters["spool_dir"]) / Path(self.status.output).name


def simulate(
    paths: LabPaths,
    cars: int,
    duration: float,
    seed: int | None = None,
    date: str = "20160101",
    on_driver: Callable[[DriverProgress], None] | None = None,
    on_status: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> SimulationRun:
    name = status_file_name(parse_date(date))
    try:
        check_free(paths.spool_dir, name)
    except FileExistsError as exc:
        raise LabError(
            f"{exc.filename} is still in the spool dir: the agent has not consumed the last "
            "status file of that day; start it (`labctl agent start`) or pick another --date."
        ) from None
    run_dir = paths.runs_dir / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    for d in paths.working_dirs():
        d.mkdir(parents=True, exist_ok=True)
    realtime = paths.realtime_log
    if realtime.exists():
        realtime.rename(run_dir / "previous-driver.log")  # tail -F follows the new file
        time.sleep(TAIL_NOTICE)
    box: dict[str, Manifest] = {}
    failure: list[BaseException] = []

    def drive() -> None:
        try:
            box["driver"] = run_driver(date, cars, realtime, duration=duration, seed=seed,
                                       garbage_rate=DRIVER_GARBAGE_RATE, stop_event=stop,
                                       on_progress=on_driver)  # fmt: skip
        except BaseException as exc:  # re-raised on the calling thread
            failure.append(exc)

    started = time.monotonic()
    driver_thread = threading.Thread(target=drive, name="driver", daemon=True)
    driver_thread.start()
    status = write_status_file(date, cars, paths.status_staging_dir, seed=seed,
                               spool_dir=paths.spool_dir, on_progress=on_status)  # fmt: skip
    driver_thread.join()
    if failure:
        raise failure[0]
    driver = box["driver"]
    for manifest in (status, driver):
        manifest.write(run_dir / f"{manifest.kind}.manifest.json")
    return SimulationRun(run_dir, status, driver, started)
