"""The batch status log: ``SmartCarStatusInfo_<yyyyMMdd>.txt``, one file a day.

Layout: one header line per car first (car order), then, for each 4-s step of the day, one
record per car (car order). 21,601 steps a car; the last is clamped to 23:59:59 instead of
the book's invalid ``240000``. The day is generated in chunks of steps, each from its own
RNG derived from (seed, car, chunk), so chunks can be made in parallel worker processes and
the file is the same byte for byte whatever the number of workers.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date
from itertools import chain
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from random import Random

from simulator.cars import MAX_CARS, STATUS_HEADER, StatusCar, status_cars, status_rng
from simulator.clock import STATUS_STEPS, parse_date, status_timestamps
from simulator.garbage import GarbageMixer, check_rate
from simulator.handoff import check_free, hand_off, publish, temp_name
from simulator.manifest import Digest, Manifest, line_digest, now_iso
from simulator.seeds import resolve_seed

CHUNK_STEPS = 900  # one hour of 4-s steps, the most a chunk holds
CHUNK_RECORDS = 200_000  # fewer steps a chunk for many cars: memory stays bounded
MIN_CHUNK_STEPS = 60  # each chunk seeds one RNG a car: keep that cost small
PARALLEL_MIN_RECORDS = 400_000  # below this, worker start-up costs more than it saves

ChunkResult = tuple[list[bytes], int, int, dict[str, int]]


def status_file_name(day: date) -> str:
    return f"SmartCarStatusInfo_{day:%Y%m%d}.txt"


def make_chunk(
    day: date,
    seed: int,
    cars: list[StatusCar],
    garbage_rate: float,
    chunk: int,
    start: int,
    stop: int,
) -> ChunkResult:
    """Steps ``start..stop-1`` of every car, interleaved: ``(pieces, count, sum64, garbage)``."""
    prefixes = [ts + "," for ts in status_timestamps(day, start, stop)]
    per_car = [car.lines(status_rng(seed, car.index, chunk), prefixes, start) for car in cars]
    lines = list(chain.from_iterable(zip(*per_car, strict=True)))
    valid = "".join(lines).encode("ascii")
    count, sum64 = line_digest(valid.split(b"\n")[:-1])
    if garbage_rate <= 0.0:
        return [valid], count, sum64, {}
    mixer = GarbageMixer(Random(f"smartcar/{seed}/status-garbage/{chunk}"), garbage_rate)
    pieces = mixer.mix(lines)
    return pieces, count, sum64, dict(mixer.counts)


_worker_cars: list[StatusCar] = []


def _init_worker(cars: list[StatusCar]) -> None:
    _worker_cars[:] = cars  # sent once a worker, not with every chunk


def _chunk_job(day: date, seed: int, rate: float, chunk: int, start: int, stop: int) -> ChunkResult:
    return make_chunk(day, seed, _worker_cars, rate, chunk, start, stop)


def _pool(workers: int, cars: list[StatusCar]) -> ProcessPoolExecutor:
    method = "forkserver" if "forkserver" in get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(
        workers, mp_context=get_context(method), initializer=_init_worker, initargs=(cars,)
    )


Span = tuple[int, int, int]  # chunk number, first step, step after the last


def generate_chunks(
    day: date, seed: int, cars: list[StatusCar], rate: float, spans: list[Span], workers: int
) -> Iterator[tuple[ChunkResult, int]]:
    """``(result, stop)`` of each span, in order; at most 2 chunks a worker in flight."""
    if workers <= 1:
        for chunk, start, stop in spans:
            yield make_chunk(day, seed, cars, rate, chunk, start, stop), stop
        return
    with _pool(workers, cars) as pool:
        pending: deque[tuple[Future[ChunkResult], int]] = deque()
        try:
            for chunk, start, stop in spans:
                pending.append((pool.submit(_chunk_job, day, seed, rate, chunk, start, stop), stop))
                if len(pending) >= 2 * workers:
                    future, done = pending.popleft()
                    yield future.result(), done
            while pending:
                future, done = pending.popleft()
                yield future.result(), done
        finally:
            for future, _ in pending:
                future.cancel()


def chunk_steps_for(cars: int) -> int:
    """Steps a chunk: 900 up to 222 cars, then fewer (not under 60), about 200k records."""
    return max(MIN_CHUNK_STEPS, min(CHUNK_STEPS, CHUNK_RECORDS // cars))


def default_workers(cars: int) -> int:
    """Worker processes worth starting for ``cars`` cars (the CLI's default)."""
    if cars * STATUS_STEPS < PARALLEL_MIN_RECORDS:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def write_status_file(
    date: str | date,
    cars: int,
    out_dir: str | os.PathLike[str],
    seed: int | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    garbage_rate: float = 0.0,
    *,
    workers: int = 1,
    chunk_steps: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Manifest:
    """Write the day's status file into ``out_dir`` (atomically), optionally hand it to
    ``spool_dir``, and write its manifest ``<name>.manifest.json`` into ``out_dir``.

    The manifest stays in ``out_dir`` even after a hand-off, so a spooldir source never
    ingests it. ``on_progress(steps_done, steps_total)`` is called after each chunk.
    ``workers`` > 1 generates chunks in that many processes (forkserver/spawn: a calling
    script needs the ``if __name__ == "__main__":`` guard); the bytes are the same.
    """
    day = parse_date(date) if isinstance(date, str) else date
    if not 1 <= cars <= MAX_CARS:
        raise ValueError(f"cars must be between 1 and {MAX_CARS}, not {cars}")
    check_rate(garbage_rate)
    seed = resolve_seed(seed)
    out = Path(out_dir)
    spool = Path(spool_dir) if spool_dir is not None else None
    if spool is not None and not spool.is_dir():
        raise NotADirectoryError(f"spool folder {spool} does not exist or is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    final = out / status_file_name(day)
    if spool is not None:
        check_free(spool, final.name)
    manifest = Manifest(
        kind="car-status",
        seed=seed,
        parameters={
            "date": f"{day:%Y%m%d}",
            "cars": cars,
            "out_dir": str(out),
            "spool_dir": None if spool is None else str(spool),
            "garbage_rate": garbage_rate,
        },
        output=str(final),
    )
    models = status_cars(seed, cars)
    workers = max(1, workers)
    chunk_steps = chunk_steps_for(cars) if chunk_steps is None else chunk_steps
    manifest.parameters["chunk_steps"] = chunk_steps  # the bytes depend on it
    spans = [
        (n, start, min(start + chunk_steps, STATUS_STEPS))
        for n, start in enumerate(range(0, STATUS_STEPS, chunk_steps))
    ]
    digest = Digest()
    garbage: Counter[str] = Counter()
    tmp = temp_name(final)
    lines = cars
    try:
        with open(tmp, "wb") as fh:
            fh.write(((STATUS_HEADER + "\n") * cars).encode("ascii"))
            chunks = generate_chunks(day, seed, models, garbage_rate, spans, workers)
            for (pieces, count, sum64, kinds), stop in chunks:
                fh.writelines(pieces)
                digest.merge(count, sum64)
                garbage.update(kinds)
                lines += count + sum(kinds.values())
                if on_progress is not None:
                    on_progress(stop, STATUS_STEPS)
        publish(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if spool is not None:
        manifest.output = str(hand_off(final, spool))
    manifest.header_lines = cars
    manifest.records = digest.count
    manifest.per_car = {car.carnum: STATUS_STEPS for car in models}
    manifest.digest = digest.to_dict()
    manifest.garbage = dict(sorted(garbage.items()))
    manifest.lines = lines
    manifest.finished = now_iso()
    manifest.write(out / (final.name + ".manifest.json"))
    return manifest
