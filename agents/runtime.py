"""An agent at run time: the components ``agents.builder`` built from a plan, run by runners,
watched, drained. The agent only runs what it is given; it changes nothing of the build.

Start order is channels, sink runners, source runners (nothing is put before someone can take).
A sink runs on its own runner (``DefaultSinkProcessor``) unless a sink group puts it behind a
group processor (failover, load_balance) that one runner drives.
Stop is the reverse: source runners stop (what a source had not handed over is read again
next time), sinks drain the channels they can drain (up to ``drain_timeout``; a channel with no
running sink is not waited for, nor one whose sinks' last delivery failed: a next hop that is
down is not waited for, so the stop is bounded by a sink's own timeouts for the request in
flight), then sinks stop, sources record their committed positions, and channels stop. What
a channel still holds is said: a file channel keeps it for the next start, a memory channel's
is lost. A watchdog thread checks health once a second (``agents.health``) and starts a new
thread for a runner whose thread ended (``Runner.revive``).
A ``FatalError`` that ``stops_agent`` (a spool dir another agent owns, a
fenced exactly-once sink) sets ``fatal`` and calls ``on_fatal``: whoever runs the agent stops it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agents.builder import AgentBuild, build
from agents.channels.base import Channel
from agents.component import Component
from agents.config.plan import AgentPlan
from agents.errors import AgentError, ConfigError, FatalError
from agents.health import Watchdog
from agents.runners import Runner
from agents.sinks.base import Sink
from agents.sinks.processors import DefaultSinkProcessor, SinkGroupProcessor
from agents.sources.base import Source

log = logging.getLogger("agents.runtime")
DEFAULT_STATE_DIR = Path("~/.flume/agents")


class Agent:
    """Runs an ``AgentBuild`` (``agents.builder.build``): starts, watches and stops it."""

    def __init__(
        self, built: AgentBuild, state_dir: Path | None = None, stall_after: float = 10.0
    ) -> None:
        if not built.runnable:
            raise ConfigError(list(built.problems))
        self.built = built  # its notes say what exactly-once covers here
        self.plan = built.plan  # what runs, with every problem found
        self.name = built.plan.agent
        self.state_dir = Path(state_dir or DEFAULT_STATE_DIR / self.name).expanduser()
        self.channels = dict(built.channels)
        self.sources = dict(built.sources)
        self.sinks = dict(built.sinks)
        self.interceptors = {name: list(chain) for name, chain in built.interceptors.items()}
        self.groups = dict(built.groups)
        for comp in [*self.components(), *(i for c in self.interceptors.values() for i in c)]:
            comp.state_dir = self.state_dir
        self.runners: dict[str, Runner] = {}  # by source, sink or sink group name
        self.sink_runners: dict[str, Runner] = {}  # by sink name (a group's sinks share one)
        self.watchdog = Watchdog(stall_after)
        self.fatal: FatalError | None = None  # why the agent must stop (exit fatal.exit_code)
        self.on_fatal: Callable[[], None] = lambda: None  # whoever runs the agent stops it
        self._stop = threading.Event()
        self._health_lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    @classmethod
    def from_plan(
        cls, plan: AgentPlan, state_dir: Path | None = None, stall_after: float = 10.0
    ) -> Agent:
        """Build *plan* and run it (``ConfigError`` if nothing of it can run)."""
        return cls(build(plan), state_dir, stall_after)

    def components(self) -> list[Component]:
        return [*self.sources.values(), *self.channels.values(), *self.sinks.values()]

    def metrics(self) -> dict[str, dict[str, object]]:
        """Every component's counters as Flume's JSON shows them (strings), a channel's size
        and fill, and each one's health: what ``/metrics`` serves (``agents.monitoring``)."""
        out: dict[str, dict[str, object]] = {}
        for comp in self.components():
            snap = comp.counters.snapshot()
            if isinstance(comp, Channel):
                size = comp.size()
                cap = int(comp.counters.get("ChannelCapacity")) or 1
                snap["ChannelSize"] = str(size)
                snap["ChannelFillPercentage"] = str(100.0 * size / cap)
            snap["Health"] = self.health(comp)
            out[f"{comp.KIND}.{comp.name}"] = snap
        return out

    # lifecycle
    def start(self) -> None:
        """Start channels (a channel that cannot open, e.g. a locked or unreadable file
        channel, stops the agent with AgentError), then the sink and source runners."""
        started: list[Channel] = []
        for ch in self.channels.values():
            try:
                ch.start()
            except Exception as exc:
                for done in started:
                    done.stop()
                raise AgentError(f"channel {ch.name} cannot start: {exc}") from exc
            started.append(ch)
        for name, group in self.groups.items():
            runner = Runner(group)
            self._run(name, runner)
            for sink in group.sinks:
                self.sink_runners[sink.name] = runner
        for name, sink in self.sinks.items():
            if name not in self.sink_runners:  # not in a group
                self._run(name, Runner(DefaultSinkProcessor(sink)))
                self.sink_runners[name] = self.runners[name]
        for name, source in self.sources.items():
            for interceptor in self.interceptors[name]:
                interceptor.start()
            self._run(name, Runner(source))
        self._watcher = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._watcher.start()
        for line in self.plan.describe():
            log.info("running %s", line)

    def _run(self, name: str, runner: Runner) -> None:
        runner.on_fatal = self._fatal
        self.runners[name] = runner
        runner.start()

    def _fatal(self, exc: FatalError) -> None:
        """A component stopped for good (``FatalError``); if it ``stops_agent``, whoever runs
        the agent stops it."""
        if not exc.stops_agent:
            return
        if self.fatal is None:
            self.fatal = exc
        self.on_fatal()

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            try:
                for runner in dict.fromkeys(list(self.runners.values())):
                    runner.revive()
                self.check_health()
            except Exception:  # never let the one thread that watches the others die
                log.exception("the watchdog's check failed; it checks again in 1 s")

    def check_health(self) -> None:
        for comp in self.components():
            self.health(comp)

    def health(self, comp: Component) -> str:
        """The component's health now (``agents.health``); state changes are logged."""
        now = time.monotonic()
        w = self.watchdog
        with self._health_lock:
            if isinstance(comp, Source):
                return w.check_source(comp, self.runners.get(comp.name), now)
            if isinstance(comp, Sink):
                size = comp.channel.size() if comp.channel is not None else 0
                runner = self.sink_runners.get(comp.name)
                group = runner.target if runner is not None and runner.running else None
                said = group.describe(comp) if isinstance(group, SinkGroupProcessor) else None
                if said is not None:
                    return w.say(comp, said)  # a group's standby or failed-over sink
                return w.check_sink(comp, runner, size, now)
            return w.check_other(comp)

    def stop(self, drain_timeout: float = 30.0) -> None:
        """Stop sources, let running sinks drain their channels, then stop the rest."""
        self._stop.set()
        for name in self.sources:
            runner = self.runners.pop(name, None)
            if runner is not None:
                runner.stop()
        self._drain(drain_timeout)
        for runner in dict.fromkeys(self.sink_runners.values()):
            runner.stop()
        self.sink_runners.clear()
        self.runners.clear()
        for source in self.sources.values():
            source.checkpoint()
        for ch in self.channels.values():
            ch.stop()
        log.info("agent %s stopped", self.name)

    def _drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for ch in self.channels.values():
            sinks = [s for n, s in self.sinks.items() if s.channel is ch
                     and (r := self.sink_runners.get(n)) is not None and r.running]  # fmt: skip
            why = "no running sink drains it" if not sinks else ""
            while not why and not ch.wait_drained(min(0.2, max(0.0, deadline - time.monotonic()))):
                if all(s.failing() for s in sinks):
                    why = (f"the last delivery of sink(s) {', '.join(s.name for s in sinks)} "
                           "failed")  # fmt: skip
                elif time.monotonic() >= deadline:
                    why = f"not delivered within {timeout:g} s (--drain-timeout)"
            if why and ch.size():
                fate = ("the file channel keeps them for the next start" if ch.DURABLE
                        else "a memory channel loses them")  # fmt: skip
                log.warning("stopping with %d events in channel %s: %s; %s", ch.size(),
                            ch.name, why, fate)  # fmt: skip
