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


def java_trim(text: str) -> str:
    """``String.trim()``: strips characters up to U+0020 (Flume trims every value so)."""
    return text.strip("".join(map(chr, range(33))))


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
    piece: str = ""  # what an error here leaves out under --lenient, e.g. "source s"

    @property
    def removes(self) -> str | None:
        """Flume's verdict on an error that makes its configure() throw."""
        return f"removes {self.piece}" if self.piece else None

    def line_of(self, key: str) -> int | None:
        r = self.raw.get(key)
        return r.line if r else None

    def problem(
        self,
        key: str | None,
        message: str,
        suggestion: str | None = None,
        severity: str = "error",
        lenient: str = "drop",
        flume: str | None = None,
    ) -> None:
        """Record a problem under *key* (at its line, else at the component's ``type`` line);
        an error leaves ``piece`` out unless *lenient* says "run" (see ``Problem``)."""
        full_key = f"{self.where}.{key}" if key else self.where
        line = (self.line_of(key) if key else None) or self.line_of("type")
        self.problems.append(Problem(self.file, line, full_key, message, suggestion, severity,
                                     lenient, flume, self.piece or None))  # fmt: skip

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
        silently leave a default in force; with a "did you mean" suggestion). Each says what
        Flume does with it: an unknown key and an empty value are ignored, a bad boolean is
        false, a bad number of a ``fallback`` property is its default (these run under
        --lenient, with that value); other bad values remove the component.
        ``prefix`` properties collect their family into a dict.
        """
        values: dict[str, Any] = {}
        known: set[str] = set(TOPOLOGY_KEYS)
        prefixes = [*allow_prefixes, *TOPOLOGY_PREFIXES]
        removes = self.removes
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
            given = [n for n in prop.names() if n in self.raw]
            present = [n for n in given if java_trim(self.raw[n].value)]
            for empty in (n for n in given if n not in present):
                self._empty(prop, empty)
            if len(present) > 1:
                self.problem(
                    present[1],
                    f"sets the same property as {present[0]!r}; keep one",
                    severity="warning",
                )
            if not present:
                if prop.required:
                    self.problem(given[0] if given else prop.name,
                                 "is required but " + ("empty" if given else "not set"),
                                 flume=removes)  # fmt: skip
                else:
                    values[prop.name] = _default(prop)
                continue
            key = present[0]
            try:
                values[prop.name] = convert(prop, self.raw[key].value)
            except ValueError as exc:
                self._bad_value(prop, key, str(exc), values, removes)
        candidates = sorted(known) + prefixes
        for key in self.raw:
            if key in known or any(key.startswith(p) for p in prefixes):
                continue
            self.problem(key, "is not a property of this component", suggest(key, candidates),
                         lenient="run", flume="ignores this key")  # fmt: skip
        return values

    def _empty(self, prop: Prop, key: str) -> None:
        """Flume drops a property whose value is empty, so its default applies: say so where
        that differs from an empty value."""
        if prop.required:
            return  # reported as "required but empty"
        default = _default(prop)
        if default in ("", None, (), []) or prop.kind == "list":
            return
        shown = str(default).lower() if isinstance(default, bool) else default
        self.problem(key, f"is empty; Flume ignores a property with an empty value, so the "
                     f"default {shown!r} applies", "remove the line, or give the value",
                     lenient="run", flume=f"uses the default {shown!r}")  # fmt: skip

    def _bad_value(
        self, prop: Prop, key: str, why: str, values: dict[str, Any], removes: str | None
    ) -> None:
        if prop.kind == "bool":  # Boolean.parseBoolean: anything but "true" is false
            values[prop.name] = False
            self.problem(key, why, lenient="run", flume="reads it as false")
        elif prop.fallback and not prop.required:
            values[prop.name] = _default(prop)
            self.problem(key, why, lenient="run", flume=f"uses the default {prop.default}")
        else:
            self.problem(key, why, flume=None if "at least" in why else removes)
            if not prop.required:
                values[prop.name] = _default(prop)


def _default(prop: Prop) -> Any:
    """A declared default, typed like a configured value (a regex default is compiled, a
    charset default normalised)."""
    if prop.kind in ("regex", "charset") and isinstance(prop.default, str):
        return convert(prop, prop.default)
    return prop.default
