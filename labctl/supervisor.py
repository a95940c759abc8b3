"""Detached processes with pid and log files: start, find, stop.

A process outlives the CLI (its own session), logs to one file and is known by its pid file.
A pid file whose process is gone, or whose pid now belongs to another program, is stale.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Managed:
    """One supervised process: its name, pid file, log file and a token of its command line."""

    name: str
    pid_file: Path
    log_file: Path
    token: str  # a string its command line contains (tells a reused pid apart)

    def process(self) -> psutil.Process | None:
        """The running process, or None (no pid file, process gone, or pid reused).

        The pid file holds the pid and the process's start time: a reused pid has another
        start time. (Older pid files without it are checked by the command-line token.)
        """
        try:
            fields = self.pid_file.read_text().split()
            proc = psutil.Process(int(fields[0]))
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            if len(fields) > 1:
                return proc if abs(proc.create_time() - float(fields[1])) < 0.01 else None
            return proc if self.token in " ".join(proc.cmdline()) else None
        except (FileNotFoundError, ValueError, IndexError, psutil.Error):
            return None

    def start(self, argv: list[str], env: dict[str, str] | None = None) -> int:
        """Start detached (new session, stdin closed, output appended to the log)."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        try:
            started = psutil.Process(proc.pid).create_time()
        except psutil.Error:  # died at once: leave a pid file that process() finds stale
            started = 0.0
        self.pid_file.write_text(f"{proc.pid} {started}\n")
        return proc.pid

    def stop(self, timeout: float = 15.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout``. True if a process was stopped."""
        proc = self.process()
        self.pid_file.unlink(missing_ok=True)
        if proc is None:
            return False
        try:
            proc.send_signal(signal.SIGTERM)
            if not _ended(proc, timeout):
                proc.kill()
                _ended(proc, 5)
        except psutil.NoSuchProcess:
            pass
        return True

    def kill(self) -> None:
        """SIGKILL at once (for failure drills); the pid file stays, now stale."""
        proc = self.process()
        if proc is not None:
            os.kill(proc.pid, signal.SIGKILL)
            _ended(proc, 10)

    def uptime(self) -> float | None:
        proc = self.process()
        return None if proc is None else time.time() - proc.create_time()


def _ended(proc: psutil.Process, timeout: float) -> bool:
    """Wait until *proc* has exited. A zombie counts as exited (its parent, not necessarily
    us, has yet to collect it) once its last thread is gone: a killed JVM's main thread
    turns zombie while its other threads still hold the process's sockets."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE and proc.num_threads() <= 1:
                return True
            proc.wait(min(0.1, max(deadline - time.monotonic(), 0)))
            return True
        except psutil.NoSuchProcess:
            return True
        except psutil.TimeoutExpired:
            if time.monotonic() >= deadline:
                return False
