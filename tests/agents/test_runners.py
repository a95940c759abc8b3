"""Runners (issue 17 item 1): hours of idle polls or of a full channel, on an injected clock,
leave a runner running; whatever kills a runnable, or its runner's thread, is restarted,
counted and shown in health."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from agents import runners
from agents.component import growing_pause
from agents.runners import Clock, Runner
from agents.sinks import simple
from agents.sinks.processors import DefaultSinkProcessor
from agents.sinks.simple import NullSink
from tests.agents.agent_helpers import agent_from_text, lines_in, of_type, put_events, wait_for

HOURS = 3.0


class FakeClock(Clock):
    """Time that moves only when a runner waits: hours of polls take seconds, no sleeping.

    A wait on the runner's own stop event (a crash pause, a start retry) blocks until the
    test calls ``release()``, so a test can look at a runner between a crash and its restart.
    """

    def __init__(self) -> None:
        self.t = 0.0
        self.waits = 0
        self.pausing = threading.Event()  # a runner is in a crash pause or start retry
        self._release = threading.Event()
        self.lock = threading.Lock()

    def now(self) -> float:
        return self.t

    def wait(self, event: threading.Event, seconds: float) -> bool:
        with self.lock:
            self.t += seconds
            self.waits += 1
        if getattr(event, "crash_pause", False):
            self.pausing.set()
            self._release.wait(30)
            self._release.clear()
            self.pausing.clear()
        return event.is_set()

    def release(self) -> None:
        self._release.set()


def _runner(target: object, clock: FakeClock) -> Runner:
    runner = Runner(target, clock)  # type: ignore[arg-type]
    runner._stopping.crash_pause = True  # type: ignore[attr-defined]  # FakeClock blocks on it
    return runner


def _sink_only(sink_type: str) -> str:
    return ("a.channels = c\na.sinks = k\na.channels.c.type = memory\n"
            f"a.sinks.k.type = {sink_type}\na.sinks.k.channel = c\n")  # fmt: skip


def _file_roll(out: Path, extra: str = "") -> str:
    return (
        "a.channels = c\na.sinks = k\na.channels.c.type = memory\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        f"a.sinks.k.sink.rollInterval = 0\na.sinks.k.channel = c\n{extra}"
    )


def test_backoff_arithmetic_never_overflows():
    assert growing_pause(0.005, 0.05, 10**6) == 0.05
    assert growing_pause(0.1, 5.0, 2**70) == 5.0
    assert growing_pause(0.005, 0.05, 0) == 0.005
    assert growing_pause(0.1, 5.0, -1) == 0.1


def test_an_idle_sink_polls_for_hours_and_then_delivers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pilot's case: a file_roll sink (logger and null share its code) left idle. Its
    runner's pause was 0.005 * 2**attempt: OverflowError after ~1,017 idle polls (~155 s),
    and the thread died. Here the sink polls an empty channel for three hours of (injected)
    time, then an event put into the channel is delivered."""
    monkeypatch.setattr(simple, "TAKE_WAIT", 0)  # the take does not wait on the real clock
    out = tmp_path / "out"
    agent = agent_from_text(_file_roll(out))
    sink, channel = agent.sinks["k"], agent.channels["c"]
    channel.start()
    clock = FakeClock()
    runner = _runner(DefaultSinkProcessor(sink), clock)
    runner.start()
    try:
        assert wait_for(lambda: clock.t >= HOURS * 3600, timeout=120), clock.t
        assert runner.running and runner._thread.is_alive(), runner.state
        put_events(channel, [b"after hours of idle"])
        assert wait_for(lambda: out.exists() and lines_in(out) == [b"after hours of idle"])
    finally:
        runner.stop()
        channel.stop()
    assert runner.restarts == 0 and sink.counters.get("RestartCount") == 0
    assert clock.waits > 1017 * 10  # polls, far past the old overflow
    assert sink.counters.get("BatchEmptyCount") >= clock.waits - 1


