"""labctl as a user runs it: real processes, exit codes and one-sentence errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port_block

LABCTL = [sys.executable, "-m", "labctl"]


def labctl(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LABCTL, *args], capture_output=True, text=True, timeout=180,
                          env=env or os.environ.copy(), input=stdin)  # fmt: skip


def one_sentence_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: "), result.stderr
    return " ".join(result.stderr.split())


@pytest.mark.kafka
def test_up_status_idempotent_down(tmp_path: Path) -> None:
    home = str(tmp_path / "lab")
    base = free_port_block(2)
    up = ["up", "--home", home, "--brokers", "1", "--zookeeper-port", str(base),
          "--base-port", str(base + 1)]  # fmt: skip
    try:
        first = labctl(*up)
        assert first.returncode == 0, first.stderr
        assert "ready in" in first.stdout
        pids = {
            c["component"]: c["where"]
            for c in json.loads(labctl("status", "--json", "--home", home).stdout)["components"]
        }
        again = labctl(*up)
        assert again.returncode == 0
        status = json.loads(labctl("status", "--json", "--home", home).stdout)
        assert {c["component"]: c["where"] for c in status["components"]} == pids  # one cluster
        assert status["brokers"] == [0] and status["controller"] == 0
        assert status["partitions"][0]["isr"] == [0]
        # produce lines from stdin, read them back with the console consumer
        sent = labctl("produce", "SmartCar-Topic", "--home", home, stdin="one\ntwo\nthree\n")
        assert sent.returncode == 0, sent.stderr
        got = labctl("consume", "SmartCar-Topic", "--from-beginning", "--max-messages", "3",
                     "--home", home)  # fmt: skip
        assert got.stdout.split() == ["one", "two", "three"]
        # the agent as a detached process
        started = labctl("agent", "start", "--home", home)
        assert started.returncode == 0, started.stderr
        agent = json.loads(labctl("agent", "status", "--json", "--home", home).stdout)
        assert "SINK.DriverCarInfo_KafkaSink" in agent["metrics"]
        assert labctl("agent", "stop", "--home", home).returncode == 0
        stopped = labctl("agent", "status", "--home", home)
        assert stopped.returncode == 6 and "not running" in one_sentence_error(stopped)
    finally:
        down = labctl("down", "--home", home)
    assert down.returncode == 0 and "broker-0" in down.stdout
    again = labctl("down", "--home", home)
    assert again.returncode == 6
    assert "nothing" in one_sentence_error(again).lower()


def test_down_in_an_empty_home_is_exit_6(tmp_path: Path) -> None:
    result = labctl("down", "--home", str(tmp_path / "none"))
    assert result.returncode == 6
    assert "no lab in" in one_sentence_error(result)


def test_a_home_only_labctl_wrote_to_is_still_new(tmp_path: Path) -> None:
    """An `up` or `pilot` that stopped before lab.json (ports taken) leaves labctl's own
    folders; the home is still usable, and `down` says there is no lab (not 'not a home')."""
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True)
    (home / "logs").mkdir()
    result = labctl("down", "--home", str(home))
    assert result.returncode == 6
    assert "no lab in" in one_sentence_error(result)


def test_foreign_and_corrupt_homes_are_exit_5(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result = labctl("up", "--home", str(foreign))
    assert result.returncode == 5
    assert "not a lab home" in one_sentence_error(result)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "lab.json").write_text("{not json")
    result = labctl("status", "--home", str(corrupt))
    assert result.returncode == 5
    assert "not valid JSON" in one_sentence_error(result)
    other = tmp_path / "other"
    other.mkdir()
    (other / "lab.json").write_text(json.dumps({"tool": "something-else", "format": 1}))
    assert labctl("status", "--home", str(other)).returncode == 5


def test_java_missing_is_exit_3(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "JAVA_HOME": str(tmp_path / "nojava")}
    result = labctl("up", "--home", str(tmp_path / "lab"), env=env)
    assert result.returncode == 3
    assert "java" in one_sentence_error(result).lower()


def test_port_in_use_is_exit_4(tmp_path: Path) -> None:
    base = free_port_block(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base))
        taken.listen()
        result = labctl("up", "--home", str(tmp_path / "lab"), "--brokers", "1",
                        "--zookeeper-port", str(base), "--base-port", str(base + 1))  # fmt: skip
    assert result.returncode == 4
    assert f"port {base}" in one_sentence_error(result)


def test_explain_prints_every_stage() -> None:
    result = labctl("explain")
    assert result.returncode == 0
    for n, title in enumerate(["Collection architecture", "Environment", "Flume collection",
                               "Kafka collection", "Collection test"], 1):  # fmt: skip
        assert f"stage {n}: {title}" in result.stdout


def test_explain_architectures_names_the_command_for_each() -> None:
    result = labctl("explain", "architectures", env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for name, command in [
        ("single broker / single node", "labctl up --brokers 1"),
        ("multi-broker / single node", "labctl up "),
        ("multi-broker / multi-node", "labctl up --backend docker"),
    ]:
        assert f"{name} │ {command}" in text, name
    assert labctl("explain", "9").returncode == 2
