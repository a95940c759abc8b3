"""The shipped agent configs are the book's, differing only in paths and brokers."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.config.properties import load_properties
from labctl.pilot.agent import EXAMPLES, pilot_conf
from tests.conftest import shared

BOOK_ENV = {"SMARTCAR_WORKING": "/home/pilot-pjt/working",
            "SMARTCAR_BROKERS": "server02.hadoop.com:9092"}  # fmt: skip


def entries(path: str | Path, env: dict[str, str] | None = None) -> dict[str, str]:
    props = load_properties(str(path), env or {})
    assert not [p for p in props.problems if p.severity == "error"], props.problems
    return {k: e.value.strip() for k, e in props.entries.items()}


@pytest.mark.parametrize("example", ["3.1", "3.2", "3.4"])
def test_same_topology_and_properties_as_the_book(example: str) -> None:
    book = entries(shared("pilot", "book-conf", f"ex{example}-SmartCar_Agent.conf"))
    ours = entries(pilot_conf(example), BOOK_ENV)
    assert ours == book


def test_ex42_replaces_only_the_hdfs_sink_with_file_roll():
    book = entries(shared("pilot", "book-conf", "ex4.2-SmartCar_Agent.conf"))
    ours = entries(pilot_conf("4.2"), BOOK_ENV)
    hdfs, roll = "SmartCarInfo_HdfsSink", "SmartCarInfo_FileRollSink"
    prefix = "SmartCar_Agent.sinks."
    assert ours[prefix + roll + ".type"] == "file_roll"
    assert ours[prefix + roll + ".channel"] == book[prefix + hdfs + ".channel"]
    assert ours["SmartCar_Agent.sinks"].split() == [
        roll if s == hdfs else s for s in book["SmartCar_Agent.sinks"].split()
    ]
    rest = {k: v for k, v in book.items() if not k.startswith(prefix + hdfs)}
    rest.pop("SmartCar_Agent.sinks")
    mine = {k: v for k, v in ours.items() if not k.startswith(prefix + roll)}
    mine.pop("SmartCar_Agent.sinks")
    assert mine == rest  # timestamp, static, CollectDay and regex interceptors as the book


def test_every_example_is_shipped_and_checks_clean(tmp_path):
    import subprocess
    import sys

    working = tmp_path / "working"
    for d in ("car-batch-log", "driver-realtime-log", "SmartCar"):
        (working / d).mkdir(parents=True)
    env = {"SMARTCAR_WORKING": str(working), "SMARTCAR_BROKERS": "127.0.0.1:9092",
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    for example in EXAMPLES:
        result = subprocess.run([sys.executable, "-m", "agents", "-f", str(pilot_conf(example)),
                                 "-n", "SmartCar_Agent", "--check"],
                                capture_output=True, text=True, env=env)  # fmt: skip
        assert result.returncode == 0, (example, result.stdout)
        assert "0 error(s)" in result.stdout
