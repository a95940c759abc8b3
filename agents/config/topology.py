"""From a parsed properties file to an agent's flows, with every problem found on the way.

Follows Flume's FlumeConfiguration: ``<agent>.sources|channels|sinks`` list the components;
``<agent>.<kind>.<name>.<property>`` configure them; a source names its ``channels`` (and its
``selector.*``), a sink its ``channel``; ``<agent>.sinkgroups`` puts sinks behind one
processor (``sinkgroups.<group>.sinks``, ``sinkgroups.<group>.processor.*``).

Every problem says what Apache Flume 1.11 does with it and what ``--lenient`` does (see
``Problem``); the plan is what ``--lenient`` runs, which is what Flume runs: an unknown key is
ignored, a broken component is left out and the rest runs, a source keeps the channels that
exist, a sink group keeps the sinks that exist and are in no other group; a group whose
processor cannot be configured is left out with its sinks (they do not run in Flume either);
an unknown component type refuses the whole config (Flume stops with a fatal error). By
default the agent refuses any config with an error. Unlike Flume, every message names the
file, line and key, and says what to do.
"""

from __future__ import annotations

from agents.config.context import Context, Raw, java_trim
from agents.config.plan import FATAL, AgentPlan, ComponentPlan, GroupPlan, drop, under, value_of
from agents.config.properties import PropertiesFile
from agents.config.sinkgroups import plan_groups
from agents.config.spec import suggest
from agents.errors import Problem
from agents.registry import resolve

__all__ = ["AgentPlan", "ComponentPlan", "GroupPlan", "build_plan"]  # the plan's shapes: plan.py

KINDS = ("sources", "channels", "sinks")
SINGULAR = {"sources": "source", "channels": "channel", "sinks": "sink"}


