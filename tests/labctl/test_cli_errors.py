"""One sentence and the documented exit code, never a traceback: unusable homes (5), bad agent
flags (2), and talking to a lab whose brokers are stopped (6, at once)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labctl.ports import free_port_block
from labctl.spec import ClusterSpec
from tests.labctl.test_cli import labctl, one_sentence_error

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stopped_lab(tmp_path: Path) -> str:
    """A lab home whose lab is recorded but not running."""
    home = tmp_path / "lab"
    home.mkdir()
    (home / "lab.json").write_text(json.dumps(ClusterSpec(brokers=1).to_json()))
    return str(home)


@pytest.mark.parametrize("command", [["up"], ["status"], ["down"], ["agent", "start"]])
def test_a_home_that_is_a_file_is_exit_5(tmp_path: Path, command: list[str]) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for home in (str(a_file), "/dev/null"):
        result = labctl(*command, "--home", home)
        assert result.returncode == 5, (command, home, result.stderr)
        assert "is not a directory" in one_sentence_error(result)


@pytest.fixture
def immutable_dir(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "frozen"
    home.mkdir()
    if subprocess.run(["chattr", "+i", str(home)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this filesystem")
    try:
        yield home
    finally:
        subprocess.run(["chattr", "-i", str(home)], check=True)


def test_an_immutable_home_is_exit_5(immutable_dir: Path) -> None:
    base = free_ports()
    result = labctl("up", "--home", str(immutable_dir), "--brokers", "1",
                    "--zookeeper-port", str(base), "--base-port", str(base + 1))  # fmt: skip
    assert result.returncode == 5, result.stderr
    assert "cannot hold a lab" in one_sentence_error(result)


def free_ports() -> int:
    from tests.conftest import free_port_block

    return free_port_block(2)


def _others_can_read(path: Path) -> bool:
    """May a user with no rights of its own read *path* (every folder above it passable)?"""
    return bool(path.stat().st_mode & 0o004) and all(
        p.stat().st_mode & 0o001 for p in [path, *path.parents]
    )


def test_an_unwritable_home_is_exit_5_for_a_user() -> None:
    """As an ordinary user (nobody), a home under a folder only root may write."""
    python = shutil.which("python3", path="/usr/bin")
    if os.getuid() != 0 or python is None or shutil.which("setpriv") is None:
        pytest.skip("needs root (to become nobody), setpriv and /usr/bin/python3")
    site = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"), None)
    if site is None:
        pytest.skip("needs the project's .venv")
    parent = Path(tempfile.mkdtemp(prefix="labctl-root-only-"))
    parent.chmod(0o755)  # nobody may look inside, not write
    try:
        code, packages = ROOT, site
        if not _others_can_read(ROOT):  # e.g. a clone under `mktemp -d` (0700): copy the code
            code, packages = parent / "code", parent / "site-packages"
            for package in ("labctl", "agents", "simulator"):
                shutil.copytree(ROOT / package, code / package)
            shutil.copytree(site, packages, symlinks=True)
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{code}:{packages}", "HOME": "/tmp"}
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python,
                "-m", "labctl", "status", "--home", str(parent / "lab")]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 6, result.stderr  # nothing there yet: readable, no lab
        # `up` on free ports: the book's may be taken by a lab that runs already
        zk, base = free_port_block(1), free_port_block(3)
        ports = ["--zookeeper-port", str(zk), "--base-port", str(base)]
        up = [*argv[: argv.index("status")], "up", *argv[argv.index("status") + 1 :], *ports]
        result = subprocess.run(up, capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode in (3, 5), result.stderr  # 3 if nobody has no Kafka cache
        assert "Traceback" not in result.stderr and result.stderr.startswith("error: ")
        (parent / "lab").mkdir(mode=0o700)  # a lab home nobody cannot read
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 5, result.stderr
        assert "cannot be read" in one_sentence_error(result)
    finally:
        shutil.rmtree(parent)


def test_bad_agent_flags_are_exit_2(stopped_lab: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = labctl("agent", "start", "--monitoring-port", str(port), "--home", stopped_lab)
        assert result.returncode == 2, result.stderr
        assert f"--monitoring-port {port} is taken" in one_sentence_error(result)
    for flags in (["--monitoring-port", "70000"], ["--monitoring-port", "0"],
                  ["--log-level", "bogus"]):  # fmt: skip
        result = labctl("agent", "start", *flags, "--home", stopped_lab)
        assert result.returncode == 2, (flags, result.stderr)
        assert "Traceback" not in result.stderr


def test_produce_and_consume_with_the_lab_stopped_are_exit_6_at_once(stopped_lab: str) -> None:
    for command in (["produce", "SmartCar-Topic"], ["consume", "SmartCar-Topic"], ["topics"]):
        began = time.monotonic()
        result = labctl(*command, "--home", stopped_lab, stdin="a line\n")
        took = time.monotonic() - began
        assert result.returncode == 6, (command, result.stderr)
        assert "brokers of the lab" in one_sentence_error(result)
        assert "are down" in result.stderr
        assert took < 20, f"{command} took {took:.0f} s to say the brokers are down"
