"""Declared component properties: one place for names, types, defaults and docs.

Each component class lists its ``PROPERTIES``; ``Context.resolve`` turns the raw strings of a
properties file into typed values against that list, and reports every problem with file, line
and key. ``docs/components.md`` is checked against these declarations by a test, so the
reference cannot drift from the code.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Any

from agents.config import javaregex

REQUIRED = object()  # marker: the property has no default


@dataclass(frozen=True)
class Prop:
    """One property a component accepts.

    kind: str | int | float | bool | choice | regex | charset | list | bytes | prefix.
    ``regex`` is compiled as ``java.util.regex`` reads it (``agents.config.javaregex``).
    ``charset`` is checked and normalised to Python's codec name (``UTF-8`` -> ``utf-8``).
    ``prefix`` declares a family (``kafka.producer.``): every key under it is collected into
    a ``dict`` of the remainder (``{"linger.ms": "5"}``).
    ``aliases`` are other accepted names (Flume's legacy names, e.g. ``brokerList``); the first
    name is the one documented and preferred. ``bool`` takes ``true`` or ``false`` (any case);
    Flume reads anything else as false, which ``--lenient`` does too.
    """

    name: str
    kind: str = "str"
    default: Any = REQUIRED
    doc: str = ""
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    case_insensitive: bool = True  # for choice
    deprecated_aliases: tuple[str, ...] = field(default=())
    fallback: bool = False  # Flume reads a bad value as the default (memory channel's sizes)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)b?\s*$", re.IGNORECASE)
_SIZE_MULT = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def convert(prop: Prop, raw: str) -> Any:
    """Convert one raw string to the property's type; raises ValueError with a clear reason."""
    text = raw.strip()
    kind = prop.kind
    if kind == "str":
        return raw.strip()
    if kind == "int":
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
        if prop.minimum is not None and value < prop.minimum:
            raise ValueError(f"must be at least {prop.minimum:g}, got {value}")
        return value
    if kind == "float":
        try:
            fvalue = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
        if prop.minimum is not None and fvalue < prop.minimum:
            raise ValueError(f"must be at least {prop.minimum:g}, got {fvalue:g}")
        return fvalue
    if kind == "bool":
        low = text.lower()
        if low in ("true", "false"):
            return low == "true"
        raise ValueError(f"expected true or false, got {raw!r}")
    if kind == "choice":
        for choice in prop.choices:
            if choice == text or (prop.case_insensitive and choice.lower() == text.lower()):
                return choice
        raise ValueError(f"expected one of {', '.join(prop.choices)}, got {raw!r}")
    if kind == "regex":  # Java's dialect, as Flume compiles it (agents.config.javaregex)
        return javaregex.compile(text)
    if kind == "charset":
        try:
            return codecs.lookup(text).name
        except LookupError:
            raise ValueError(f"unknown charset {text!r}") from None
    if kind == "list":
        return text.split()
    if kind == "bytes":
        m = _SIZE.match(text)
        if not m:
            raise ValueError(f"expected a size in bytes (e.g. 1048576 or 1m), got {raw!r}")
        return int(m.group(1)) * _SIZE_MULT[m.group(2).lower()]
    raise ValueError(f"unknown property kind {kind!r}")  # a bug in a declaration


def suggest(name: str, candidates: list[str]) -> str | None:
    """'did you mean X?' for a misspelt key, case-insensitively."""
    import difflib

    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return f"did you mean {lowered[name.lower()]!r}? property names are case-sensitive"
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.75)
    return f"did you mean {lowered[match[0]]!r}?" if match else None