def build_plan(props: PropertiesFile, agent: str) -> AgentPlan:
    """The flows of *agent* in *props*, as ``--lenient`` (and Flume) would run them; every
    problem found on the way is in ``plan.problems``."""
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
                lenient="refuse",
            )
        )
        return plan

    def problem(key: str, message: str, hint: str | None = None, severity: str = "error",
                lenient: str = "drop", flume: str | None = None, piece: str | None = None,
                line: int | None = None) -> None:  # fmt: skip
        entry = props.entries.get(prefix + key)
        plan.problems.append(Problem(props.path, entry.line if entry else line, prefix + key,
                                     message, hint, severity, lenient, flume, piece))  # fmt: skip

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
                problem(key, "names a component but no property",
                        "write <name>.<property> = value", lenient="run",
                        flume="ignores it")  # fmt: skip
                continue
            configs[head].setdefault(name, {})[prop] = Raw(entry.value, entry.line)
            continue
        if head == "configfilters":
            problem(key, "config filters are not provided by this agent; a value that uses "
                    "one stays as written", "use ${env:NAME} or ${NAME} for the environment",
                    lenient="run")  # fmt: skip
            continue
        problem(key, "is not a Flume agent property",
                suggest(head, list(KINDS)) or "expected sources, channels or sinks",
                lenient="run", flume="ignores it")  # fmt: skip

    for kind in KINDS:
        declared = configs[kind]
        names = listed.get(kind, [])
        if kind not in listed and declared:
            problem(
                kind,
                f"is not set, so these {kind} are ignored: {', '.join(sorted(declared))}",
                f"add: {prefix}{kind} = {' '.join(sorted(declared))}",
                flume=f"runs no {kind}",
                piece=f"the {kind}",
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
            what = f"{SINGULAR[kind]} {name}"
            if raw is None or value_of(raw, "type") is None:
                why = "never configured" if raw is None else "configured without a type"
                problem(kind, f"lists {SINGULAR[kind]} {name!r}, which is {why}",
                        f"add {prefix}{kind}.{name}.type = ...", flume=f"removes {what}",
                        piece=what)  # fmt: skip
                continue
            comp = _plan_component(plan, SINGULAR[kind], f"{prefix}{kind}.{name}", name, raw)
            if comp is not None:
                getattr(plan, kind)[name] = comp

    _link(plan, prefix)
    plan_groups(plan, prefix, listed.get("sinkgroups", []), configs["sinkgroups"], problem)
    return plan


def _plan_component(
    plan: AgentPlan, kind: str, where: str, name: str, raw: dict[str, Raw]
) -> ComponentPlan | None:
    type_raw = raw["type"]
    found = resolve(kind, java_trim(type_raw.value))
    what = f"{kind} {name}"
    if found.cls is None:
        # Flume cannot load the class and stops (a type it has and we do not: we leave it out)
        provided = found.error is not None and "does not provide" in found.error
        plan.problems.append(
            Problem(
                plan.file,
                type_raw.line,
                f"{where}.type",
                found.error or "unknown type",
                found.suggestion,
                lenient="drop" if provided else "refuse",
                flume=None if provided else FATAL,
                piece=what,
            )
        )
        return None
    own = {k: v for k, v in raw.items() if not k.startswith("interceptors.")}
    comp = ComponentPlan(kind, name, found.alias or type_raw.value, found.cls,
                         Context(plan.file, where, own, piece=what))  # fmt: skip
    if kind == "source":
        comp.channels = (value_of(raw, "channels") or "").split()
        comp.interceptors, comp.broken = _plan_interceptors(plan, where, raw, what)
        comp.selector, broken = _plan_selector(plan, where, raw, what)
        comp.broken = comp.broken or broken
    elif kind == "sink":
        comp.channels = (value_of(raw, "channel") or "").split()
    return comp


def _plan_selector(
    plan: AgentPlan, where: str, raw: dict[str, Raw], what: str
) -> tuple[ComponentPlan | None, bool]:
    """The source's channel selector (None: the default replicating one), and whether it is
    broken."""
    sub = under(raw, "selector.")
    if not sub:
        return None, False
    type_raw = sub.get("type", Raw("replicating"))
    found = resolve("selector", java_trim(type_raw.value) or "replicating")
    if found.cls is None:
        plan.problems.append(Problem(plan.file, type_raw.line, f"{where}.selector.type",
                                     found.error or "unknown selector", found.suggestion,
                                     flume=f"removes {what}", piece=what))  # fmt: skip
        return None, True
    context = Context(plan.file, f"{where}.selector", sub, piece=what)
    return ComponentPlan("selector", "selector", found.alias or type_raw.value, found.cls,
                         context), False  # fmt: skip


def _plan_interceptors(
    plan: AgentPlan, where: str, raw: dict[str, Raw], what: str
) -> tuple[list[ComponentPlan], bool]:
    """The source's interceptor chain, and whether any link of it is broken."""
    if value_of(raw, "interceptors") is None:
        return [], False
    out = []
    broken = False
    names = (value_of(raw, "interceptors") or "").split()
    for iname in names:
        sub = under(raw, f"interceptors.{iname}.")
        iwhere = f"{where}.interceptors.{iname}"
        if value_of(sub, "type") is None:
            plan.problems.append(
                Problem(
                    plan.file,
                    raw["interceptors"].line,
                    f"{where}.interceptors",
                    f"lists interceptor {iname!r}, which has no type",
                    f"add {iwhere}.type = ...",
                    flume=f"removes {what}",
                    piece=what,
                )
            )
            broken = True
            continue
        found = resolve("interceptor", java_trim(sub["type"].value))
        if found.cls is None:
            plan.problems.append(
                Problem(
                    plan.file,
                    sub["type"].line,
                    f"{iwhere}.type",
                    found.error or "unknown interceptor",
                    found.suggestion,
                    flume=f"removes {what}",
                    piece=what,
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
                Context(plan.file, iwhere, sub, piece=what),
            )
        )
    declared = {k.split(".")[1] for k in raw if k.startswith("interceptors.")}
    for extra in sorted(declared - set(names)):
        first = min((r.line or 0 for k, r in under(raw, f"interceptors.{extra}.").items()),
                    default=0)  # fmt: skip
        plan.problems.append(
            Problem(
                plan.file,
                first or None,
                f"{where}.interceptors.{extra}",
                "is configured but not listed in interceptors; ignored",
                severity="warning",
            )
        )
    return out, broken


def _link(plan: AgentPlan, prefix: str) -> None:
    """Sources keep the channels that exist (Flume's retainAll); sources with none, and sinks
    whose channel does not exist, are left out; then channels nothing uses."""
    for name, src in list(plan.sources.items()):
        key = f"{prefix}sources.{name}.channels"
        line = src.context.line_of("channels")
        removes = dict(flume=f"removes source {name}", piece=f"source {name}")
        if src.broken:
            drop(plan, plan.sources, name)
            continue
        if not src.channels:
            plan.problems.append(Problem(plan.file, line, key, "is not set" if line is None
                                         else "is empty", f"add {key} = <channel>",
                                         **removes))  # fmt: skip
            drop(plan, plan.sources, name)
            continue
        missing = [c for c in src.channels if c not in plan.channels]
        if not missing:
            continue
        kept = [c for c in src.channels if c in plan.channels]
        hint = suggest(missing[0], list(plan.channels))
        says = f"names channel(s) {', '.join(missing)} that are not defined or were dropped"
        if kept:
            plan.problems.append(Problem(plan.file, line, key, says, hint, lenient="run",
                                         flume=f"leaves out {', '.join(missing)}"))  # fmt: skip
            src.channels = kept
        else:
            plan.problems.append(Problem(plan.file, line, key, says, hint, **removes))
            drop(plan, plan.sources, name)
    for name, sink in list(plan.sinks.items()):
        key = f"{prefix}sinks.{name}.channel"
        line = sink.context.line_of("channel")
        removes = dict(flume=f"removes sink {name}", piece=f"sink {name}")
        if not sink.channels:
            plan.problems.append(Problem(plan.file, line or sink.context.line_of("type"),
                                         key if line else f"{prefix}sinks.{name}.type",
                                         "its channel is not set", f"add {key} = <channel>",
                                         **removes))  # fmt: skip
            drop(plan, plan.sinks, name)
        elif len(sink.channels) != 1 or sink.channels[0] not in plan.channels:
            named = " ".join(sink.channels)
            plan.problems.append(Problem(plan.file, line, key, f"names channel {named!r}, "
                                         "which is not defined or was dropped" if
                                         len(sink.channels) == 1 else "must name exactly one "
                                         "channel", suggest(named, list(plan.channels)),
                                         **removes))  # fmt: skip
            drop(plan, plan.sinks, name)
    used = {c for s in plan.sources.values() for c in s.channels}
    used |= {k.channels[0] for k in plan.sinks.values()}
    for name in list(plan.channels):
        if name not in used:
            plan.problems.append(
                Problem(
                    plan.file,
                    plan.channels[name].context.line_of("type"),
                    f"{prefix}channels.{name}",
                    "is not connected to any source or sink; dropped",
                    severity="warning",
                )
            )
            drop(plan, plan.channels, name)
    if not plan.sources and not plan.sinks:
        plan.problems.append(
            Problem(
                plan.file,
                None,
                prefix.rstrip("."),
                "has no valid flow left to run",
                lenient="refuse",
            )
        )
