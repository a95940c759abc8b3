"""From a parsed properties file to an agent's flows, with every problem found on the way.

Follows Flume's FlumeConfiguration: ``<agent>.sources|channels|sinks`` list the components;
``<agent>.<kind>.<name>.<property>`` configure them; a source names its ``channels`` (and its
``selector.*``), a sink its ``channel``; ``<agent>.sinkgroups`` puts sinks behind one
processor (``sinkgroups.<group>.sinks``, ``sinkgroups.<group>.processor.*``). Like Flume, a
broken component is dropped with a message and the valid flows still run (a broken sink group
leaves its sinks running on their own); unlike Flume, every message names the file, line and
key, and says what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.config.context import Context, Raw
from agents.config.properties import PropertiesFile
from agents.config.spec import suggest
from agents.errors import Problem
from agents.registry import resolve

if TYPE_CHECKING:
    from agents.component import Component

KINDS = ("sources", "channels", "sinks")
SINGULAR = {"sources": "source", "channels": "channel", "sinks": "sink"}


@dataclass
class ComponentPlan:
    kind: str  # source | channel | sink | interceptor
    name: str
    type_name: str
    cls: type[Component]
    context: Context
    channels: list[str] = field(default_factory=list)  # sources: channels; sinks: [channel]
    interceptors: list[ComponentPlan] = field(default_factory=list)
    broken: bool = False  # an interceptor (or the selector) of this source cannot be built
    selector: ComponentPlan | None = None  # a source's channel selector (None: replicating)


@dataclass
class GroupPlan:
    """A sink group: its processor (``cls`` configured from ``context``) and its sinks."""

    name: str
    type_name: str
    cls: type
    context: Context
    sinks: list[str]


@dataclass
class AgentPlan:
    agent: str
    file: str
    sources: dict[str, ComponentPlan] = field(default_factory=dict)
    channels: dict[str, ComponentPlan] = field(default_factory=dict)
    sinks: dict[str, ComponentPlan] = field(default_factory=dict)
    groups: dict[str, GroupPlan] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def describe(self) -> list[str]:
        """One line per flow: source -> interceptors -> channel(s); sink <- channel."""
        lines = []
        for s in self.sources.values():
            chain = " -> ".join(f"{i.name}({i.type_name})" for i in s.interceptors)
            via = f" -> {chain}" if chain else ""
            sel = f" [{s.selector.type_name}]" if s.selector is not None else ""
            lines.append(f"source {s.name} ({s.type_name}){via}{sel} -> {', '.join(s.channels)}")
        for k in self.sinks.values():
            lines.append(f"sink {k.name} ({k.type_name}) <- {k.channels[0]}")
        for g in self.groups.values():
            lines.append(f"sink group {g.name} ({g.type_name}): {', '.join(g.sinks)}")
        return lines


def build_plan(props: PropertiesFile, agent: str) -> AgentPlan:
    """The flows of *agent* in *props*; components with errors are left out, with problems."""
    plan = AgentPlan(agent, props.path, problems=list(props.problems))
    prefix = agent + "."
    mine = {k[len(prefix) :]: e for k, e in props.entries.items() if k.startswith(prefix)}
    if not mine:
        agents = sorted({k.split(".", 1)[0] for k in props.entries if "." in k})
        plan.problems.append(
            Problem(
                props.path,
                None,
                agent,
                f"no properties for agent {agent!r} in this file",
                suggest(agent, agents)
                or (f"agents in this file: {', '.join(agents)}" if agents else None),
            )
        )
        return plan

    def problem(key: str, message: str, hint: str | None = None, severity: str = "error") -> None:
        entry = props.entries.get(prefix + key)
        plan.problems.append(
            Problem(
                props.path, entry.line if entry else None, prefix + key, message, hint, severity
            )
        )

    listed: dict[str, list[str]] = {}
    configs: dict[str, dict[str, dict[str, Raw]]] = {k: {} for k in (*KINDS, "sinkgroups")}
    for key, entry in mine.items():
        head, _, rest = key.partition(".")
        if head in (*KINDS, "sinkgroups") and not rest:
            names = entry.value.split()
            listed[head] = names
            for dup in {n for n in names if names.count(n) > 1}:
                problem(key, f"lists {dup!r} twice", severity="warning")
            continue
        if head in (*KINDS, "sinkgroups"):
            name, _, prop = rest.partition(".")
            if not prop:
                problem(key, "names a component but no property", "write <name>.<property> = value")
                continue
            configs[head].setdefault(name, {})[prop] = Raw(entry.value, entry.line)
            continue
        if head == "configfilters":
            problem(key, f"{head} are not provided by this agent yet",
                    "remove them, or run with --lenient to ignore them")  # fmt: skip
            continue
        problem(
            key,
            "is not a Flume agent property",
            suggest(head, list(KINDS)) or "expected sources, channels or sinks",
        )

    for kind in KINDS:
        declared = configs[kind]
        names = listed.get(kind, [])
        if kind not in listed and declared:
            problem(
                kind,
                f"is not set, so these {kind} are ignored: {', '.join(sorted(declared))}",
                f"add: {prefix}{kind} = {' '.join(sorted(declared))}",
            )
        for name in sorted(set(declared) - set(names)):
            if kind in listed:
                first = min(r.line or 0 for r in declared[name].values())
                plan.problems.append(
                    Problem(
                        props.path,
                        first or None,
                        f"{prefix}{kind}.{name}",
                        f"is configured but not listed in {prefix}{kind}; ignored",
                        f"add {name} to {prefix}{kind}",
                        "warning",
                    )
                )
        for name in dict.fromkeys(names):
            raw = declared.get(name)
            if raw is None or "type" not in raw:
                what = "never configured" if raw is None else "configured without a type"
                problem(
                    kind,
                    f"lists {SINGULAR[kind]} {name!r}, which is {what}; it is dropped",
                    f"add {prefix}{kind}.{name}.type = ...",
                )
                continue
            comp = _plan_component(plan, SINGULAR[kind], f"{prefix}{kind}.{name}", name, raw)
            if comp is not None:
                getattr(plan, kind)[name] = comp

    _link(plan, prefix)
    _plan_groups(plan, prefix, listed.get("sinkgroups", []), configs["sinkgroups"], problem)
    return plan


def _plan_component(
    plan: AgentPlan, kind: str, where: str, name: str, raw: dict[str, Raw]
) -> ComponentPlan | None:
    type_raw = raw["type"]
    found = resolve(kind, type_raw.value)
    if found.cls is None:
        plan.problems.append(
            Problem(
                plan.file,
                type_raw.line,
                f"{where}.type",
                f"{found.error}; {kind} {name!r} is dropped",
                found.suggestion,
            )
        )
        return None
    own = {k: v for k, v in raw.items() if not k.startswith("interceptors.")}
    comp = ComponentPlan(
        kind, name, found.alias or type_raw.value, found.cls, Context(plan.file, where, own)
    )
    if kind == "source":
        comp.channels = raw["channels"].value.split() if "channels" in raw else []
        comp.interceptors, comp.broken = _plan_interceptors(plan, where, raw)
        comp.selector, broken = _plan_selector(plan, where, raw)
        comp.broken = comp.broken or broken
    elif kind == "sink":
        comp.channels = raw["channel"].value.split() if "channel" in raw else []
    return comp


def _under(raw: dict[str, Raw], prefix: str) -> dict[str, Raw]:
    """The properties under *prefix*, keyed by the rest of their names."""
    return {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}


def _plan_selector(
    plan: AgentPlan, where: str, raw: dict[str, Raw]
) -> tuple[ComponentPlan | None, bool]:
    """The source's channel selector (None: the default replicating one), and whether it is
    broken."""
    sub = _under(raw, "selector.")
    if not sub:
        return None, False
    type_raw = sub.get("type", Raw("replicating"))
    found = resolve("selector", type_raw.value)
    if found.cls is None:
        plan.problems.append(Problem(plan.file, type_raw.line, f"{where}.selector.type",
                                     f"{found.error}; the source is dropped",
                                     found.suggestion))  # fmt: skip
        return None, True
    context = Context(plan.file, f"{where}.selector", sub)
    return ComponentPlan("selector", "selector", found.alias or type_raw.value, found.cls,
                         context), False  # fmt: skip


def _plan_groups(
    plan: AgentPlan,
    prefix: str,
    names: list[str],
    configs: dict[str, dict[str, Raw]],
    problem: Callable[..., None],
) -> None:
    """Sink groups, checked against the sinks that survived; a broken group is left out and
    its sinks run on their own (as Flume does)."""
    for name in sorted(set(configs) - set(names)):
        problem(f"sinkgroups.{name}", f"is configured but not listed in {prefix}sinkgroups; "
                "ignored", f"add {name} to {prefix}sinkgroups", "warning")  # fmt: skip
    grouped: dict[str, str] = {}
    for name in dict.fromkeys(names):
        raw = configs.get(name, {})
        key = f"sinkgroups.{name}"
        if "sinks" not in raw:
            problem(key + ".sinks" if raw else "sinkgroups",
                    f"sink group {name!r} lists no sinks; it is left out",
                    f"add {prefix}{key}.sinks = <sink> <sink>")  # fmt: skip
            continue
        sinks = raw["sinks"].value.split()
        type_raw = raw.get("processor.type", Raw("default"))
        found = resolve("processor", type_raw.value)
        where = f"{prefix}{key}"
        if found.cls is None:
            plan.problems.append(Problem(plan.file, type_raw.line, f"{where}.processor.type",
                                         f"{found.error}; the group is left out",
                                         found.suggestion))  # fmt: skip
            continue
        bad = [s for s in sinks if s not in plan.sinks]
        twice = [s for s in sinks if s in grouped]
        minimum = getattr(found.cls, "MIN_SINKS", 1)
        why = None
        if bad:
            why = f"names sink(s) {', '.join(bad)} that are not defined or were dropped"
        elif twice:
            why = f"names sink {twice[0]!r}, already in sink group {grouped[twice[0]]!r}"
        elif found.alias == "default" and len(sinks) != 1:
            why = "is of processor type default, which drives exactly one sink"
        elif len(sinks) < minimum:
            why = f"has {len(sinks)} sink(s); a {found.alias} group needs at least {minimum}"
        if why is not None:
            problem(key + ".sinks", f"{why}; the group is left out and its sinks run on "
                    "their own", suggest(bad[0], list(plan.sinks)) if bad else None)  # fmt: skip
            continue
        for s in sinks:
            grouped[s] = name
        if found.alias == "default":
            continue  # one sink on its own is what the default processor is
        context = Context(plan.file, f"{where}.processor", _under(raw, "processor."))
        for k in sorted(k for k in raw if k not in ("sinks",) and not k.startswith("processor.")):
            problem(f"{key}.{k}", "is not a sink group property",
                    "a group has sinks and processor.*")  # fmt: skip
        plan.groups[name] = GroupPlan(name, found.alias or type_raw.value, found.cls, context,
                                      sinks)  # fmt: skip


def _plan_interceptors(
    plan: AgentPlan, where: str, raw: dict[str, Raw]
) -> tuple[list[ComponentPlan], bool]:
    """The source's interceptor chain, and whether any link of it is broken."""
    if "interceptors" not in raw:
        return [], False
    out = []
    broken = False
    names = raw["interceptors"].value.split()
    for iname in names:
        sub = _under(raw, f"interceptors.{iname}.")
        iwhere = f"{where}.interceptors.{iname}"
        if "type" not in sub:
            plan.problems.append(
                Problem(
                    plan.file,
                    raw["interceptors"].line,
                    f"{where}.interceptors",
                    f"lists interceptor {iname!r}, which has no type; "
                    "the source is dropped (Flume would fail it too)",
                    f"add {iwhere}.type = ...",
                )
            )
            broken = True
            continue
        found = resolve("interceptor", sub["type"].value)
        if found.cls is None:
            plan.problems.append(
                Problem(
                    plan.file,
                    sub["type"].line,
                    f"{iwhere}.type",
                    f"{found.error}; the source is dropped",
                    found.suggestion,
                )
            )
            broken = True
            continue
        out.append(
            ComponentPlan(
                "interceptor",
                iname,
                found.alias or sub["type"].value,
                found.cls,
                Context(plan.file, iwhere, sub),
            )
        )
    declared = {k.split(".")[1] for k in raw if k.startswith("interceptors.")}
    for extra in sorted(declared - set(names)):
        plan.problems.append(
            Problem(
                plan.file,
                None,
                f"{where}.interceptors.{extra}",
                "is configured but not listed in interceptors; ignored",
                severity="warning",
            )
        )
    return out, broken


