"""Helpers for agent tests: write a config, run an agent in-process or as a process."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from agents.builder import build
from agents.channels.base import Channel
from agents.component import Status
from agents.config.properties import parse_properties
from agents.config.topology import build_plan
from agents.event import EventBatch
from agents.runtime import Agent
from agents.sources.base import Source
from tests.waiting import wait_for as wait_for  # re-exported: agent tests import it here

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def of_type(obj: object, cls: type[T]) -> T:
    """*obj* as a *cls* (asserted), so a test can read what that component class has."""
    assert isinstance(obj, cls), f"{obj!r} is not a {cls.__name__}"
    return obj


def agent_from_text(text: str, name: str = "a", **options: Any) -> Agent:
    plan = build_plan(parse_properties(text, "test.conf"), name)
    return Agent.from_plan(plan, **options)


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


def run_agent_process(conf: Path, name: str, log: Path, *options: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "agents", "-f", str(conf), "-n", name, *options],
            stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO,
        )  # fmt: skip


def assert_second_agent_refused(conf: Path, holder: subprocess.Popen[bytes], lock: Path,
                                log: Path) -> str:  # fmt: skip
    """Once *holder* holds *lock*, a second agent from *conf* exits 1 naming its pid; the
    second agent's log."""
    assert wait_for(lambda: lock.exists() and lock.read_text().strip() == str(holder.pid)), (
        "the first agent never took its lock")  # fmt: skip
    second = run_agent_process(conf, "a", log)
    assert second.wait(30) == 1
    text = log.read_text()
    assert f"is in use by another agent (pid {holder.pid})" in text, text
    return text


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(30)


def terminate_or_kill(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Ends *proc*: SIGTERM, then SIGKILL if it has not exited within *timeout* s."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def lines_in(directory: Path) -> list[bytes]:
    out: list[bytes] = []
    for f in sorted(directory.iterdir()):
        out.extend(f.read_bytes().splitlines())
    return out


SLOW_SINK = (
    "import time\nfrom agents.sinks.simple import RollingFileSink\n"
    "class Slow(RollingFileSink):\n"
    "    def write(self, batch):\n"
    "        time.sleep(0.01)\n"
    "        super().write(batch)\n"
)

BOOK_FILTER = (
    "a.sources.s.interceptors = f\na.sources.s.interceptors.f.type = regex_filter\n"
    "a.sources.s.interceptors.f.regex = ^\\\\d{14}\n"
)


def spool_conf(spool: Path, out: Path, extra: str = "", capacity: int = 100000) -> str:
    return (
        "a.sources = s\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\n"
        "a.sources.s.readyAfter = 100\na.sources.s.pollDelay = 50\na.sources.s.batchSize = 100\n"
        f"a.sources.s.channels = c\n{extra}"
        f"a.channels.c.type = memory\na.channels.c.capacity = {capacity}\n"
        "a.channels.c.transactionCapacity = 1000\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.rollInterval = 0\na.sinks.k.batchSize = 1000\na.sinks.k.channel = c\n"
    )


def caught_up(state: Path) -> dict[str, int]:
    """The position file, if every file in it is read and committed to its end."""
    try:
        entries = json.loads((state / "pos.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    done = {e["file"]: e["pos"] for e in entries}
    ok = all(os.path.exists(f) and os.path.getsize(f) == pos for f, pos in done.items())
    return done if ok else {}


def taildir_conf(pattern: str, state: Path, out: Path) -> str:
    return (
        "a.sources = t\na.channels = c\na.sinks = k\n"
        "a.sources.t.type = TAILDIR\na.sources.t.filegroups = g\n"
        f"a.sources.t.filegroups.g = {pattern}\na.sources.t.positionFile = {state}/pos.json\n"
        "a.sources.t.writePosInterval = 100\na.sources.t.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 10000\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.rollInterval = 0\na.sinks.k.channel = c\n"
    )


@contextlib.contextmanager
def running(text: str, name: str = "a", **options: Any) -> Iterator[Agent]:
    """An agent from config *text*, started (every runner running: listening sources listen),
    and stopped at the end."""
    agent = agent_from_text(text, name, **options)
    agent.start()
    try:
        assert wait_for(lambda: all(r.running for r in agent.runners.values())), {
            n: r.state for n, r in agent.runners.items()
        }
        yield agent
    finally:
        agent.stop(drain_timeout=5)


def take_all(channel: Channel, want: int, timeout: float = 20.0) -> EventBatch:
    """Wait until *channel* has held *want* events, and take (commit) them all."""
    parts: list[EventBatch] = []
    got = 0
    deadline = time.monotonic() + timeout
    while got < want and time.monotonic() < deadline:
        with channel.transaction() as tx:
            batch = tx.take(want - got, 0.1)
            tx.commit()
        parts.append(batch)
        got += len(batch)
    assert got >= want, f"channel {channel.name} held {got} of {want} events"
    return EventBatch.concat(parts)


def put_events(
    channel: Channel, bodies: list[bytes], headers: dict[str, str] | None = None
) -> None:
    with channel.transaction() as tx:
        tx.put(EventBatch(bodies, headers or {}))
        tx.commit()


def config_problems(text: str, file: str = "test.conf", name: str = "a") -> str:
    """Every problem the agent finds in config *text* (as --check lists them), one a line."""
    built = build(build_plan(parse_properties(text, file), name))
    return "\n".join(str(p) for p in built.problems)


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of *size* (e.g. ``3m``) mounted at *where*: a disk that really fills up.
    Skips the test where it cannot be mounted (not root)."""
    import pytest

    where.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                         capture_output=True, text=True)  # fmt: skip
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()}): needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


class Ticker(Source):
    """A canary source: one event every 10 ms, to see whether other flows keep moving."""

    def process(self) -> Status:
        self.flush()
        self.send([(EventBatch([b"tick"]), None)])
        return Status.BACKOFF

    def backoff_pause(self, attempt: int) -> float:
        return 0.01


def with_canary(text: str, agent: str = "a") -> str:
    """Config *text* plus a canary flow (Ticker -> memory -> null) in the same agent."""
    lines = text.splitlines()
    for kind, name in (("sources", "tick"), ("channels", "tickc"), ("sinks", "tickk")):
        key = f"{agent}.{kind} ="
        at = next((i for i, line in enumerate(lines) if line.startswith(key)), None)
        if at is None:
            lines.append(f"{key} {name}")
        else:
            lines[at] += f" {name}"
    lines += [
        f"{agent}.sources.tick.type = tests.agents.agent_helpers.Ticker",
        f"{agent}.sources.tick.channels = tickc",
        f"{agent}.channels.tickc.type = memory",
        f"{agent}.sinks.tickk.type = null",
        f"{agent}.sinks.tickk.channel = tickc",
    ]
    return "\n".join(lines) + "\n"


class CanaryWatch:
    """The longest time the canary flow of *agent* delivered nothing, sampled every 5 ms."""

    def __init__(self, agent: Agent) -> None:
        self.counters = agent.sinks["tickk"].counters
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        seen, since = self.counters.get("EventDrainSuccessCount"), time.monotonic()
        while not self._stop.wait(0.005):
            now, count = time.monotonic(), self.counters.get("EventDrainSuccessCount")
            if count != seen:
                seen, since = count, now
            self.longest = max(self.longest, now - since)

    def __enter__(self) -> CanaryWatch:
        assert wait_for(lambda: self.counters.get("EventDrainSuccessCount") > 10)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
