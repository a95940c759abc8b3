"""`up` starts all or nothing: every port is checked first, and a failed or interrupted `up`
stops what it started; `up` refuses flags that contradict the lab; `down` stops the agent too."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from labctl.paths import LabPaths
from labctl.ports import port_free
from labctl.supervisor import Managed
from tests.conftest import free_port_block
from tests.labctl.test_cli import LABCTL, labctl, one_sentence_error


def running(home: Path) -> list[str]:
    """The lab's processes that are alive, by their pid files."""
    run = LabPaths(home).run_dir
    alive = []
    for pid_file in sorted(run.glob("*.pid")) if run.exists() else []:
        name = pid_file.stem
        if Managed(name, pid_file, Path("/dev/null"), "").process() is not None:
            alive.append(name)
    return alive


def test_a_taken_broker_port_starts_nothing(tmp_path: Path) -> None:
    base = free_port_block(3)
    home = tmp_path / "lab"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 2))  # broker-1's port: the last thing `up` would start
        taken.listen()
        result = labctl("up", "--home", str(home), "--brokers", "2", "--zookeeper-port",
                        str(base), "--base-port", str(base + 1))  # fmt: skip
    assert result.returncode == 4, result.stderr
    message = one_sentence_error(result)
    assert f"port {base + 2} (broker-1)" in message and "nothing was started" in message
    assert running(home) == [] and port_free(base) and port_free(base + 1)


def _default_sigint() -> None:
    """As in a terminal: a shell that runs us in the background (CI) may have SIGINT ignored,
    and the child would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.kafka
def test_ctrl_c_during_up_stops_what_it_started(tmp_path: Path) -> None:
    base = free_port_block(4)
    home = tmp_path / "lab"
    argv = [*LABCTL, "up", "--home", str(home), "--zookeeper-port", str(base),
            "--base-port", str(base + 1)]  # fmt: skip
    up = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=_default_sigint)  # fmt: skip
    deadline = time.monotonic() + 60
    while "broker-0" not in running(home) and time.monotonic() < deadline:
        assert up.poll() is None, up.communicate()
        time.sleep(0.05)
    assert "broker-0" in running(home)  # ZooKeeper and a broker are up, the rest is starting
    up.send_signal(signal.SIGINT)
    _out, err = up.communicate(timeout=60)
    assert up.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert running(home) == []
    assert all(port_free(base + i) for i in range(4))


@pytest.mark.kafka
def test_up_refuses_another_shape_and_down_stops_the_agent(tmp_path: Path) -> None:
    home = str(tmp_path / "lab")
    base = free_port_block(2)
    ports = ["--zookeeper-port", str(base), "--base-port", str(base + 1)]
    try:
        assert labctl("up", "--home", home, "--brokers", "1", *ports).returncode == 0
        other = labctl("up", "--home", home, "--brokers", "3", "--kraft")
        assert other.returncode == 2, other.stderr
        message = one_sentence_error(other)
        assert "already has brokers 1 (not 3), mode zookeeper (not kraft)" in message
        assert labctl("up", "--home", home, "--brokers", "1").returncode == 0  # same shape: fine
        assert labctl("up", "--home", home).returncode == 0  # no flags: the lab as it is
        assert labctl("agent", "start", "--home", home).returncode == 0
        agent = psutil.Process(int((Path(home) / "run" / "agent.pid").read_text().split()[0]))
        tail = [p for p in agent.children(recursive=True) if p.name() == "tail"]
        assert tail  # the exec source's `tail -F`
    finally:
        down = labctl("down", "--purge", "--home", home)
    assert down.returncode == 0 and down.stdout.split()[:2] == ["stopped:", "agent,"]
    for proc in [agent, *tail]:
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    status = json.loads(labctl("status", "--json", "--home", home).stdout)
    assert status["agent"] is None
    # after --purge, flags may make a lab of another shape, as the refusal above promised
    other_ports = free_port_block(3)
    again = labctl("up", "--home", home, "--brokers", "2", "--zookeeper-port", str(other_ports),
                   "--base-port", str(other_ports + 1))  # fmt: skip
    try:
        assert again.returncode == 0, again.stderr
        shape = json.loads(labctl("status", "--json", "--home", home).stdout)
        assert shape["brokers"] == [0, 1] and "purged" not in (Path(home) / "lab.json").read_text()
    finally:
        labctl("down", "--purge", "--home", home)


def test_a_taken_port_leaves_no_lab_behind(tmp_path: Path) -> None:
    """A taken port leaves no lab.json behind: the next `up` may choose any shape."""
    base = free_port_block(2)
    home = tmp_path / "lab"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base))
        taken.listen()
        assert labctl("up", "--home", str(home), "--zookeeper-port", str(base)).returncode == 4
    assert not (home / "lab.json").exists()