def _drop(plan: AgentPlan, table: dict[str, ComponentPlan], name: str) -> None:
    """Leave a component out, still reporting its property problems (for --check)."""
    cp = table.pop(name)
    for c in [cp, *cp.interceptors, *([cp.selector] if cp.selector else [])]:
        c.context.resolve(c.cls.PROPERTIES, getattr(c.cls, "PREFIXES", ()))
        plan.problems.extend(c.context.problems)


def _link(plan: AgentPlan, prefix: str) -> None:
    """Drop sources and sinks whose channels do not exist, and channels nothing uses."""
    for name, src in list(plan.sources.items()):
        line = src.context.line_of("channels")
        if src.broken:
            _drop(plan, plan.sources, name)
            continue
        if not src.channels:
            plan.problems.append(
                Problem(
                    plan.file,
                    None,
                    f"{prefix}sources.{name}.channels",
                    "is not set; the source is dropped",
                    f"add {prefix}sources.{name}.channels = <channel>",
                )
            )
            _drop(plan, plan.sources, name)
            continue
        missing = [c for c in src.channels if c not in plan.channels]
        if missing:
            plan.problems.append(
                Problem(
                    plan.file,
                    line,
                    f"{prefix}sources.{name}.channels",
                    f"names channel(s) {', '.join(missing)} that are not "
                    "defined; the source is dropped",
                    suggest(missing[0], list(plan.channels)),
                )
            )
            _drop(plan, plan.sources, name)
    for name, sink in list(plan.sinks.items()):
        key = f"{prefix}sinks.{name}.channel"
        line = sink.context.line_of("channel")
        if len(sink.channels) != 1:
            why = "is not set" if not sink.channels else "must name exactly one channel"
            plan.problems.append(
                Problem(
                    plan.file, line, key, f"{why}; the sink is dropped", f"add {key} = <channel>"
                )
            )
            _drop(plan, plan.sinks, name)
        elif sink.channels[0] not in plan.channels:
            plan.problems.append(
                Problem(
                    plan.file,
                    line,
                    key,
                    f"names channel {sink.channels[0]!r}, which is not "
                    "defined; the sink is dropped",
                    suggest(sink.channels[0], list(plan.channels)),
                )
            )
            _drop(plan, plan.sinks, name)
    used = {c for s in plan.sources.values() for c in s.channels}
    used |= {k.channels[0] for k in plan.sinks.values()}
    for name in list(plan.channels):
        if name not in used:
            plan.problems.append(
                Problem(
                    plan.file,
                    None,
                    f"{prefix}channels.{name}",
                    "is not connected to any source or sink; dropped",
                    severity="warning",
                )
            )
            _drop(plan, plan.channels, name)
    if not plan.sources and not plan.sinks:
        plan.problems.append(
            Problem(plan.file, None, prefix.rstrip("."), "has no valid flow left to run")
        )
