"""Runners own the threads: Flume's SourceRunner, SinkRunner and LifecycleSupervisor in one loop.

A runner drives one *runnable* (a source, or a sink processor driving its sinks): it starts it,
retrying every ``START_RETRY`` seconds while ``start`` fails (as Flume's supervisor does, e.g. a
spool directory that does not exist yet); then calls ``process()`` until stopped, waiting
``backoff_pause`` after a BACKOFF (cut short when the runnable's ``wake`` is set); and when
``process`` raises, counts it (``RestartCount``, and Flume's ``GenericProcessingFail`` for a
source), stops the runnable, waits a growing pause and starts it again: nothing is left dead.
A ``ChannelFullError`` is not a crash: the source is *blocked* (backpressure), the runner backs
off and calls again. A ``FatalError`` ends the runner: the runnable is stopped for good, its
state (its health) is ``failed: <why>``, and ``on_fatal`` hears it (the agent stops if the
error says so: a fenced exactly-once sink). Components never start threads of their own for
this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from agents.component import Status
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


class Runner:
    def __init__(self, target: Runnable) -> None:
        self.target = target
        self.state = "starting"  # running | retrying: <why> | stopped
        self.blocked_since: float | None = None  # a source waiting for room in a channel
        self.blocked_reason = ""
        self.restarts = 0
        self.on_fatal: Callable[[FatalError], None] = lambda _exc: None
        self._stopping = threading.Event()
        self._started = False
        self._thread = threading.Thread(
            target=self._run, name=f"{target.KIND.lower()}-{target.name}", daemon=True
        )

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

    def _wait(self, seconds: float) -> None:
        wake = self.target.wake
        wake.wait(seconds)
        wake.clear()

    def _run(self) -> None:
        crash_pause = CRASH_PAUSE[0]
        while not self._stopping.is_set():
            try:
                if not self._start_target():
                    self._stopping.wait(START_RETRY)
                    continue
                if self._loop():
                    return
            except FatalError as exc:
                self._failed(exc)
                return
            self._stopping.wait(crash_pause)
            crash_pause = min(crash_pause * 2, CRASH_PAUSE[1])

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
        if self.state.startswith("retrying"):
            target.log.info("%s %s started", target.KIND.lower(), target.name)
        self._started = True
        self.state = "running"
        return True

    def _loop(self) -> bool:
        """Call process() until stopped (True) or it crashed (False; the target is stopped)."""
        target = self.target
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
                    self.blocked_since = time.monotonic()
                self.blocked_reason = str(exc)
                self._wait(min(BLOCKED_PAUSE[0] * 2**blocked, BLOCKED_PAUSE[1]))
                blocked += 1
                continue
            except Exception as exc:
                self._crashed(exc)
                return False
            if self.blocked_since is not None:
                self.blocked_since, blocked = None, 0
            if status is Status.BACKOFF:
                self._wait(target.backoff_pause(backoffs))
                backoffs += 1
            else:
                backoffs = 0
        return True

    def _failed(self, exc: FatalError) -> None:
        """Stop the runnable for good: one log line, its health says why."""
        target = self.target
        target.counters.error(str(exc))
        target.log.error("%s", exc)
        self.state = f"failed: {exc}"
        self.blocked_since = None
        if self._started:
            try:
                target.stop()
            except Exception:
                target.log.exception("stopping %s after its failure failed too", target.name)
            self._started = False
        self.on_fatal(exc)

    def _crashed(self, exc: Exception) -> None:
        target = self.target
        self.restarts += 1
        target.counters.add("RestartCount")
        if target.KIND == "SOURCE":
            target.counters.add("GenericProcessingFail")
        target.counters.error(str(exc))
        target.log.error("%s %s failed (%s); restarting it", target.KIND.lower(), target.name,
                         exc, exc_info=exc)  # fmt: skip
        self.state = f"retrying: {exc}"
        self.blocked_since = None
        try:
            target.stop()
        except Exception:
            target.log.exception("stopping %s after its failure failed too", target.name)
        self._started = False
