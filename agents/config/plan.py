"""An agent's plan: its flows as a properties file describes them (``agents.config.topology``
builds it), before any component is configured (``agents.builder`` does that)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.config.context import Context, Raw, java_trim
from agents.errors import Problem

if TYPE_CHECKING:
    from agents.component import Component


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

    def blocking(self, lenient: bool) -> list[Problem]:
        """The problems that stop the agent from starting in this mode."""
        return [p for p in self.problems if p.blocks(lenient)]

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


FATAL = "stops at start with a fatal error"  # what Flume does where it refuses a whole config


def value_of(raw: dict[str, Raw], key: str) -> str | None:
    """A topology property's value, Java-trimmed; None if unset or empty (Flume drops a
    property with an empty value)."""
    r = raw.get(key)
    value = java_trim(r.value) if r is not None else ""
    return value or None


def under(raw: dict[str, Raw], prefix: str) -> dict[str, Raw]:
    """The properties under *prefix*, keyed by the rest of their names."""
    return {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}


def drop(plan: AgentPlan, table: dict[str, ComponentPlan], name: str) -> None:
    """Leave a component out, still reporting its property problems (for --check)."""
    cp = table.pop(name)
    for c in [cp, *cp.interceptors, *([cp.selector] if cp.selector else [])]:
        c.context.resolve(c.cls.PROPERTIES, getattr(c.cls, "PREFIXES", ()))
        plan.problems.extend(c.context.problems)
