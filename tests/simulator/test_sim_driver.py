"""The driving log: driver models, real-time appends, rotation, clean stops on signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from statistics import mean

import pytest

from simulator.cars import (
    AGGRESSIVE,
    CONGESTED,
    DRIVER_HEADER,
    NORMAL,
    DriverCar,
    aggressive_indexes,
    driver_cars,
)
from simulator.driver import DriverProgress, run_driver
from simulator.manifest import Manifest, manifest_path
from tests.simulator.sim_helpers import DRIVER_RE, VALID, read_lines, recount, valid_timestamp

HEADER = b"Driver Status Infomation,CarNum,AccStep,BrkStep,WheelStep,DirLightStep,Speed,AreaNum"
REPO = Path(__file__).resolve().parents[2]


def steps(aggressive: bool, n: int = 30_000, seed: int = 4) -> list[tuple]:
    car = DriverCar.create(seed, 1, aggressive)
    return [car.step() for _ in range(n)]


def test_accelerator_weights_normal_and_aggressive() -> None:
    for aggressive, profile in ((False, NORMAL), (True, AGGRESSIVE)):
        drawn = steps(aggressive)
        counts = Counter(acc for acc, *_ in drawn)
        total = sum(profile.acc_weights)
        for acc, weight in enumerate(profile.acc_weights):
            assert counts[acc] / len(drawn) == pytest.approx(weight / total, abs=0.012)


def test_driving_rules_hold() -> None:
    for aggressive in (False, True):
        car = DriverCar.create(11, 2, aggressive)
        for _ in range(20_000):
            before = car.speed
            acc, brk, wheel, light, speed, area = car.step()
            assert 0 <= speed <= 250
            assert brk == 0 or acc == 0  # the brake only when not accelerating
            assert area[0] == car.area and 1 <= int(area[1:]) <= 10
            if not aggressive:
                assert light == ("N" if wheel == "F" else wheel[0])
            if area not in CONGESTED and acc > 0:
                assert speed == min(before + car.profile.acc_speed[acc], 250)


def test_aggressive_drivers_are_faster_and_signal_at_random() -> None:
    normal, aggressive = steps(False), steps(True)
    assert mean(s[4] for s in aggressive) > 1.5 * mean(s[4] for s in normal)
    wrong = sum(
        light != ("N" if wheel == "F" else wheel[0]) for _, _, wheel, light, *_ in aggressive
    )
    assert wrong > len(aggressive) * 0.3
    assert Counter(s[2] for s in aggressive)["F"] / len(aggressive) == pytest.approx(0.4, abs=0.02)
    assert Counter(s[2] for s in normal)["F"] / len(normal) == pytest.approx(0.7, abs=0.02)


def test_ten_percent_aggressive_by_seed() -> None:
    assert len(aggressive_indexes(1, 100)) == 10
    assert aggressive_indexes(1, 100) == aggressive_indexes(1, 100)
    assert aggressive_indexes(1, 100) != aggressive_indexes(2, 100)
    cars = driver_cars(1, 100)
    assert sum(car.aggressive for car in cars) == 10
    assert [car.carnum[1:] for car in cars[:2]] == ["0001", "0002"]


def test_run_writes_valid_records_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "SmartCarDriverInfo.log"
    progress: list[DriverProgress] = []
    m = run_driver("20160101", 4, out, rate=2000, records=400, seed=3, on_progress=progress.append)
    lines = read_lines(out)
    assert lines[:4] == [HEADER] * 4 and DRIVER_HEADER.encode() == HEADER
    records = [r for line in lines[4:] if (r := DRIVER_RE.fullmatch(line.decode()))]
    assert len(records) == len(lines) - 4 == 400 == m.records
    assert Counter(r.group(2) for r in records) == m.per_car == dict.fromkeys(m.per_car, 100)
    stamps = [r.group(1) for r in records[::4]]
    assert stamps[:2] == ["20160101000000", "20160101000002"]  # +2 s a record
    assert all(valid_timestamp(s) for s in stamps)
    assert recount(lines) == (m.digest["count"], m.digest["sum64"])
    assert Manifest.load(manifest_path(out)).to_dict() == m.to_dict()
    assert m.kind == "driver" and m.rotated == [] and m.lines == len(lines)
    assert progress[-1].records == 400 and progress[-1].lines == len(lines)


def test_clock_rolls_into_the_next_day(tmp_path: Path) -> None:
    out = tmp_path / "d.log"
    run_driver("20161231", 1, out, rate=1e6, records=43_201, seed=1)
    last = read_lines(out)[-1].decode()
    assert last.startswith("20170101000000,")


def test_same_seed_same_records(tmp_path: Path) -> None:
    runs = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        run_driver("20160101", 3, tmp_path / name, rate=1e5, records=300, seed=seed)
        runs.append((tmp_path / name).read_bytes())
    assert runs[0] == runs[1] != runs[2]


def test_garbage_in_driver_log(tmp_path: Path) -> None:
    out = tmp_path / "d.log"
    m = run_driver("20160101", 5, out, rate=1e5, records=3000, seed=2, garbage_rate=0.05)
    lines = read_lines(out)
    garbage = [line for line in lines[5:] if not VALID.match(line)]
    assert sum(m.garbage.values()) == len(garbage) == len(lines) - 5 - 3000
    assert 80 < len(garbage) < 230
    assert recount(lines) == (3000, m.digest["sum64"])


def test_rotation_keeps_five_and_loses_no_line_of_the_kept_files(tmp_path: Path) -> None:
    out = tmp_path / "d.log"
    m = run_driver("20160101", 3, out, rate=1e5, records=90, seed=1, rotate_bytes=1000)
    assert m.rotated is not None and m.rotations is not None
    files = [Path(p) for p in m.rotated]
    assert [p.name for p in files] == ["d.log.1", "d.log.2", "d.log.3"]
    assert m.rotations == 3
    everything = []
    for path in [*reversed(files), out]:  # oldest first
        lines = read_lines(path)
        everything += lines
        assert path.stat().st_size <= 1000 + 3 * 60 + 3 * 90  # rotated soon after the limit
    assert recount(everything) == (90, m.digest["sum64"])
    assert len(everything) == m.lines

    many = run_driver("20160101", 3, tmp_path / "e.log", rate=1e5, records=900, rotate_bytes=500)
    assert many.rotated is not None and many.rotations is not None
    assert many.rotations > 5
    assert [Path(p).name for p in many.rotated] == [f"e.log.{n}" for n in range(1, 6)]
    assert not (tmp_path / "e.log.6").exists()


def test_stop_event_ends_an_open_ended_run(tmp_path: Path) -> None:
    stop = threading.Event()
    result: dict[str, Manifest] = {}
    out = tmp_path / "d.log"
    thread = threading.Thread(
        target=lambda: result.update(m=run_driver("20160101", 2, out, rate=50, stop_event=stop))
    )
    thread.start()
    time.sleep(0.3)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
    m = result["m"]
    assert 10 <= m.records <= 50
    assert m.lines == len(read_lines(out))


def test_duration_paces_in_real_time(tmp_path: Path) -> None:
    began = time.monotonic()
    m = run_driver("20160101", 3, tmp_path / "d.log", rate=20, duration=0.5, seed=1)
    elapsed = time.monotonic() - began
    assert m.records == 30  # 10 ticks of 3 cars
    assert 0.4 <= elapsed < 1.5


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_driver_stops_cleanly_on_signal(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "SmartCarDriverInfo.log"
    cmd = [sys.executable, "-m", "simulator", "driver", "--date", "20160101", "--cars", "20"]
    proc = subprocess.Popen(
        [*cmd, "--out", str(out), "--rate", "100", "--seed", "1", "--garbage-rate", "0.01"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 20_000):
            time.sleep(0.02)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    match = re.search(r"wrote (\d+) lines \((\d+) records", stdout)
    assert match, stdout
    data = out.read_bytes()
    assert data.endswith(b"\n")  # no partial last line
    assert int(match.group(1)) == data.count(b"\n")
    m = Manifest.load(manifest_path(out))
    assert m.records == int(match.group(2)) > 200
    assert recount(data[:-1].split(b"\n")) == (m.records, m.digest["sum64"])


def test_cli_refuses_bad_arguments_in_one_line(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "simulator"]
    tmp = str(tmp_path)
    cases = [
        ["driver", "--date", "20160230", "--cars", "1", "--out", str(tmp_path / "d.log")],
        ["driver", "--date", "20160101", "--cars", "1", "--out", str(tmp_path / "no/d.log")],
        ["driver", "--date", "20160101", "--cars", "1", "--out", str(tmp_path)],
        ["car-status", "--date", "2016011", "--cars", "1", "--out", str(tmp_path)],
        ["car-status", "--date", "20160101", "--cars", "1", "--out", tmp, "--spool", tmp + "/no"],
        ["car-status", "--date", "20160101", "--cars", "x", "--out", str(tmp_path)],
    ]
    for args in cases:
        done = subprocess.run([*base, *args], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and "error:" in done.stderr, done.stderr
    assert os.listdir(tmp_path) == []
