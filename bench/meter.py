"""What a system under test cost: CPU seconds, peak RSS, per-thread CPU, from /proc and rusage.

CPU is user + system time of the process and its descendants (children it waited for
included), so a collector that forks is charged for its helpers. Peak RSS is the kernel's
high-water mark (``VmHWM``) of each live process, summed: exact, no sampling gaps. A process
that has exited is measured from ``wait4``'s rusage instead.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measurement:
    """One system moving one file: what came out and what it cost."""

    events: int  # records in the topic when the clock stopped (its end offset)
    seconds: float  # from hand-off to the last record in the topic
    cpu_seconds: float
    rss_bytes: int

    @property
    def eps(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_seconds / self.events * 1e6

    @property
    def rss_mb(self) -> float:
        return self.rss_bytes / 2**20

    def to_json(self) -> dict[str, float]:
        return {
            "events": self.events,
            "seconds": round(self.seconds, 4),
            "events_per_s": round(self.eps),
            "cpu_seconds": round(self.cpu_seconds, 4),
            "cpu_us_per_event": round(self.cpu_us_per_event, 3),
            "peak_rss_mb": round(self.rss_mb, 1),
        }


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU time of *proc* and its descendants so far (0 for those already gone)."""
    total = 0.0
    for p in _tree(proc):
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def _hwm_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def peak_rss(proc: psutil.Process) -> int:
    """Sum of the high-water RSS of *proc* and its live descendants."""
    return sum(_hwm_bytes(p.pid) for p in _tree(proc))


def reap(proc: subprocess.Popen[bytes], timeout: float) -> tuple[float, int]:
    """Wait for *proc* to exit; its whole-life (CPU seconds, peak RSS bytes) from rusage."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024
        if time.monotonic() > deadline:
            raise TimeoutError(f"{proc.args!r} did not exit in {timeout:.0f} s")
        time.sleep(0.01)


def wait_idle(
    proc: psutil.Process, window: float = 0.5, limit: float = 0.10, timeout: float = 60.0
) -> None:
    """Until *proc* used less than *limit* of a core over *window* seconds (done starting)."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(proc)
    while time.monotonic() < deadline:
        time.sleep(window)
        now = cpu_seconds(proc)
        if now - before < limit * window:
            return
        before = now
    raise TimeoutError(f"pid {proc.pid} kept busy for {timeout:.0f} s after it started")


@dataclass(frozen=True)
class ThreadCpu:
    tid: int
    name: str  # the kernel's comm: librdkafka names its threads (rdk:broker0, ...)
    seconds: float


def thread_cpu(pid: int) -> dict[int, ThreadCpu]:
    """CPU seconds of every thread of *pid* so far, from /proc/<pid>/task."""
    out: dict[int, ThreadCpu] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            stat = (task / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        out[int(task.name)] = ThreadCpu(int(task.name), name, ticks / CLOCK_TICKS)
    return out


def thread_cpu_delta(before: dict[int, ThreadCpu], after: dict[int, ThreadCpu]) -> list[ThreadCpu]:
    """CPU each thread used between two snapshots, busiest first."""
    used = [
        ThreadCpu(t.tid, t.name, t.seconds - (before[t.tid].seconds if t.tid in before else 0.0))
        for t in after.values()
    ]
    return sorted(used, key=lambda t: t.seconds, reverse=True)


def python_and_librdkafka(used: list[ThreadCpu]) -> tuple[float, float]:
    """CPU seconds of the Python threads (which share one GIL) and of librdkafka's own
    threads (named ``rdk:*``, no GIL)."""
    rdk = sum(t.seconds for t in used if t.name.startswith("rdk:"))
    return sum(t.seconds for t in used) - rdk, rdk
