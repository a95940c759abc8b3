"""Helpers for agent tests: write a config, run an agent in-process or as a process."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.config.properties import parse_properties
from agents.config.topology import build_plan
from agents.runtime import Agent

REPO = Path(__file__).resolve().parents[2]


def agent_from_text(text: str, name: str = "a", **options: Any) -> Agent:
    plan = build_plan(parse_properties(text, "test.conf"), name)
    return Agent(plan, **options)


def wait_for(cond: Callable[[], object], timeout: float = 20.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def run_as_nobody(work: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Run *work* in a forked child that dropped root for user nobody; its result.

    The agent's modules are imported by the parent before the fork, so the child needs no
    access to the repository, wherever CI checked it out.
    """
    nobody = pwd.getpwnam("nobody")
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            code = 0 if work() else 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return False


def run_agent_process(conf: Path, name: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "agents", "-f", str(conf), "-n", name],
            stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO,
        )  # fmt: skip


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(30)


def lines_in(directory: Path) -> list[bytes]:
    out: list[bytes] = []
    for f in sorted(directory.iterdir()):
        out.extend(f.read_bytes().splitlines())
    return out
