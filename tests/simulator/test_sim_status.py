"""The status log: format, domains, layout, distributions, sticky faults, determinism."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from random import Random

import pytest

from simulator.__main__ import main
from simulator.cars import STATUS_FIELDS, STATUS_HEADER, StatusCar, status_cars
from simulator.clock import STATUS_STEPS
from simulator.manifest import Manifest
from simulator.status import chunk_steps_for, write_status_file
from tests.simulator.sim_helpers import STATUS_RE, VALID, read_lines, recount, valid_timestamp

HEADER = (
    b"SmartCar Status Information,CarNum,TireFL,TireFR,TireBL,TireBR,"
    b"LightFL,LightFR,LightBL,LightBR,EngineInfo,BreakInfo,BatteryInfo"
)


@pytest.fixture(scope="module")
def three_cars(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("status")
    manifest = write_status_file("20160101", 3, out, seed=42)
    return Path(manifest.output), manifest


def test_every_record_parses_and_is_in_domain(three_cars: tuple[Path, Manifest]) -> None:
    path, manifest = three_cars
    lines = read_lines(path)
    assert path.name == "SmartCarStatusInfo_20160101.txt"
    assert lines[:3] == [HEADER] * 3
    assert STATUS_HEADER.encode() == HEADER
    records = lines[3:]
    assert len(records) == 3 * STATUS_STEPS == 64_803
    per_car: Counter[str] = Counter()
    for raw in records:
        match = STATUS_RE.fullmatch(raw.decode("ascii"))
        assert match, raw
        ts, car, *tires = match.groups()[:6]
        assert valid_timestamp(ts) and ts.startswith("20160101")
        assert all(0 <= int(t) <= 100 for t in tires)
        assert 0 <= int(match.group(13)) <= 100
        per_car[car] += 1
    assert set(per_car.values()) == {STATUS_STEPS}
    assert per_car == manifest.per_car
    assert [car[1:] for car in per_car] == ["0001", "0002", "0003"]


def test_layout_round_robin_and_last_record_valid(three_cars: tuple[Path, Manifest]) -> None:
    path, _ = three_cars
    records = [line.decode().split(",") for line in read_lines(path)[3:]]
    cars = [r[1] for r in records[:3]]
    for step in range(STATUS_STEPS):  # one line a car per 4-s step, cars in order
        chunk = records[3 * step : 3 * step + 3]
        assert [r[1] for r in chunk] == cars
        assert len({r[0] for r in chunk}) == 1
    times = [r[0] for r in records[::3]]
    assert times[0] == "20160101000000"
    assert times[1] == "20160101000004"
    assert times[-2] == "20160101235956"
    assert times[-1] == "20160101235959"  # not the book's invalid 240000
    assert times == sorted(times)


def test_manifest_matches_an_independent_recount(three_cars: tuple[Path, Manifest]) -> None:
    path, manifest = three_cars
    lines = read_lines(path)
    count, sum64 = recount(lines)
    assert manifest.digest == {"count": count, "sum64": sum64}
    assert manifest.records == count == 3 * STATUS_STEPS
    assert manifest.header_lines == 3 and manifest.lines == len(lines)
    assert manifest.garbage == {}
    on_disk = Manifest.load(path.with_name(path.name + ".manifest.json"))
    assert on_disk.to_dict() == manifest.to_dict()
    assert on_disk.kind == "car-status" and on_disk.seed == 42
    assert on_disk.finished is not None and on_disk.started <= on_disk.finished


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    digests = []
    for name, seed, workers in (("a", 7, 1), ("b", 7, 2), ("c", 8, 1)):
        m = write_status_file("20160229", 2, tmp_path / name, seed=seed, workers=workers)
        digests.append(hashlib.sha256(Path(m.output).read_bytes()).hexdigest())
    assert digests[0] == digests[1]  # also: worker processes do not change a byte
    assert digests[0] != digests[2]


def test_garbage_is_mixed_in_counted_and_filtered(tmp_path: Path) -> None:
    m = write_status_file("20160101", 2, tmp_path, seed=1, garbage_rate=0.002)
    lines = read_lines(Path(m.output))
    garbage = [line for line in lines[2:] if not VALID.match(line)]
    assert len(lines) == m.lines == 2 + m.records + len(garbage)
    assert sum(m.garbage.values()) == len(garbage) > 40  # about 0.002 x 43,202
    assert set(m.garbage) == {
        "wrong_field_count",
        "binary_bytes",
        "invalid_utf8",
        "long_line",
        "blank",
        "bad_timestamp",
    }
    assert m.garbage["blank"] == garbage.count(b"")
    assert m.garbage["long_line"] == sum(len(g) >= 100 * 1024 for g in garbage)
    assert recount(lines) == (m.digest["count"], m.digest["sum64"])
    first = lines.index(next(g for g in garbage))
    assert first > 2  # garbage is mixed among the records, not before the headers


def test_field_distributions_within_tolerance() -> None:
    car = StatusCar(1, "K0001")
    n = 100_000
    rows = [line[:-1].split(",") for line in car.lines(Random(5), ["t,"] * n, 0)]
    tires = [int(v) for row in rows for v in row[2:6]]
    battery = [int(row[12]) for row in rows]
    engine = Counter(row[10] for row in rows)
    brake = Counter(row[11] for row in rows)
    assert sum(80 <= t <= 100 for t in tires) / len(tires) == pytest.approx(0.80, abs=0.005)
    assert sum(70 <= t <= 79 for t in tires) / len(tires) == pytest.approx(0.20, abs=0.005)
    assert sum(80 <= b <= 100 for b in battery) / n == pytest.approx(0.90, abs=0.005)
    assert sum(50 <= b <= 79 for b in battery) / n == pytest.approx(0.10, abs=0.005)
    assert engine["A"] / n == pytest.approx(0.80, abs=0.006)
    assert brake["B"] / n == pytest.approx(0.20, abs=0.006)
    assert {row[6] for row in rows} == {"1"}  # no fault drawn: the car's faults are NEVER
    assert len(set(tires)) == 31  # every value of 70-100 occurs


def test_fault_rate_matches_the_books_weight() -> None:
    cars = status_cars(seed=3, cars=3000)
    p = STATUS_FIELDS[0].fault_probability
    assert p == pytest.approx(2e-6)
    expected = 1 - (1 - p) ** STATUS_STEPS  # about 4.2 % of tires fail within a day
    failed = sum(car.fault_step[i] < STATUS_STEPS for car in cars for i in range(11))
    assert failed / (11 * len(cars)) == pytest.approx(expected, rel=0.15)


@pytest.mark.parametrize(
    ("name", "column", "healthy", "faulty"),
    [
        ("TireFL", 2, lambda v: 70 <= int(v) <= 100, lambda v: 0 <= int(v) <= 69),
        ("TireBR", 5, lambda v: 70 <= int(v) <= 100, lambda v: 0 <= int(v) <= 69),
        ("LightBL", 8, lambda v: v == "1", lambda v: v == "2"),
        ("EngineInfo", 10, lambda v: v in "AB", lambda v: v == "C"),
        ("BreakInfo", 11, lambda v: v in "AB", lambda v: v == "C"),
        ("BatteryInfo", 12, lambda v: 50 <= int(v) <= 100, lambda v: 0 <= int(v) <= 49),
    ],
)
def test_forced_fault_sticks(
    name: str, column: int, healthy: Callable[[str], bool], faulty: Callable[[str], bool]
) -> None:
    car = StatusCar(1, "K0001")
    car.force_fault(name, 1500)
    rng = Random(9)
    # chunks before, across and after the fault step: the fault sticks across chunks
    values = []
    for start, n in ((0, 900), (900, 900), (1800, 900)):
        values += [line.split(",")[column] for line in car.lines(rng, ["t,"] * n, start)]
    assert all(healthy(v) for v in values[:1500])
    assert all(faulty(v) for v in values[1500:])
    assert car.faulted(name, 1500) and not car.faulted(name, 1499)
    assert len(set(values[1500:])) > 1 or name.startswith(("Light", "Engine", "Break"))


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="YYYYMMDD"):
        write_status_file("2016-01-01", 1, tmp_path, seed=1)
    with pytest.raises(ValueError, match="no such day"):
        write_status_file("20160230", 1, tmp_path, seed=1)
    with pytest.raises(ValueError, match="cars"):
        write_status_file("20160101", 0, tmp_path, seed=1)
    with pytest.raises(ValueError, match="garbage rate"):
        write_status_file("20160101", 1, tmp_path, seed=1, garbage_rate=1.5)
    with pytest.raises(NotADirectoryError):
        write_status_file("20160101", 1, tmp_path, seed=1, spool_dir=tmp_path / "nope")
    assert list(tmp_path.iterdir()) == []


def test_small_chunks_keep_the_layout(tmp_path: Path) -> None:
    assert chunk_steps_for(100) == 900 and chunk_steps_for(9999) == 60
    progress: list[tuple[int, int]] = []
    m = write_status_file(
        "20160101", 2, tmp_path, seed=4, chunk_steps=7, on_progress=lambda *a: progress.append(a)
    )
    assert m.parameters["chunk_steps"] == 7
    assert progress[0] == (7, STATUS_STEPS) and progress[-1] == (STATUS_STEPS, STATUS_STEPS)
    records = read_lines(Path(m.output))[2:]
    assert len(records) == 2 * STATUS_STEPS
    assert all(STATUS_RE.fullmatch(r.decode()) for r in records)
    assert records[-1].startswith(b"20160101235959,")


def test_cli_car_status_with_spool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    args = ["car-status", "--date", "20160102", "--cars", "2", "--out", str(tmp_path / "out")]
    assert main([*args, "--spool", str(spool), "--seed", "5", "--garbage-rate", "0.001"]) == 0
    said = capsys.readouterr().out
    final = spool / "SmartCarStatusInfo_20160102.txt"
    lines = read_lines(final)
    assert f"wrote {len(lines)} lines ({2 * STATUS_STEPS} records, 2 headers" in said
    assert str(final) in said and "(seed 5)" in said
    m = Manifest.load(tmp_path / "out" / (final.name + ".manifest.json"))
    assert m.output == str(final) and m.parameters["spool_dir"] == str(spool)
    assert recount(lines) == (m.records, m.digest["sum64"])
    with pytest.raises(SystemExit) as exc:  # the name is taken in the spool folder now
        main([*args, "--spool", str(spool)])
    assert exc.value.code == 2
    assert "already in the spool folder" in capsys.readouterr().err


def test_cli_car_status_interrupted_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "simulator", "car-status", "--date", "20160101"]
    proc = subprocess.Popen(
        [*cmd, "--cars", "300", "--out", str(out), "--workers", "2"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    tmp = out / ".SmartCarStatusInfo_20160101.txt.tmp"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (tmp.exists() and tmp.stat().st_size > 1e6):
        time.sleep(0.01)
    proc.terminate()
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert list(out.iterdir()) == []
