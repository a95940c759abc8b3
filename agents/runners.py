"""Runners own the threads: Flume's SourceRunner, SinkRunner and LifecycleSupervisor in one loop.

A runner drives one *runnable* (a source, or a sink processor driving its sinks): it starts it,
retrying every ``START_RETRY`` seconds while ``start`` fails (as Flume's supervisor does, e.g. a
spool directory that does not exist yet); then calls ``process()`` until stopped, waiting
``backoff_pause`` after a BACKOFF (cut short when the runnable's ``wake`` is set). A
``ChannelFullError`` is not a crash: the source is *blocked* (backpressure), the runner backs
off and calls again. Components never start threads of their own for this.

Nothing a runnable does can end its thread quietly. Any exception out of ``process``,
``backoff_pause`` or the runner's own bookkeeping is a *crash*: it is logged with its
traceback, counted (``RestartCount`` on the component, and on every sink of a sink group;
Flume's ``GenericProcessingFail`` for a source), the state becomes ``restarting: <why>`` (what
health, ``/metrics`` and ``labctl agent status`` show), the runnable is stopped, and after a
growing pause (``CRASH_PAUSE``) it is started again. Should the thread end anyway (an error
that is not an ``Exception``), ``revive``, called by the agent's watchdog every second, sees a
dead thread, counts and logs it the same way and starts a new one.

A ``FatalError`` (from ``start``: another agent owns the spool dir; from ``process``: a Kafka
producer's fatal error, a fenced exactly-once sink) is not retried: the runnable is stopped for
good, the state becomes ``failed: <why>``, and ``on_fatal`` tells the agent, which stops too
when the error ``stops_agent``.

Every pause that grows goes through ``agents.component.growing_pause`` and every count of
attempts is capped, so an idle runner polls for weeks as on its first second. Time comes from
a ``Clock`` (``REAL_CLOCK`` unless a test injects one).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from agents.component import MAX_DOUBLINGS, Status, growing_pause
from agents.counters import Counters
from agents.errors import ChannelFullError, FatalError

START_RETRY = 3.0  # s between attempts to start a component (Flume's supervisor: 3 s)
CRASH_PAUSE = (1.0, 30.0)  # s before restarting after a crash: first, most
BLOCKED_PAUSE = (0.01, 1.0)  # s between puts into a full channel: first, most


class Runnable(Protocol):
    name: str
    counters: Counters
    log: logging.Logger
    wake: threading.Event

    @property
    def KIND(self) -> str: ...  # SOURCE | SINK
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def process(self) -> Status: ...
    def backoff_pause(self, attempt: int) -> float: ...
    def interrupt(self) -> None: ...


class Clock:
    """Where a runner's time comes from: ``now()`` and ``wait(event, seconds)`` (True if the
    event was set). A test injects its own to run hours of polls without sleeping."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


REAL_CLOCK = Clock()


