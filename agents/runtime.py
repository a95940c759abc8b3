"""An agent at run time: components built from a plan, run by runners, watched, drained.

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
Exactly-once flows are checked and wired by ``agents.exactly_once`` between building the sinks
and the sources. A ``FatalError`` that ``stops_agent`` (a spool dir another agent owns, a
fenced exactly-once sink) sets ``fatal`` and calls ``on_fatal``: whoever runs the agent stops it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

from agents import exactly_once
from agents.channels.base import Channel
from agents.channels.selectors import ChannelSelector
from agents.component import Component
from agents.config.topology import AgentPlan, ComponentPlan
from agents.errors import AgentError, ConfigError, FatalError, Problem
from agents.health import Watchdog
from agents.interceptors.base import Interceptor
from agents.processor import ChannelProcessor
from agents.runners import Runner
from agents.sinks.base import Sink
from agents.sinks.processors import DefaultSinkProcessor, SinkGroupProcessor
from agents.sources.base import Source

log = logging.getLogger("agents.runtime")
DEFAULT_STATE_DIR = Path("~/.flume/agents")


class Agent:
    def __init__(
        self, plan: AgentPlan, state_dir: Path | None = None, stall_after: float = 10.0
    ) -> None:
        self.plan = plan
        self.name = plan.agent
        self.state_dir = Path(state_dir or DEFAULT_STATE_DIR / plan.agent).expanduser()
        self.channels: dict[str, Channel] = {}
        self.sources: dict[str, Source] = {}
        self.sinks: dict[str, Sink] = {}
        self.interceptors: dict[str, list[Interceptor]] = {}
        self.groups: dict[str, SinkGroupProcessor] = {}
        self.runners: dict[str, Runner] = {}  # by source, sink or sink group name
        self.sink_runners: dict[str, Runner] = {}  # by sink name (a group's sinks share one)
        self.watchdog = Watchdog(stall_after)
        self.fatal: FatalError | None = None  # why the agent must stop (exit fatal.exit_code)
        self.on_fatal: Callable[[], None] = lambda: None  # whoever runs the agent stops it
        self.notes: list[str] = []  # what exactly-once covers here (--check prints them)
        self._stop = threading.Event()
        self._health_lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._build()

    def _configure(self, cp: ComponentPlan) -> Component:
        comp: Component = cp.cls(cp.name)
        comp.configure(cp.context)
        comp.state_dir = self.state_dir
        return comp

    def _build(self) -> None:
        """Configure every planned component; leave out those with errors that drop them
        (as Flume does: see ``agents.config.topology``)."""
        plan = self.plan
        built = [*plan.channels.values(), *plan.sinks.values(), *plan.sources.values()]
        for name, cp in list(plan.channels.items()):
            ch = self._configure(cp)
            if not _drops(cp) and isinstance(ch, Channel):
                self.channels[name] = ch
            else:
                del plan.channels[name]
        for name, cp in list(plan.sinks.items()):
            sink = self._configure(cp)
            if not _drops(cp) and cp.channels[0] not in self.channels:
                cp.context.problem("channel", f"names channel {cp.channels[0]!r}, which was "
                                   "dropped", flume=cp.context.removes)  # fmt: skip
            if _drops(cp):
                del plan.sinks[name]
                continue
            assert isinstance(sink, Sink), f"{cp.cls} is not a sink"
            sink.channel = self.channels[cp.channels[0]]
            self.sinks[name] = sink
        roles = exactly_once.plan(plan, self.sinks)
        for name in [n for n in self.sinks if _drops(plan.sinks[n])]:
            del self.sinks[name], plan.sinks[name]
        for name, cp in list(plan.sources.items()):
            source = self._configure(cp)
            interceptors = [self._configure(i) for i in cp.interceptors]
            gone = [c for c in cp.channels if c not in self.channels]
            if gone and not _drops(cp):  # Flume's loadSources keeps the channels that loaded
                kept = len(gone) < len(cp.channels)
                cp.context.problem("channels", f"names channel(s) {', '.join(gone)}, which "
                                   "were dropped", lenient="run" if kept else "drop",
                                   flume=f"leaves out {', '.join(gone)}" if kept
                                   else cp.context.removes)  # fmt: skip
                cp.channels = [c for c in cp.channels if c in self.channels]
            broken = _drops(cp) or any(_drops(i) for i in cp.interceptors)
            if broken:
                if cp.selector is not None:  # still report its misspelt keys (--check)
                    cp.selector.context.resolve(cp.selector.cls.PROPERTIES)
                del plan.sources[name]
                continue
            channels = [self.channels[c] for c in cp.channels]
            selector = self._selector(cp, channels)
            if selector is None:
                del plan.sources[name]
                continue
            assert isinstance(source, Source), f"{cp.cls} is not a source"
            chain = [i for i in interceptors if isinstance(i, Interceptor)]
            source.connect(ChannelProcessor(channels, chain, selector))
            self.sources[name] = source
            self.interceptors[name] = chain
        self._wire_exactly_once(roles)
        self._build_groups()
        self._check_event_sizes()
        for cp in built:
            plan.problems.extend(cp.context.problems)
            for i in cp.interceptors:
                plan.problems.extend(i.context.problems)
            if cp.selector is not None:
                plan.problems.extend(cp.selector.context.problems)
        if not self.sources and not self.sinks:
            plan.problems.append(
                Problem(
                    plan.file, None, plan.agent, "has no component that can run", lenient="refuse"
                )
            )
            raise ConfigError(plan.problems)

    def _wire_exactly_once(self, roles: exactly_once.Roles) -> None:
        from agents.sources.resume import Resume

        live = {id(w.committed) for s in self.sinks.values() if (w := getattr(s, "writer", None))}
        for name in roles.marks & set(self.sources):
            source = self.sources[name]
            source.origin = f"{self.name}/{name}"
            committed = [c for c in roles.resume.get(name, []) if id(c) in live]  # --lenient
            if committed:
                source.resume = Resume(committed, source.origin + "/")
            if name in roles.waits:
                source.commit_waits = roles.waits[name]  # type: ignore[attr-defined]
        for name in roles.eager & set(self.sinks):
            self.sinks[name].writer.eager = True  # type: ignore[attr-defined]
        self.notes = roles.notes

    def _selector(self, cp: ComponentPlan, channels: list[Channel]) -> ChannelSelector | None:
        """The source's selector, configured against its channels; None if it has errors."""
        if cp.selector is None:
            return ChannelProcessor(channels, []).selector
        # the plan keeps a selector's class like a component's; it is a ChannelSelector
        selector_cls = cast("type[ChannelSelector]", cp.selector.cls)
        selector = selector_cls(channels)
        selector.configure(cp.selector.context)
        return None if _drops(cp.selector) else selector

    def _build_groups(self) -> None:
        """Sink groups over the sinks that were built. As in Flume, a group whose processor
        cannot be configured is left out with its sinks, a sink the processor leaves out
        (a failover priority taken twice) does not run, and a group sink that could not be
        configured leaves nothing running at all (Flume's InstantiationException)."""
        plan = self.plan
        for name, group in list(plan.groups.items()):
            missing = [s for s in group.sinks if s not in self.sinks]
            if missing:
                group.context.problem(None, f"its sink(s) {', '.join(missing)} could not be "
                                      "configured", lenient="refuse",
                                      flume="runs nothing at all (InstantiationException: sink "
                                      "does not exist or is not properly configured)")  # fmt: skip
            proc: SinkGroupProcessor = group.cls(name)
            proc.sinks = [self.sinks[s] for s in group.sinks if s in self.sinks]
            proc.configure(group.context)
            plan.problems.extend(group.context.problems)
            left_out = [s for s in group.sinks if s in self.sinks and
                        s not in {k.name for k in proc.sinks}]  # fmt: skip
            broken = missing or any(p.drops for p in group.context.problems)
            for sink in group.sinks if broken else left_out:
                self.sinks.pop(sink, None)
                plan.sinks.pop(sink, None)
            if broken:
                del plan.groups[name]
                continue
            group.sinks = [k.name for k in proc.sinks]
            self.groups[name] = proc

    def _check_event_sizes(self) -> None:
        """Warn where a source's line cap lets an event exceed what a sink of its channel takes
        (such records would go to the dead-letter file)."""
        for name, source in self.sources.items():
            cap = source.max_event_bytes()
            if cap is None:
                continue
            key, most = cap
            channels = set(self.plan.sources[name].channels)
            for sink in self.sinks.values():
                limit = getattr(sink, "max_record_bytes", None)
                if (
                    limit
                    and sink.channel is not None
                    and sink.channel.name in channels
                    and (most > limit)
                ):
                    self.plan.sources[name].context.problem(
                        key,
                        f"lets an event reach {most:,} bytes (4 a character), more than sink "
                        f"{sink.name} sends ({limit:,}); such records go to its dead-letter file",
                        f"keep it at most {limit // 4:,}",
                        severity="warning",
                    )

    def components(self) -> list[Component]:
        return [*self.sources.values(), *self.channels.values(), *self.sinks.values()]

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
        runner.on_fatal = self._fatal
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


def _drops(cp: ComponentPlan) -> bool:
    """Whether the component has an error that leaves it out (see ``Problem.drops``)."""
    return any(p.drops for p in cp.context.problems)
