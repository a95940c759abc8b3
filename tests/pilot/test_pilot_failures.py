"""Failures the pilot's checks must catch and name (real cluster, real agent process)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from labctl.checks import Check, Report
from labctl.cluster import Cluster
from labctl.pilot import agent as lab_agent
from labctl.pilot.verify import verify


def failed(report: Report, name_part: str) -> list[Check]:
    return [c for c in report.checks if name_part in c.name and not c.ok]


def kill_once_delivering(
    cluster: Cluster, sink: str, cancel: threading.Event, killed: threading.Event
) -> None:
    """SIGKILL the agent as soon as its Kafka sink has delivered records (mid-run)."""
    while not cancel.wait(0.05):
        try:
            drained = lab_agent.metrics(cluster.paths)[f"SINK.{sink}"]["EventDrainSuccessCount"]
        except (OSError, KeyError, ValueError):
            continue
        if int(drained) > 0:
            cluster.backend.kill_agent()
            killed.set()
            return


def test_agent_stopped_mid_run_fails_stage5_with_counts(
    lab_factory: Callable[..., Cluster],
) -> None:
    cluster = lab_factory(brokers=1)
    lab_agent.start(cluster)
    cancel, killed = threading.Event(), threading.Event()
    killer = threading.Thread(
        target=kill_once_delivering, args=(cluster, "DriverCarInfo_KafkaSink", cancel, killed)
    )
    killer.start()
    try:
        report = verify(cluster, {5}, cars=2, duration=5, seed=3)
    finally:
        cancel.set()
        killer.join()
        lab_agent.stop(cluster)
    assert killed.is_set(), "the agent was not killed mid-run"
    (missing,) = failed(report, "0 missing")
    assert "missing" in missing.measured and not missing.measured.startswith("0 ")
    assert "agent stopped" in missing.hint


def test_wrong_regex_lets_garbage_through(
    lab_factory: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = lab_factory(brokers=1)
    conf = tmp_path / "wrong.conf"
    conf.write_text(lab_agent.pilot_conf().read_text().replace("^\\\\d{14}", ".*"))
    lab_agent.start(cluster, conf)
    try:
        report = verify(cluster, {1, 3, 5}, cars=2, duration=3, seed=4)
    finally:
        lab_agent.stop(cluster)
    assert failed(report, "regex_filter ^\\d{14}")  # stage 1 sees the design is not realised
    assert failed(report, "no header line logged")
    (garbage,) = failed(report, "0 garbage let through")
    assert int(garbage.measured) > 0


def test_broker_down_with_rf1_fails_stage4_with_the_reason(
    lab_factory: Callable[..., Cluster],
) -> None:
    cluster = lab_factory(brokers=1)
    lab_agent.start(cluster)
    try:
        cluster.broker(0).kill()
        report = verify(cluster, {2, 4})
    finally:
        lab_agent.stop(cluster)
    assert failed(report, "every broker in metadata") or failed(report, "brokers in metadata")
    (stage4,) = [c for c in report.checks if c.stage == 4]
    assert not stage4.ok and "broker is down" in stage4.hint


def test_verify_json_schema(lab_factory: Callable[..., Cluster]) -> None:
    """The documented shape of `labctl verify --json` (docs/architecture.md)."""
    cluster = lab_factory(brokers=1)
    lab_agent.start(cluster)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "labctl", "verify", "--stage", "1,2", "--json",
             "--home", str(cluster.paths.home)], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        lab_agent.stop(cluster)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["format"] == "labctl-verify/1" and data["ok"] is True
    assert set(data) == {"format", "ok", "checks", "figures"}
    for check in data["checks"]:
        assert set(check) == {"stage", "name", "ok", "measured", "hint"}
        assert check["stage"] in (1, 2) and isinstance(check["ok"], bool)
    report_file = Path(data["figures"]["report"])
    assert json.loads(report_file.read_text())["checks"] == data["checks"]
