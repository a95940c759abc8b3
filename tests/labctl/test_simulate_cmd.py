"""`labctl simulate` into a lab home: files where the agent expects them, manifests per run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from labctl.cluster import ClusterSpec
from labctl.paths import LabPaths
from simulator.manifest import Digest, Manifest


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labctl", "simulate", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})  # fmt: skip


def test_simulate_hands_over_the_day_and_writes_the_driving_log(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path / "lab")
    paths.home.mkdir()
    paths.state_file.write_text(json.dumps(ClusterSpec().to_json()))  # a lab, not running
    result = run(paths.home, "--cars", "2", "--duration", "2", "--seed", "5")
    assert result.returncode == 0, result.stderr
    spooled = paths.spool_dir / "SmartCarStatusInfo_20160101.txt"
    assert spooled.exists()
    (run_dir,) = list(paths.runs_dir.iterdir())
    status = Manifest.load(run_dir / "car-status.manifest.json")
    driver = Manifest.load(run_dir / "driver.manifest.json")
    assert status.records == 2 * 21_601
    lines = paths.realtime_log.read_bytes().splitlines()
    assert len(lines) == driver.lines and driver.records > 0
    recount = Digest()
    recount.add_many(line for line in lines if line[:14].isdigit())
    assert recount == driver.record_digest
    assert str(run_dir) in " ".join(result.stdout.split())
    # the day's file is still waiting (no agent): a second run says so in one sentence
    again = run(paths.home, "--cars", "1", "--duration", "1")
    assert again.returncode == 1
    assert "still in the spool dir" in again.stderr and "Traceback" not in again.stderr


def test_simulate_without_a_lab_is_exit_6(tmp_path: Path) -> None:
    result = run(tmp_path / "nolab")
    assert result.returncode == 6 and "labctl up" in result.stderr