class Runner:
    def __init__(
        self,
        target: Runnable,
        clock: Clock = REAL_CLOCK,
        on_fatal: Callable[[FatalError], None] = lambda exc: None,
    ) -> None:
        self.target = target
        self.clock = clock
        self.on_fatal = on_fatal  # told of a FatalError (the agent decides whether it stops)
        # starting | running | retrying: <why> (cannot start) | restarting: <why> (crashed)
        # | failed: <why> (FatalError: not retried) | stopped
        self.state = "starting"
        self.blocked_since: float | None = None  # a source waiting for room in a channel
        self.blocked_reason = ""
        self.restarts = 0
        self._stopping = threading.Event()
        self._started = False
        self._crash_pause = CRASH_PAUSE[0]
        self._thread = self._new_thread()

    def _new_thread(self) -> threading.Thread:
        name = f"{self.target.KIND.lower()}-{self.target.name}"
        return threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop, wait for it, then stop the runnable (on the caller's thread)."""
        self._stopping.set()
        self.target.wake.set()
        self.target.interrupt()
        self._thread.join()
        if self._started:
            self.target.stop()
            self._started = False
        self.state = "stopped"

    def revive(self) -> bool:
        """If the thread ended while the runner was not stopped, count and log it and start a
        new one (the agent's watchdog calls this every second). True if it did."""
        thread = self._thread
        if self._stopping.is_set() or thread.is_alive() or not thread.ident:
            return False
        if self.state.startswith("failed"):
            return False
        self._count_restart(f"its thread ended ({self.state})")
        self.target.log.error("%s %s: its runner's thread ended; starting a new one",
                              self.target.KIND.lower(), self.target.name)  # fmt: skip
        self._stop_target()
        self._thread = self._new_thread()
        self._thread.start()
        return True

    def _wait(self, seconds: float) -> None:
        wake = self.target.wake
        self.clock.wait(wake, seconds)
        wake.clear()

    def _run(self) -> None:
        while not self._stopping.is_set():
            began = self.clock.now()
            try:
                if not self._start_target():
                    self.clock.wait(self._stopping, START_RETRY)
                    continue
                self._loop()
                return  # stopped
            except FatalError as exc:  # not retried: stopped for good
                self._failed(exc)
                return
            except Exception as exc:  # any failure at all: counted, logged, restarted
                self._crashed(exc)
            if self.clock.now() - began > CRASH_PAUSE[1]:  # it had run well: start over
                self._crash_pause = CRASH_PAUSE[0]
            self.clock.wait(self._stopping, self._crash_pause)
            self._crash_pause = min(self._crash_pause * 2, CRASH_PAUSE[1])

    def _start_target(self) -> bool:
        target = self.target
        try:
            target.start()
        except FatalError:
            raise
        except Exception as exc:
            why = str(exc) or type(exc).__name__
            if self.state != f"retrying: {why}":
                target.log.error("%s %s cannot start (%s); retrying every %.0f s",
                                 target.KIND.lower(), target.name, why, START_RETRY)  # fmt: skip
                target.counters.error(why)
            self.state = f"retrying: {why}"
            return False
        if self.state.startswith(("retrying", "restarting")):
            target.log.info("%s %s started", target.KIND.lower(), target.name)
        self._started = True
        self.state = "running"
        return True

    def _loop(self) -> None:
        """Call process() until stopped; whatever raises (but a full channel) is a crash."""
        target = self.target
        clock = self.clock
        backoffs = 0
        blocked = 0
        while not self._stopping.is_set():
            try:
                status = target.process()
            except FatalError:
                raise
            except ChannelFullError as exc:
                if exc.progressed:  # some went in: backpressure, not a blocked source
                    self.blocked_since, blocked = None, 0
                if self.blocked_since is None:
                    self.blocked_since = clock.now()
                self.blocked_reason = str(exc)
                self._wait(growing_pause(*BLOCKED_PAUSE, blocked))
                blocked = min(blocked + 1, MAX_DOUBLINGS)
                continue
            if self.blocked_since is not None:
                self.blocked_since, blocked = None, 0
            if status is Status.BACKOFF:
                self._wait(target.backoff_pause(backoffs))
                backoffs = min(backoffs + 1, MAX_DOUBLINGS)
            else:
                backoffs = 0

    def _crashed(self, exc: Exception) -> None:
        target = self.target
        why = str(exc) or type(exc).__name__
        self._count_restart(why)
        if target.KIND == "SOURCE":
            target.counters.add("GenericProcessingFail")
        target.log.error("%s %s failed (%s); restarting it in %.0f s", target.KIND.lower(),
                         target.name, why, self._crash_pause, exc_info=exc)  # fmt: skip
        self._stop_target()

    def _failed(self, exc: FatalError) -> None:
        """Stop the runnable for good: one log line, its health says why, the agent hears."""
        target = self.target
        kind = target.KIND.lower()
        self.state = f"failed: {exc}"
        self.blocked_since = None
        target.counters.error(str(exc))
        why = str(exc).removeprefix(f"{kind} {target.name}: ")
        target.log.error("%s %s cannot run: %s", kind, target.name, why)
        self._stop_target()
        self.on_fatal(exc)

    def _count_restart(self, why: str) -> None:
        self.restarts += 1
        self.state = f"restarting: {why}"
        self.blocked_since = None
        for counters in _counters_of(self.target):
            counters.add("RestartCount")
            counters.error(why)

    def _stop_target(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            self.target.stop()
        except Exception:
            self.target.log.exception("stopping %s after its failure failed too",
                                      self.target.name)  # fmt: skip


def _counters_of(target: Runnable) -> list[Counters]:
    """Where a restart is counted: the component's counters, or each sink's of a group."""
    sinks = getattr(target, "sinks", None)
    if sinks and target.KIND == "SINKGROUP":
        return [s.counters for s in sinks]
    return [target.counters]
