"""What every system under test shares: a job (one file into one topic) and how to run it.

A *daemon* (our agent, Flume, rsyslog) is started, waits until it is up and idle, then the
file is handed to it (a hard link into the directory it watches) and the clock runs until
the topic's end offset holds every record; its CPU is counted from the hand-off on. A
*one-shot* program (kcat, the bare Python loop) is timed from its start (or its "go") to the
last record, and charged its whole CPU from ``wait4``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.dayfile import DayFile
from bench.flumeconf import Flow, spool_to_kafka
from bench.lab import Topics
from bench.meter import Measurement, cpu_seconds, peak_rss, wait_idle
from labctl.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 90.0


@dataclass(frozen=True)
class Job:
    """Move *day*'s records into *topic*; *work* is this run's own empty folder."""

    topics: Topics
    topic: str
    day: DayFile
    work: Path
    bootstrap: str


class System(ABC):
    """One collector the bench measures."""

    key: str  # short name: JSON keys, --only
    label: str  # the table's row

    def problem(self) -> str | None:
        """Why it cannot run on this machine (shown when it is skipped), or None."""
        return None

    @abstractmethod
    def measure(self, job: Job) -> Measurement: ...


def spawn(
    argv: list[str], log: Path, env: dict[str, str] | None = None, talk: bool = False
) -> subprocess.Popen[bytes]:
    """Start *argv* in its own session, its output appended to *log* (``talk``: stdin and
    stdout are pipes to the bench instead, stderr still goes to *log*)."""
    pipe = subprocess.PIPE if talk else subprocess.DEVNULL
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=pipe,
            stdout=pipe if talk else out,
            stderr=out,
            env=env,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL to its whole session after *timeout*."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def exited(proc: subprocess.Popen[bytes], log: Path) -> Callable[[], str | None]:
    """For ``Topics.wait_for``: why *proc* is no longer running, or None. Does not reap it
    (a one-shot's rusage is read by ``reap`` afterwards)."""

    def check() -> str | None:
        try:
            if psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
                return None
        except psutil.NoSuchProcess:
            pass
        return f"it exited ({tail(log)})"

    return check


def log_says(log: Path, marker: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return marker in log.read_text(errors="replace")
        except FileNotFoundError:
            return False

    return check


@dataclass(frozen=True)
class Running:
    """A started daemon: its process, for CPU and memory, and ``alive`` for ``wait_for``."""

    ps: psutil.Process
    alive: Callable[[], str | None]


@contextmanager
def daemon(
    argv: list[str], log: Path, ready: Callable[[], bool], env: dict[str, str] | None = None
) -> Iterator[Running]:
    """Start *argv*; yield once *ready()* holds and it has gone idle; stop it afterwards."""
    proc = spawn(argv, log, env)
    try:
        if not wait_for(ready, READY_TIMEOUT, gone=lambda: proc.poll() is not None):
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode} at start: {tail(log)}")
            raise RuntimeError(f"not ready in {READY_TIMEOUT:.0f} s: {tail(log)}")
        ps = psutil.Process(proc.pid)
        wait_idle(ps)
        yield Running(ps, exited(proc, log))
    finally:
        stop(proc)


def spool_flow(job: Job, conf: Path, channel: str) -> Path:
    """Write *conf*: the bench's one ``spooldir -> ... -> kafka`` flow into the job's topic
    (a ``file`` channel under ``<work>/channel``, else memory); return the spool folder."""
    spool = job.work / "spool"
    spool.mkdir()
    channel_dir = job.work / "channel" if channel == "file" else None
    conf.write_text(spool_to_kafka([Flow(spool, job.topic, channel_dir)], job.bootstrap))
    return spool


def run_daemon(
    job: Job,
    argv: list[str],
    log: Path,
    watch: Path,
    ready: Callable[[], bool],
    env: dict[str, str] | None = None,
) -> Measurement:
    """Start a daemon; once it is up and idle, link the file into *watch* and time it."""
    with daemon(argv, log, ready, env) as running:
        cpu0 = cpu_seconds(running.ps)
        began = time.perf_counter()
        job.day.link_into(watch)
        ended = job.topics.wait_for(job.topic, job.day.records, running.alive)
        cpu = cpu_seconds(running.ps) - cpu0
        rss = peak_rss(running.ps)
    return Measurement(job.day.records, ended - began, cpu, rss)
