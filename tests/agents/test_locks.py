"""agents.locks (issue 17 item 3): one holder at a time, the holder's pid named, and a lock
that dies with its process however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agents import locks
from agents.locks import InUseError
from tests.agents.agent_helpers import REPO, wait_for

HOLD = "import sys, time; from agents import locks; locks.hold(__import__('pathlib').Path(sys.argv[1]), 'x'); print('held', flush=True); time.sleep(600)"  # noqa: E501


def test_a_second_holder_in_this_process_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    lock = locks.hold(tmp_path / "in_use.lock", "spool directory /s")
    with pytest.raises(InUseError, match="spool directory /s is in use by another component "
                       "of this agent"):  # fmt: skip
        locks.hold(tmp_path / "in_use.lock", "spool directory /s")
    lock.release()
    lock.release()  # idempotent
    locks.hold(tmp_path / "in_use.lock", "spool directory /s").release()


def test_the_holder_pid_is_named_and_a_sigkilled_holder_leaves_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "in_use.lock"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE,
                             cwd=REPO, env=env)  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline() == b"held\n"
        with pytest.raises(InUseError, match=rf"in use by another agent \(pid {child.pid}\)"):
            locks.hold(path, "x")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert path.read_text().strip() == str(child.pid)  # the file stays; the lock does not
    assert wait_for(lambda: locks.hold(path, "x") is not None)
