"""Sink groups of a plan (``<agent>.sinkgroups``), checked as Flume's validateGroups and
loadSinkGroups check them."""

from __future__ import annotations

from collections.abc import Callable

from agents.config.context import Context, Raw, java_trim
from agents.config.plan import FATAL, AgentPlan, GroupPlan, drop, under, value_of
from agents.config.spec import suggest
from agents.errors import Problem
from agents.registry import resolve


def plan_groups(
    plan: AgentPlan,
    prefix: str,
    names: list[str],
    configs: dict[str, dict[str, Raw]],
    problem: Callable[..., None],
) -> None:
    """Sink groups, checked against the sinks that survived, as Flume's validateGroups and
    loadSinkGroups do: a group keeps the sinks that exist and are in no earlier group; a group
    left with none is removed (nothing to run); a group whose processor cannot run is removed
    with its sinks (Flume has taken them out of the solo sinks already)."""
    for name in sorted(set(configs) - set(names)):
        problem(f"sinkgroups.{name}", f"is configured but not listed in {prefix}sinkgroups; "
                "ignored", f"add {name} to {prefix}sinkgroups", "warning")  # fmt: skip
    grouped: dict[str, str] = {}
    for name in dict.fromkeys(names):
        raw = configs.get(name)
        key = f"sinkgroups.{name}"
        if raw is None:
            problem("sinkgroups", f"lists sink group {name!r}, which is never configured; its "
                    "sinks run on their own", f"add {prefix}{key}.sinks = <sink> <sink>",
                    flume=f"removes sink group {name}",
                    piece=f"sink group {name}")  # fmt: skip
            continue
        if value_of(raw, "sinks") is None:
            problem(key + (".sinks" if "sinks" in raw else ""), f"sink group {name!r} lists no "
                    "sinks", f"add {prefix}{key}.sinks = <sink> <sink>", lenient="refuse",
                    flume=FATAL + " (a NullPointerException)",
                    line=min(r.line or 0 for r in raw.values()) or None)  # fmt: skip
            continue
        listed = list(dict.fromkeys((value_of(raw, "sinks") or "").split()))
        for k in sorted(k for k in raw if k != "sinks" and not k.startswith("processor.")):
            problem(f"{key}.{k}", "is not a sink group property",
                    "a group has sinks and processor.*", lenient="run",
                    flume="ignores this key")  # fmt: skip
        bad = [s for s in listed if s not in plan.sinks]
        twice = [s for s in listed if s in grouped and s not in bad]
        sinks = [s for s in listed if s not in bad and s not in twice]
        if bad or twice:
            whys = []
            if bad:
                whys.append(f"names sink(s) {', '.join(bad)} that are not defined or were "
                            "dropped")  # fmt: skip
            whys.extend(f"names sink {s!r}, already in sink group {grouped[s]!r}" for s in twice)
            out = ", ".join(bad + twice)
            if sinks:
                problem(key + ".sinks", "; ".join(whys),
                        suggest(bad[0], list(plan.sinks)) if bad else None, lenient="run",
                        flume=f"leaves out {out}")  # fmt: skip
            else:
                problem(key + ".sinks", "; ".join(whys) + "; no sink is left",
                        suggest(bad[0], list(plan.sinks)) if bad else None,
                        flume=f"removes sink group {name}",
                        piece=f"sink group {name}")  # fmt: skip
                continue
        for s in sinks:
            grouped[s] = name
        where = f"{prefix}{key}"
        piece = f"sink group {name} and its sink(s) {', '.join(sinks)}"
        type_raw = raw.get("processor.type", Raw("default"))
        found = resolve("processor", java_trim(type_raw.value) or "default")
        why = None
        if found.cls is None:
            why = found.error or "unknown processor type"
        elif found.alias == "default" and len(sinks) != 1:
            why = "is of processor type default, which drives exactly one sink"
        elif len(sinks) < getattr(found.cls, "MIN_SINKS", 1):
            why = f"has {len(sinks)} sink(s); a {found.alias} group needs at least 2"
        if why is not None or found.cls is None:
            line = type_raw.line if found.cls is None else raw["sinks"].line
            plan.problems.append(Problem(plan.file, line, f"{where}.processor.type"
                                         if found.cls is None else f"{where}.sinks", why
                                         or "", found.suggestion,
                                         flume="removes the group, and its sinks do not run",
                                         piece=piece))  # fmt: skip
            for s in sinks:
                drop(plan, plan.sinks, s)
            continue
        context = Context(plan.file, f"{where}.processor", under(raw, "processor."),
                          piece=piece)  # fmt: skip
        plan.groups[name] = GroupPlan(name, found.alias or type_raw.value, found.cls, context,
                                      sinks)  # fmt: skip
