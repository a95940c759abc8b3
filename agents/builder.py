"""Build, then run: from an agent's plan to the components that will run, every problem found.

``build`` is the last step of validation (Vector's config -> topology builder -> running
topology): it configures each planned component (``Component.configure`` has no side effects:
nothing is created, connected or opened), wires channels to sinks, sources to their channels
through interceptors and selectors, sinks into their groups, checks and wires the exactly-once
flows (``agents.exactly_once``), and leaves out what Flume leaves out (a component whose
configuration has an error that ``drops`` it, and what depends on it). What it returns
(``AgentBuild``) is read-only: the plan as it will run with every problem, the exactly-once
notes, and the configured components. ``--check`` prints it; ``agents.runtime.Agent`` runs it.
The plan given is not changed (its components' contexts record the problems found).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from agents import exactly_once
from agents.channels.base import Channel
from agents.channels.selectors import ChannelSelector
from agents.component import Component
from agents.config.plan import AgentPlan, ComponentPlan
from agents.errors import Problem
from agents.interceptors.base import Interceptor
from agents.processor import ChannelProcessor
from agents.sinks.base import Sink
from agents.sinks.processors import SinkGroupProcessor
from agents.sources.base import Source


@dataclass(frozen=True)
class AgentBuild:
    """A checked agent, configured but not started."""

    plan: AgentPlan  # the flows that will run, and every problem found (``plan.problems``)
    channels: Mapping[str, Channel]
    sinks: Mapping[str, Sink]
    sources: Mapping[str, Source]
    interceptors: Mapping[str, Sequence[Interceptor]]  # by source
    groups: Mapping[str, SinkGroupProcessor]
    notes: Sequence[str]  # what exactly-once covers here (``--check`` prints them)

    @property
    def problems(self) -> Sequence[Problem]:
        return self.plan.problems

    @property
    def runnable(self) -> bool:
        """Whether anything is left to run (else the plan has a problem that refuses it)."""
        return bool(self.sources or self.sinks)

    def flows(self) -> dict[str, AgentBuild]:
        """The independent flows: the connected parts of source -> channels <- sinks (a
        source's channels, a channel's sinks and a sink group's sinks stay together), each a
        build of its own, named by its sources (by its sinks if it has none), in plan order.
        Two flows share no component, so each can run in a process of its own
        (``agents.supervisor``)."""
        parent: dict[str, str] = {}

        def root(node: str) -> str:
            while parent.setdefault(node, node) != node:
                node = parent[node] = parent[parent[node]]
            return node

        def join(a: str, b: str) -> None:
            parent[root(a)] = root(b)

        plan = self.plan
        for name, source in plan.sources.items():
            for channel in source.channels:
                join(f"source {name}", f"channel {channel}")
            root(f"source {name}")
        for name, sink in plan.sinks.items():
            join(f"sink {name}", f"channel {sink.channels[0]}")
        for group in plan.groups.values():
            for a, b in zip(group.sinks, group.sinks[1:], strict=False):
                join(f"sink {a}", f"sink {b}")
        parts: dict[str, list[str]] = {}
        for node in parent:
            parts.setdefault(root(node), []).append(node)
        out: dict[str, AgentBuild] = {}
        for nodes in parts.values():
            names = {kind: {n.split(" ", 1)[1] for n in nodes if n.startswith(kind + " ")}
                     for kind in ("source", "channel", "sink")}  # fmt: skip
            name = "+".join(n for n in plan.sources if n in names["source"])
            out[name or "+".join(n for n in plan.sinks if n in names["sink"])] = self._only(names)
        return out

    def _only(self, names: Mapping[str, set[str]]) -> AgentBuild:
        sources, channels, sinks = names["source"], names["channel"], names["sink"]
        groups = {g for g, gp in self.plan.groups.items() if set(gp.sinks) & sinks}
        plan = dataclasses.replace(
            self.plan,
            sources={n: c for n, c in self.plan.sources.items() if n in sources},
            channels={n: c for n, c in self.plan.channels.items() if n in channels},
            sinks={n: c for n, c in self.plan.sinks.items() if n in sinks},
            groups={n: g for n, g in self.plan.groups.items() if n in groups},
        )
        return AgentBuild(
            plan,
            {n: c for n, c in self.channels.items() if n in channels},
            {n: c for n, c in self.sinks.items() if n in sinks},
            {n: c for n, c in self.sources.items() if n in sources},
            {n: c for n, c in self.interceptors.items() if n in sources},
            {n: c for n, c in self.groups.items() if n in groups},
            self.notes,
        )


def build(plan: AgentPlan) -> AgentBuild:
    """Configure and wire every planned component; leave out those with errors that drop
    them (as Flume does: see ``agents.config.topology``)."""
    return _Builder(plan).build()


class _Builder:
    def __init__(self, plan: AgentPlan) -> None:
        # the plan that will run: a copy the builder prunes, leaving the given plan as it was
        self.plan = dataclasses.replace(
            plan,
            sources=dict(plan.sources),
            channels=dict(plan.channels),
            sinks=dict(plan.sinks),
            groups=dict(plan.groups),
            problems=list(plan.problems),
        )
        self.channels: dict[str, Channel] = {}
        self.sinks: dict[str, Sink] = {}
        self.sources: dict[str, Source] = {}
        self.interceptors: dict[str, list[Interceptor]] = {}
        self.groups: dict[str, SinkGroupProcessor] = {}

    def build(self) -> AgentBuild:
        plan = self.plan
        built = [*plan.channels.values(), *plan.sinks.values(), *plan.sources.values()]
        self._build_channels()
        self._build_sinks()
        roles = exactly_once.plan(plan, self.sinks)
        for name in [n for n in self.sinks if _drops(plan.sinks[n])]:
            del self.sinks[name], plan.sinks[name]
        self._build_sources()
        notes = self._wire_exactly_once(roles)
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
        return AgentBuild(plan, self.channels, self.sinks, self.sources, self.interceptors,
                          self.groups, notes)  # fmt: skip

    def _build_channels(self) -> None:
        plan = self.plan
        for name, cp in list(plan.channels.items()):
            ch = _configure(cp)
            if not _drops(cp) and isinstance(ch, Channel):
                self.channels[name] = ch
            else:
                del plan.channels[name]

    def _build_sinks(self) -> None:
        plan = self.plan
        for name, cp in list(plan.sinks.items()):
            sink = _configure(cp)
            if not _drops(cp) and cp.channels[0] not in self.channels:
                cp.context.problem("channel", f"names channel {cp.channels[0]!r}, which was "
                                   "dropped", flume=cp.context.removes)  # fmt: skip
            if _drops(cp):
                del plan.sinks[name]
                continue
            assert isinstance(sink, Sink), f"{cp.cls} is not a sink"
            sink.channel = self.channels[cp.channels[0]]
            self.sinks[name] = sink

    def _build_sources(self) -> None:
        plan = self.plan
        for name, cp in list(plan.sources.items()):
            source = _configure(cp)
            interceptors = [_configure(i) for i in cp.interceptors]
            gone = [c for c in cp.channels if c not in self.channels]
            if gone and not _drops(cp):  # Flume's loadSources keeps the channels that loaded
                kept = len(gone) < len(cp.channels)
                cp.context.problem("channels", f"names channel(s) {', '.join(gone)}, which "
                                   "were dropped", lenient="run" if kept else "drop",
                                   flume=f"leaves out {', '.join(gone)}" if kept
                                   else cp.context.removes)  # fmt: skip
                cp = plan.sources[name] = dataclasses.replace(
                    cp, channels=[c for c in cp.channels if c in self.channels]
                )
            broken = _drops(cp) or any(_drops(i) for i in cp.interceptors)
            if broken:
                if cp.selector is not None:  # still report its misspelt keys (--check)
                    cp.selector.context.resolve(cp.selector.cls.PROPERTIES)
                del plan.sources[name]
                continue
            channels = [self.channels[c] for c in cp.channels]
            selector = _selector(cp, channels)
            if selector is None:
                del plan.sources[name]
                continue
            assert isinstance(source, Source), f"{cp.cls} is not a source"
            chain = [i for i in interceptors if isinstance(i, Interceptor)]
            source.connect(ChannelProcessor(channels, chain, selector))
            self.sources[name] = source
            self.interceptors[name] = chain

    def _wire_exactly_once(self, roles: exactly_once.Roles) -> list[str]:
        """Give sources and sinks their exactly-once roles; the notes that explain them."""
        from agents.sources.resume import Resume

        live = {id(w.committed) for s in self.sinks.values() if (w := exactly_once.writer_of(s))}
        for name in roles.marks & set(self.sources):
            source = self.sources[name]
            source.origin = f"{self.plan.agent}/{name}"
            committed = [c for c in roles.resume.get(name, []) if id(c) in live]  # --lenient
            if committed:
                source.resume = Resume(committed, source.origin + "/")
            if name in roles.waits:
                source.commit_waits = roles.waits[name]
        for name in roles.eager & set(self.sinks):
            if writer := exactly_once.writer_of(self.sinks[name]):
                writer.eager = True
        return roles.notes

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
            plan.groups[name] = dataclasses.replace(group, sinks=[k.name for k in proc.sinks])
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


def _configure(cp: ComponentPlan) -> Component:
    comp: Component = cp.cls(cp.name)
    comp.configure(cp.context)
    return comp


def _selector(cp: ComponentPlan, channels: list[Channel]) -> ChannelSelector | None:
    """The source's selector, configured against its channels; None if it has errors."""
    if cp.selector is None:
        return ChannelProcessor(channels, []).selector
    # the plan keeps a selector's class like a component's; it is a ChannelSelector
    selector_cls = cast("type[ChannelSelector]", cp.selector.cls)
    selector = selector_cls(channels)
    selector.configure(cp.selector.context)
    return None if _drops(cp.selector) else selector


def _drops(cp: ComponentPlan) -> bool:
    """Whether the component has an error that leaves it out (see ``Problem.drops``)."""
    return any(p.drops for p in cp.context.problems)
