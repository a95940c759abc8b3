"""`labctl simulate`: drive both simulators into the running lab, with a live view."""

from __future__ import annotations

import threading
import time
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from labctl.app import app, console
from labctl.commands.options import HomeOption
from labctl.errors import NotRunningError
from labctl.lab import lab_spec
from labctl.paths import LabPaths, resolve_home
from labctl.pilot.simulation import simulate as run_simulation
from simulator.driver import DriverProgress


class _View:
    """What the live table shows, updated from the simulator threads."""

    def __init__(self, cars: int, duration: float) -> None:
        self.cars, self.duration = cars, duration
        self.began = time.monotonic()
        self.driver: DriverProgress | None = None
        self.status_done = (0, 1)
        self.handed_over = 0

    def on_driver(self, progress: DriverProgress) -> None:
        self.driver = progress

    def on_status(self, done: int, total: int) -> None:
        self.status_done = (done, total)
        if done >= total:
            self.handed_over = 1

    def render(self) -> Table:
        table = Table(title="smart-car simulator", show_header=False)
        elapsed = time.monotonic() - self.began
        d = self.driver
        rate = d.lines / d.elapsed if d and d.elapsed else 0.0
        done, total = self.status_done
        table.add_row("cars", str(self.cars))
        table.add_row("driving lines", f"{d.lines if d else 0:,} ({rate:,.0f} lines/s)")
        table.add_row("status file", f"{100 * done / total:.0f} % written")
        table.add_row("files handed over", str(self.handed_over))
        table.add_row("elapsed", f"{elapsed:.0f} s of {self.duration:g} s")
        return table


@app.command()
def simulate(
    cars: Annotated[int, typer.Option(min=1, help="Smart cars.")] = 100,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of driving logs.")] = 60,
    date: Annotated[str, typer.Option(help="Simulated day, yyyyMMdd.")] = "20160101",
    seed: Annotated[int | None, typer.Option(help="Seed (same seed, same data).")] = None,
    home: HomeOption = None,
) -> None:
    """Write the day's status file into the spool dir and the driving log in real time."""
    paths = LabPaths(resolve_home(home))
    if lab_spec(paths) is None:
        raise NotRunningError(f"there is no lab in {paths.home}; start one with `labctl up`.")
    view = _View(cars, duration)
    stop = threading.Event()
    with Live(view.render(), console=console, refresh_per_second=4) as live:
        ticker = threading.Thread(target=lambda: _tick(live, view, stop), daemon=True)
        ticker.start()
        try:
            run = run_simulation(paths, cars, duration, seed, date, view.on_driver,
                                 view.on_status, stop)  # fmt: skip
        finally:
            stop.set()
            ticker.join()
        live.update(view.render())
    console.print(
        f"status file: {run.status.records:,} records of {cars} cars handed to {run.spooled}\n"
        f"driving log: {run.driver.records:,} records, {run.driver.garbage_lines} garbage lines"
        f" -> {paths.realtime_log}\nmanifests: {run.run_dir} "
        "(check them with `labctl verify --stage 5`, or read docs/simulator.md)"
    )


def _tick(live: Live, view: _View, stop: threading.Event) -> None:
    while not stop.wait(0.25):
        live.update(view.render())
