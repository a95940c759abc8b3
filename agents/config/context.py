"""A component's raw properties with their source lines, resolved against its declarations."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.config.spec import Prop, convert, suggest
from agents.errors import Problem

# Keys any component may carry; the topology handles them, not the component.
TOPOLOGY_KEYS = frozenset({"type", "channels", "channel", "interceptors"})
TOPOLOGY_PREFIXES = ("selector.",)


@dataclass(frozen=True)
class Raw:
    """One property as written: its value and where."""

    value: str
    line: int | None = None


@dataclass
class Context:
    """The properties of one component (keys relative to it, e.g. ``spoolDir``).

    ``where`` names the component for messages, e.g. ``SmartCar_Agent.sources.Spool``.
    """

    file: str
    where: str
    raw: dict[str, Raw] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, key: str) -> int | None:
        r = self.raw.get(key)
        return r.line if r else None

    def problem(
        self, key: str | None, message: str, suggestion: str | None = None, severity: str = "error"
    ) -> None:
        full_key = f"{self.where}.{key}" if key else self.where
        line = self.line_of(key) if key else None
        self.problems.append(Problem(self.file, line, full_key, message, suggestion, severity))

    def check_dir(self, key: str, path: Path) -> None:
        """A problem under *key* unless *path* can be written or created: its nearest existing
        part must be a directory this process can write to (nothing existing: no problem)."""
        existing = next((p for p in (path, *path.parents) if p.exists()), None)
        if existing is None:
            return
        if not existing.is_dir():
            self.problem(key, f"{str(existing)!r} is not a directory")
        elif not os.access(existing, os.W_OK | os.X_OK):
            self.problem(key, f"{str(existing)!r} is not writable")

    def get(self, key: str) -> str | None:
        r = self.raw.get(key)
        return r.value if r else None

    def resolve(
        self, props: tuple[Prop, ...], allow_prefixes: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Typed values for every declared property (defaults filled in), keyed by ``Prop.name``.

        Records a problem for a missing required property, a bad value, two names of one
        property, and any key no declaration knows (an error: a misspelt key would otherwise
        silently leave a default in force; with a "did you mean" suggestion).
        ``prefix`` properties collect their family into a dict.
        """
        values: dict[str, Any] = {}
        known: set[str] = set(TOPOLOGY_KEYS)
        prefixes = [*allow_prefixes, *TOPOLOGY_PREFIXES]
        for prop in props:
            if prop.kind == "prefix":
                prefixes.append(prop.name)
                values[prop.name] = {
                    k[len(prop.name) :]: r.value
                    for k, r in self.raw.items()
                    if k.startswith(prop.name)
                }
                continue
            known.update(prop.names())
            present = [n for n in prop.names() if n in self.raw]
            if len(present) > 1:
                self.problem(
                    present[1],
                    f"sets the same property as {present[0]!r}; keep one",
                    severity="warning",
                )
            if not present:
                if prop.required:
                    self.problem(prop.name, "is required but not set")
                else:
                    values[prop.name] = _default(prop)
                continue
            key = present[0]
            try:
                values[prop.name] = convert(prop, self.raw[key].value)
            except ValueError as exc:
                self.problem(key, str(exc))
                if not prop.required:
                    values[prop.name] = _default(prop)
        candidates = sorted(known) + prefixes
        for key in self.raw:
            if key in known or any(key.startswith(p) for p in prefixes):
                continue
            self.problem(key, "is not a property of this component", suggest(key, candidates))
        return values


def _default(prop: Prop) -> Any:
    """A declared default, typed like a configured value (a regex default is compiled, a
    charset default normalised)."""
    if prop.kind in ("regex", "charset") and isinstance(prop.default, str):
        return convert(prop, prop.default)
    return prop.default