def test_a_source_blocked_by_a_full_channel_for_hours_stays_alive(tmp_path: Path) -> None:
    """The runner's pause between puts into a full channel doubled without a cap too."""
    agent = agent_from_text(
        "a.sources = s\na.channels = c\na.sources.s.type = seq\na.sources.s.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 100\n"
        "a.channels.c.transactionCapacity = 100\na.channels.c.keep-alive = 0\n"
        "a.sources.s.batchSize = 100\n"
    )
    source, channel = agent.sources["s"], agent.channels["c"]
    channel.start()
    clock = FakeClock()
    runner = _runner(source, clock)
    runner.start()
    try:
        assert wait_for(lambda: clock.t >= HOURS * 3600, timeout=120), clock.t
        assert runner.running and runner.blocked_since is not None, runner.state
        with channel.transaction() as tx:  # room again: the source goes on at once
            tx.take(100)
            tx.commit()
        assert wait_for(lambda: source.counters.get("EventAcceptedCount") >= 200)
    finally:
        runner.stop()
        channel.stop()
    assert runner.restarts == 0


CRASHING_SINK = """
from agents.sinks.simple import NullSink

class Crashing(NullSink):
    crash_on = {3}
    calls = 0

    def backoff_pause(self, attempt):
        type(self).calls += 1
        if type(self).calls in type(self).crash_on:
            raise OverflowError("int too large to convert to float")
        return super().backoff_pause(attempt)
"""


def test_a_runner_that_crashes_anywhere_is_restarted_counted_and_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Not only process(): an error in backoff_pause (the one that killed the idle sink) is a
    crash too: counted, logged once, 'restarting' in health, restarted after the pause."""
    monkeypatch.setattr(simple, "TAKE_WAIT", 0)
    (tmp_path / "crashing_sink.py").write_text(CRASHING_SINK)
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = agent_from_text(_sink_only("crashing_sink.Crashing"))
    sink, channel = agent.sinks["k"], agent.channels["c"]
    channel.start()
    clock = FakeClock()
    runner = _runner(DefaultSinkProcessor(sink), clock)
    agent.sink_runners["k"] = runner
    caplog.set_level(logging.INFO)
    runner.start()
    try:
        assert clock.pausing.wait(20)  # crashed, waiting to restart
        assert runner.state == "restarting: int too large to convert to float"
        assert agent.health(sink) == runner.state
        assert sink.counters.get("RestartCount") == 1
        assert sink.counters.get("GenericProcessingFail") == 0  # a source's counter
        assert sink.counters.stop_time  # stopped before the restart
        clock.release()
        assert wait_for(lambda: runner.running)
        assert wait_for(lambda: agent.health(sink) == "running")
        put_events(channel, [b"x"])
        assert wait_for(lambda: sink.counters.get("EventDrainSuccessCount") == 1)
    finally:
        clock.release()
        runner.stop()
        channel.stop()
    failed = [r for r in caplog.records if "failed (int too large" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is not None  # with its traceback
    health = [r.getMessage() for r in caplog.records if r.name == "agents.health"]
    assert health == [
        "sink k: restarting: int too large to convert to float (was starting)",
        "sink k: running (was restarting)",
    ], health


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_runner_thread_that_dies_is_revived_by_the_watchdog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even an error no ``except Exception`` catches (here SystemExit) cannot leave a sink
    dead: the agent's watchdog sees the thread gone, counts it and starts a new one."""
    monkeypatch.setattr(runners, "CRASH_PAUSE", (0.05, 0.1))
    (tmp_path / "exiting_sink.py").write_text(
        CRASHING_SINK.replace("OverflowError", "SystemExit").replace("Crashing", "Exiting")
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = agent_from_text(_sink_only("exiting_sink.Exiting"))
    agent.start()
    sink = agent.sinks["k"]
    try:
        assert wait_for(lambda: sink.counters.get("RestartCount") == 1, timeout=10)
        assert "its thread ended" in " ".join(sink.counters.errors)
        assert wait_for(lambda: agent.sink_runners["k"].running)
        put_events(agent.channels["c"], [b"delivered after the revival"])
        assert wait_for(lambda: sink.counters.get("EventDrainSuccessCount") == 1)
    finally:
        agent.stop(drain_timeout=1)


@pytest.mark.parametrize("failures", [1, 10, 5000])
def test_a_failing_sink_backs_off_at_most_5_s_however_long_it_fails(failures: int) -> None:
    agent = agent_from_text(_sink_only("null"))
    sink = of_type(agent.sinks["k"], NullSink)
    sink._failures = failures
    assert 0.1 <= sink.backoff_pause(0) <= 5.0
