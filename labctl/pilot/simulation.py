"""One simulator run against the lab: the day's status file into the spool dir and the driving
log appended in real time, at once, as the book's stage 5 runs both simulators.

Each run gets a folder under ``<home>/runs/`` with both manifests. The driving log is never
renamed or replaced while the agent's ``tail -F`` follows it: a run appends to it, and records
the byte offset where its lines begin (``SimulationRun.driver_offset``), so every run can be
checked on its own. While a run writes, it holds ``run/simulation.lock``; a new agent archives
the finished log of earlier runs only when no run holds it (``labctl.pilot.agent``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
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


@dataclass
class SimulationRun:
    run_dir: Path
    status: Manifest
    driver: Manifest
    started: float  # time.monotonic() when the driver started
    driver_offset: int  # byte offset of the driving log where this run's lines begin

    @property
    def spooled(self) -> Path:
        """Where the status file was handed over (gone once the agent consumed it)."""
        return Path(self.status.parameters["spool_dir"]) / Path(self.status.output).name


class SimulationBusy(LabError):
    """Another run holds the lab's simulation lock."""


def lock_file(paths: LabPaths) -> Path:
    return paths.run_dir / "simulation.lock"


@contextlib.contextmanager
def simulation_lock(paths: LabPaths) -> Iterator[None]:
    """Held while a run writes the driving log (or the agent archives it); SimulationBusy if
    someone else holds it. An flock: it goes with the process, even on SIGKILL."""
    path = lock_file(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SimulationBusy(
                "another simulation is writing the driving log of this lab; wait for it to "
                "end (or stop it with Ctrl-C)."
            ) from None
        yield
    finally:
        os.close(fd)


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
    with simulation_lock(paths):
        return _run(paths, cars, duration, seed, date, on_driver, on_status, stop)


def _run(
    paths: LabPaths,
    cars: int,
    duration: float,
    seed: int | None,
    date: str,
    on_driver: Callable[[DriverProgress], None] | None,
    on_status: Callable[[int, int], None] | None,
    stop: threading.Event | None,
) -> SimulationRun:
    run_dir = _new_run_dir(paths)
    for d in paths.working_dirs():
        d.mkdir(parents=True, exist_ok=True)
    realtime = paths.realtime_log
    # Append to the log the agent follows: a rename here would race with tail -F.
    offset = realtime.stat().st_size if realtime.exists() else 0
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
    return SimulationRun(run_dir, status, driver, started, offset)


def _new_run_dir(paths: LabPaths) -> Path:
    """``runs/<yyyymmdd-hhmmss>``, with a suffix if a run already started in that second."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(100):
        run_dir = paths.runs_dir / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            continue
    raise LabError(f"too many runs started in one second under {paths.runs_dir}")
