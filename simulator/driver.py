"""The real-time driving log: ``SmartCarDriverInfo.log``, appended as cars drive.

One thread runs a tick loop: every ``1/rate`` s it writes one record per car (simulated
clock +2 s a tick, shared by all cars) in a single ``os.write`` of whole lines to a file
opened with ``O_APPEND``, so a tailing reader never sees half a line. The first batch
starts with one header line per car. The run ends after ``duration`` seconds of schedule,
after ``records`` records in total, or when ``stop_event`` is set (the CLI sets it on
SIGINT/SIGTERM), always between two batches.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from random import Random

from simulator.cars import DRIVER_HEADER, MAX_CARS, driver_cars
from simulator.clock import parse_date, timestamp_at
from simulator.garbage import GarbageMixer, check_rate
from simulator.manifest import Digest, Manifest, manifest_path, now_iso
from simulator.seeds import resolve_seed

SECONDS_PER_RECORD = 2  # the simulated clock advances 2 s a record
KEEP_ROTATED = 5
PROGRESS_EVERY = 1.0  # seconds between on_progress calls


@dataclass(frozen=True)
class DriverProgress:
    """Totals so far, passed to ``on_progress`` about once a second and at the end."""

    lines: int
    records: int
    garbage: int
    elapsed: float
    rotations: int


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` ``data`` whole (one call unless the kernel writes short)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def rotate(path: Path, keep: int = KEEP_ROTATED) -> list[Path]:
    """``path`` -> ``path.1``, shifting ``.1`` -> ``.2`` ... (``.{keep}`` dropped)."""
    for n in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))
    return rotated_files(path, keep)


def rotated_files(path: Path, keep: int = KEEP_ROTATED) -> list[Path]:
    """The rotated copies of ``path`` that exist, newest first."""
    names = (path.with_name(f"{path.name}.{n}") for n in range(1, keep + 1))
    return [p for p in names if p.exists()]


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)


def run_driver(
    date: str | date,
    cars: int,
    out: str | os.PathLike[str],
    rate: float = 10.0,
    duration: float | None = None,
    records: int | None = None,
    seed: int | None = None,
    rotate_bytes: int | None = None,
    garbage_rate: float = 0.0,
    stop_event: threading.Event | None = None,
    on_progress: Callable[[DriverProgress], None] | None = None,
) -> Manifest:
    """Append driving records to ``out`` in real time; write ``<out>.manifest.json``.

    ``rate``: records a second per car. ``records``: total records (all cars) to write.
    With neither ``duration`` nor ``records``, runs until ``stop_event`` is set.
    """
    day = parse_date(date) if isinstance(date, str) else date
    if not 1 <= cars <= MAX_CARS:
        raise ValueError(f"cars must be between 1 and {MAX_CARS}, not {cars}")
    if not rate > 0:
        raise ValueError(f"rate must be positive, not {rate}")
    if duration is not None and duration < 0:
        raise ValueError(f"duration must not be negative, not {duration}")
    if records is not None and records < 0:
        raise ValueError(f"records must not be negative, not {records}")
    if rotate_bytes is not None and rotate_bytes <= 0:
        raise ValueError(f"rotate_bytes must be positive, not {rotate_bytes}")
    check_rate(garbage_rate)
    seed = resolve_seed(seed)
    path = Path(out)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a log file")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist")
    stop = stop_event if stop_event is not None else threading.Event()
    manifest = Manifest(
        kind="driver",
        seed=seed,
        parameters={
            "date": f"{day:%Y%m%d}",
            "cars": cars,
            "out": str(path),
            "rate": rate,
            "duration": duration,
            "records": records,
            "rotate_bytes": rotate_bytes,
            "garbage_rate": garbage_rate,
        },
        output=str(path),
        rotated=[],
    )
    models = driver_cars(seed, cars)
    per_car = dict.fromkeys((car.carnum for car in models), 0)
    mixer = GarbageMixer(Random(f"smartcar/{seed}/driver-garbage"), garbage_rate)
    until_garbage = mixer.gap()
    digest = Digest()
    interval = 1.0 / rate
    ticks = None if duration is None else int(duration * rate + 0.5)
    lines = written = rotations = 0
    header = ((DRIVER_HEADER + "\n") * cars).encode("ascii")

    fd = _open_append(path)
    size = os.fstat(fd).st_size
    start = time.monotonic()
    last_progress = start
    tick = 0
    try:
        while not stop.is_set():
            if ticks is not None and tick >= ticks:
                break
            if records is not None and written >= records:
                break
            stamp = timestamp_at(day, tick * SECONDS_PER_RECORD)
            batch = models if records is None else models[: records - written]
            pieces: list[bytes] = [header] if tick == 0 else []
            for car in batch:
                line = car.line(stamp).encode("ascii")
                digest.add(line)
                pieces.append(line + b"\n")
                per_car[car.carnum] += 1
                if until_garbage == 0:
                    pieces.append(mixer.line(car.carnum) + b"\n")
                    until_garbage = mixer.gap()
                else:
                    until_garbage -= 1
            data = b"".join(pieces)
            write_all(fd, data)
            lines += len(pieces) + (cars - 1 if tick == 0 else 0)
            written += len(batch)
            size += len(data)
            if rotate_bytes is not None and size > rotate_bytes:
                os.close(fd)
                fd = -1
                rotate(path)
                rotations += 1
                fd = _open_append(path)
                size = 0
            tick += 1
            now = time.monotonic()
            if on_progress is not None and now - last_progress >= PROGRESS_EVERY:
                last_progress = now
                on_progress(
                    DriverProgress(lines, written, mixer.counts.total(), now - start, rotations)
                )
            delay = start + tick * interval - now
            if delay > 0:
                stop.wait(delay)
    finally:
        if fd >= 0:
            os.close(fd)
    if on_progress is not None:
        on_progress(
            DriverProgress(
                lines, written, mixer.counts.total(), time.monotonic() - start, rotations
            )
        )
    manifest.header_lines = cars if tick > 0 else 0
    manifest.records = written
    manifest.per_car = per_car
    manifest.digest = digest.to_dict()
    manifest.garbage = dict(sorted(mixer.counts.items()))
    manifest.lines = lines
    manifest.rotated = [str(p) for p in rotated_files(path)]
    manifest.rotations = rotations
    manifest.finished = now_iso()
    manifest.write(manifest_path(path))
    return manifest
