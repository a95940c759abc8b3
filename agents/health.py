"""Health that sees stalls, not just threads that are alive.

The watchdog looks once a second at what it can observe from outside the components:

- a sink ``stalled``: nothing delivered for ``stall_after`` seconds while its channel holds
  events (a broker away, a full disk);
- a sink ``rolling back``: at least ``ROLLBACK_STORM`` rollbacks within ``stall_after``
  seconds (a destination that takes, then refuses);
- a source ``blocked``: it has waited ``stall_after`` seconds for room in a full channel;
- a component ``retrying``: it cannot start (its runner tries again every 3 s);
- a component ``restarting``: it failed (any exception, or its runner's thread ended) and its
  runner restarts it after a growing pause, counting ``RestartCount``.
- a component ``failed``: it cannot run at all (another agent owns its spool dir or position
  file); the agent stops and exits 1.

Each component's health is one of those, or what the component says of itself (``running``,
``stopped: command exited 1``). It shows in ``/metrics`` (``Health``), in ``labctl agent
status`` and in the log, one line per change of state (not per second).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from agents.component import Component
from agents.runners import Runner

ROLLBACK_STORM = 5
log = logging.getLogger("agents.health")


@dataclass
class _SinkWatch:
    delivered: int = -1
    since: float = 0.0  # when ``delivered`` last changed
    rollbacks: deque[tuple[float, int]] = field(default_factory=deque)


class Watchdog:
    def __init__(self, stall_after: float = 10.0) -> None:
        self.stall_after = stall_after
        self.states: dict[str, str] = {}  # component name -> its health, as last checked
        self._sinks: dict[str, _SinkWatch] = {}

    def check_source(self, comp: Component, runner: Runner | None, now: float) -> str:
        if runner is not None and not runner.running and runner.state != "starting":
            return self._set(comp, runner.state)
        if runner is not None and runner.blocked_since is not None:
            waited = now - runner.blocked_since
            if waited >= self.stall_after:
                return self._set(comp, f"blocked: {runner.blocked_reason} ({waited:.0f} s)")
        return self._set(comp, comp.health())

    def check_sink(
        self, comp: Component, runner: Runner | None, channel_size: int, now: float
    ) -> str:
        if runner is not None and not runner.running and runner.state != "starting":
            return self._set(comp, runner.state)
        watch = self._sinks.setdefault(comp.name, _SinkWatch(since=now))
        c = comp.counters
        delivered = c.get("EventDrainSuccessCount") + c.get("DeadLetterCount")
        if delivered != watch.delivered or channel_size == 0:
            watch.delivered, watch.since = delivered, now
        rollbacks = watch.rollbacks
        rollbacks.append((now, c.get("RollbackCount")))
        while rollbacks and now - rollbacks[0][0] > self.stall_after:
            rollbacks.popleft()
        recent = rollbacks[-1][1] - rollbacks[0][1]
        if recent >= ROLLBACK_STORM:
            why = c.errors[-1] if c.errors else "the destination refused"
            return self._set(
                comp, f"rolling back: {recent} rollbacks in {self.stall_after:.0f} s ({why})"
            )
        idle = now - watch.since
        if idle >= self.stall_after:
            return self._set(
                comp,
                f"stalled: nothing delivered for {idle:.0f} s while its channel holds "
                f"{channel_size} events",
            )
        return self._set(comp, comp.health())

    def check_other(self, comp: Component) -> str:
        return self._set(comp, comp.health())

    def say(self, comp: Component, state: str) -> str:
        """A state known from elsewhere (a sink group's standby or failed-over sink)."""
        return self._set(comp, state)

    def _set(self, comp: Component, state: str) -> str:
        before = self.states.get(comp.name, "starting")
        self.states[comp.name] = state
        if _word(before) != _word(state) and (before, _word(state)) != ("starting", "running"):
            say: Callable[..., None] = log.info if _word(state) in ("running", "stopped") else (
                log.warning)  # fmt: skip
            say("%s %s: %s (was %s)", comp.KIND.lower(), comp.name, state, _word(before))
        return state


def _word(state: str) -> str:
    return state.split(":", 1)[0]
