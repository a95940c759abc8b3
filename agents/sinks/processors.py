"""Sink processors: what a sink runner drives (Flume's SinkProcessor), one sink or a sink group.

``DefaultSinkProcessor`` drives one sink. A sink group (``<agent>.sinkgroups``) puts several
sinks behind one runner with a processor that decides which sink processes next:

- ``failover``: the live sink of highest ``priority.<sink>`` does the work; a sink whose
  delivery fails is set aside for 2 s, doubling on each failure up to ``maxpenalty``, and the
  next one takes over. When a sink's penalty is over it is tried with a real batch (a probe:
  its in-flight batches settled before it counts); a probe that delivers makes it live again.
- ``load_balance``: every call goes to the next sink in ``round_robin`` or ``random`` order;
  if it fails, the next one is tried at once. With ``backoff = true`` a failed sink is left
  out for 2 s, doubling on each failure up to ``selector.maxTimeOut``.

A failed delivery is a ``DeliveryError`` (or any exception) from a sink's ``process``; the
sink has rolled its batch back, so the next sink takes the same events again: at least once.
When no sink is left, the processor says so once and backs off until a penalty ends. Sinks of
a group are started and stopped together.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import ClassVar

from agents.component import Component, Status, growing_pause
from agents.config.context import Context
from agents.config.settings import Settings, prop
from agents.config.spec import Prop
from agents.errors import DeliveryError
from agents.sinks.base import Sink

PENALTY_UNIT = 1.0  # s: a failed sink's first penalty is 2 units, doubling (Flume's 1000 ms)
# s after a load_balance penalty ends within which a new failure still counts as one more in a
# row (Flume's OrderSelector: CONSIDER_SEQUENTIAL_RANGE); a later one starts the count over
SEQUENTIAL_GRACE = 2.0
IDLE_PAUSE = 1.0  # s a group with no usable sink waits at most before looking again


class DefaultSinkProcessor:
    """One sink, as Flume's DefaultSinkProcessor: a failed delivery backs the sink off. A sink
    in no group runs this way; a group of type ``default`` may hold exactly one sink."""

    TYPE = "default"
    PROPERTIES: ClassVar[tuple[Prop, ...]] = ()

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.name = sink.name
        self.KIND = sink.KIND
        self.counters = sink.counters
        self.log = sink.log
        self.wake = threading.Event()

    @property
    def sinks(self) -> list[Sink]:
        return [self.sink]

    def start(self) -> None:
        self.sink.start()

    def stop(self) -> None:
        self.sink.stop()

    def process(self) -> Status:
        try:
            return self.sink.process()
        except DeliveryError:
            return Status.BACKOFF  # the sink logged and counted it; its pause grows

    def backoff_pause(self, attempt: int) -> float:
        return self.sink.backoff_pause(attempt)

    def interrupt(self) -> None:
        self.sink.interrupt()


class SinkGroupProcessor(Component):
    """Base of the processors of a sink group: configured from ``processor.*``, driving its
    sinks in the order ``process`` chooses. The runtime sets ``sinks`` (in the order the group
    lists them) before ``configure``."""

    KIND = "SINKGROUP"
    MIN_SINKS: ClassVar[int] = 1

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.sinks: list[Sink] = []
        self.wake = threading.Event()
        self._said_none_left = False

    def start(self) -> None:
        started: list[Sink] = []
        try:
            for sink in self.sinks:
                sink.start()
                started.append(sink)
        except BaseException:
            for sink in started:
                sink.stop()
            raise
        super().start()

    def stop(self) -> None:
        for sink in self.sinks:
            sink.stop()
        super().stop()

    def interrupt(self) -> None:
        for sink in self.sinks:
            sink.interrupt()

    def process(self) -> Status:
        raise NotImplementedError

    def describe(self, sink: Sink) -> str | None:
        """What the group does with *sink* now ('standby', 'retrying: ...'), or None."""
        return None

    def _report(self, sink: Sink, exc: Exception, then: str) -> None:
        sink.counters.error(str(exc))
        level = self.log.warning if isinstance(exc, DeliveryError) else self.log.error
        level("sink group %s: sink %s failed (%s); %s", self.name, sink.name, exc, then,
              exc_info=None if isinstance(exc, DeliveryError) else exc)  # fmt: skip

    def _none_left(self, why: str) -> Status:
        if not self._said_none_left:
            self.log.error("sink group %s: %s; events wait in the channel", self.name, why)
            self._said_none_left = True
        return Status.BACKOFF

    def _some_left(self) -> None:
        if self._said_none_left:
            self.log.info("sink group %s: a sink delivers again", self.name)
            self._said_none_left = False


def _penalty(failures: int, most: float) -> float:
    """Seconds a sink is left out after its *failures*-th failure in a row (Flume's rule)."""
    return growing_pause(2 * PENALTY_UNIT, most, failures - 1)


@dataclass
class _Failed:
    sink: Sink
    failures: int
    until: float  # monotonic time its penalty ends
    reason: str


@dataclass(frozen=True, kw_only=True)
class FailoverSettings(Settings):
    priority: dict[str, str] = prop(
        "priority.",
        "prefix",
        doc="priority.<sink> = <int>: higher goes first; unset sinks rank below set ones, "
        "in the order listed (so does a priority that is not a number). Two sinks may not "
        "share a priority (Flume leaves one out).",
    )
    maxpenalty: int = prop(
        "maxpenalty",
        "int",
        30000,
        "Longest time (ms) a failed sink is set aside before it is tried again.",
        minimum=0,
        fallback=True,
    )


class FailoverSinkProcessor(SinkGroupProcessor):
    """Flume's failover sink processor: the live sink of highest priority delivers; a failed
    one is set aside for a growing penalty, then tried again with a real batch."""

    TYPE = "failover"
    MIN_SINKS = 1
    SETTINGS = FailoverSettings
    PROPERTIES = FailoverSettings.props()
    settings: FailoverSettings

    def setup(self, context: Context) -> None:
        self._max_penalty = self.settings.maxpenalty / 1000
        names = [s.name for s in self.sinks]
        priorities: dict[str, int] = {}
        for name, raw in self.settings.priority.items():
            key = f"priority.{name}"
            if name not in names:
                context.problem(key, f"names sink {name!r}, which is not in this group",
                                f"the group's sinks: {', '.join(names)}", lenient="run",
                                flume="ignores this key")  # fmt: skip
                continue
            try:
                priorities[name] = int(raw)
            except ValueError:
                context.problem(
                    key,
                    f"expected a whole number, got {raw!r}",
                    lenient="run",
                    flume=f"ranks sink {name} below the sinks with a priority",
                )
        unset = -1
        for name in names:
            if name not in priorities:
                priorities[name] = unset
                unset -= 1
        first: dict[int, str] = {}
        for name in names:
            p = priorities[name]
            if p in first:
                context.problem(f"priority.{name}", f"is {p}, the same as sink {first[p]}'s",
                                "give each sink its own priority", lenient="run",
                                flume=f"leaves one of them out of the group, and it does not "
                                f"run (--lenient: {name}, the later one listed)")  # fmt: skip
            first.setdefault(p, name)
        self.sinks = [s for s in self.sinks if first[priorities[s.name]] == s.name]
        self.priority = priorities
        self._live: list[Sink] = []
        self._benched: list[_Failed] = []

    def start(self) -> None:
        self._live = sorted(self.sinks, key=lambda s: -self.priority[s.name])
        self._benched = []
        super().start()

    @property
    def active(self) -> Sink | None:
        return self._live[0] if self._live else None

    def process(self) -> Status:
        now = time.monotonic()
        for entry in sorted(self._benched, key=lambda f: f.until):
            if entry.until > now:
                break
            status = self._probe(entry, now)
            if status is not None:
                return status
        while self._live:
            sink = self._live[0]
            try:
                status = sink.process()
            except Exception as exc:
                self._set_aside(sink, exc, 1, now)
                continue
            self._some_left()
            return status
        return self._none_left("every sink failed; nothing left to fail over to")

    def _probe(self, entry: _Failed, now: float) -> Status | None:
        """Try a sink whose penalty is over: a delivered batch makes it live again."""
        sink = entry.sink
        try:
            status = sink.process()
            sink.settle()
        except Exception as exc:
            self._benched.remove(entry)
            self._set_aside(sink, exc, entry.failures + 1, now)
            return None
        if status is not Status.READY:  # nothing to deliver: not a failure, try again later
            return status
        self._benched.remove(entry)
        before = self.active
        self._live.append(sink)
        self._live.sort(key=lambda s: -self.priority[s.name])
        self.log.info("sink group %s: sink %s delivers again", self.name, sink.name)
        if before is not None and self.active is not before:
            self._hand_over(before)
        self._some_left()
        return status

    def _hand_over(self, previous: Sink) -> None:
        """A higher-priority sink is back: let the one it replaces finish what it has in flight."""
        try:
            previous.settle()
        except Exception as exc:
            self._live.remove(previous)
            self._set_aside(previous, exc, 1, time.monotonic())

    def _set_aside(self, sink: Sink, exc: Exception, failures: int, now: float) -> None:
        if sink in self._live:
            self._live.remove(sink)
        pause = _penalty(failures, self._max_penalty)
        nxt = self.active
        then = (f"failing over to {nxt.name}" if nxt is not None else
                "no sink is left") + f"; {sink.name} is tried again in {pause:.0f} s"  # fmt: skip
        self._report(sink, exc, then)
        self._benched.append(_Failed(sink, failures, now + pause, str(exc)))

    def backoff_pause(self, attempt: int) -> float:
        if not self._live and self._benched:
            soonest = min(f.until for f in self._benched) - time.monotonic()
            return max(0.0, min(soonest, IDLE_PAUSE))
        active = self.active
        return active.backoff_pause(attempt) if active is not None else IDLE_PAUSE

    def describe(self, sink: Sink) -> str | None:
        for entry in self._benched:
            if entry.sink is sink:
                left = max(0.0, entry.until - time.monotonic())
                return f"retrying: failed over ({entry.reason}); tried again in {left:.0f} s"
        if sink is not self.active:
            return f"running: standby (priority {self.priority[sink.name]})"
        return None


@dataclass(frozen=True, kw_only=True)
class LoadBalanceSettings(Settings):
    selector: str = prop(
        "selector",
        "choice",
        "round_robin",
        "The order sinks are tried in: round_robin or random.",
        choices=("round_robin", "random"),
    )
    backoff: bool = prop("backoff", "bool", False, "Leave a failed sink out for a growing while.")
    selector_max_time_out: int = prop(
        "selector.maxTimeOut",
        "int",
        30000,
        "Longest time (ms) a failed sink is left out (with backoff).",
        minimum=0,
    )


class LoadBalancingSinkProcessor(SinkGroupProcessor):
    """Flume's load-balancing sink processor: each call goes to the next sink in round-robin or
    random order, and to the one after if it fails; ``backoff`` leaves a failed sink out for a
    while: 2 s, doubling with each failure in a row up to ``selector.maxTimeOut``. As in Flume, a
    failure counts as one more in a row only if it comes before the last penalty ended plus
    2 s; a sink that then worked a while starts again at 2 s."""

    TYPE = "load_balance"
    MIN_SINKS = 2
    SETTINGS = LoadBalanceSettings
    PROPERTIES = LoadBalanceSettings.props()
    settings: LoadBalanceSettings

    def setup(self, context: Context) -> None:
        self._max_out = self.settings.selector_max_time_out / 1000
        self._next = 0
        self._out: dict[str, tuple[int, float, str]] = {}  # sink -> (failures, until, why)
        self._random = random.Random()

    def start(self) -> None:
        self._next = 0
        self._out.clear()
        super().start()

    def _order(self, now: float) -> list[Sink]:
        usable = [s for s in self.sinks if self._out.get(s.name, (0, 0.0, ""))[1] <= now]
        if not usable:
            return []
        if self.settings.selector == "random":
            self._random.shuffle(usable)
            return usable
        if self._next >= len(usable):
            self._next = 0
        begin = self._next
        self._next = (self._next + 1) % len(usable)
        return usable[begin:] + usable[:begin]

    def process(self) -> Status:
        now = time.monotonic()
        for sink in self._order(now):
            try:
                status = sink.process()
            except Exception as exc:
                self._left_out(sink, exc, now)
                continue
            self._some_left()
            return status
        return self._none_left("every sink failed or is backed off")

    def _left_out(self, sink: Sink, exc: Exception, now: float) -> None:
        if not self.settings.backoff:
            self._report(sink, exc, "trying the next sink")
            return
        failures, until, _ = self._out.get(sink.name, (0, 0.0, ""))
        # in a row if it failed again before its last penalty ended + the grace (Flume's rule)
        failures = failures + 1 if failures and now < until + SEQUENTIAL_GRACE else 1
        pause = _penalty(failures, self._max_out)
        self._out[sink.name] = (failures, now + pause, str(exc))
        self._report(sink, exc, f"trying the next sink; it is left out for {pause:.0f} s")

    def backoff_pause(self, attempt: int) -> float:
        if self.settings.backoff and self._out:
            now = time.monotonic()
            if all(self._out.get(s.name, (0, 0.0, ""))[1] > now for s in self.sinks):
                soonest = min(until for _, until, _ in self._out.values()) - now
                return max(0.0, min(soonest, IDLE_PAUSE))
        return min(s.backoff_pause(attempt) for s in self.sinks)

    def describe(self, sink: Sink) -> str | None:
        _, until, why = self._out.get(sink.name, (0, 0.0, ""))
        left = until - time.monotonic()
        if left > 0:
            return f"retrying: backed off ({why}); used again in {left:.0f} s"
        return None
