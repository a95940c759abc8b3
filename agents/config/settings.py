"""Typed settings: a component's properties declared once, read as typed attributes.

A component declares its properties as a frozen dataclass whose fields are made by ``prop``
(the ``Prop`` that documents and checks the property, plus the Python type of its value)::

    @dataclass(frozen=True, kw_only=True)
    class MemorySettings(Settings):
        capacity: int = prop("capacity", "int", 100, "Most events stored.", minimum=1)

    class MemoryChannel(Channel):
        SETTINGS = MemorySettings
        PROPERTIES = MemorySettings.props()  # what Context.resolve checks, what docs list
        settings: MemorySettings

``Component.configure`` resolves ``PROPERTIES`` (every problem with file, line and key) and,
when nothing drops the component, builds ``self.settings`` from the resolved values, so code
reads ``self.settings.capacity`` (an ``int`` for mypy) instead of ``self.conf["capacity"]``.
docs/components.md is generated from the same ``Prop`` objects (``agents.reference``).
A test checks that each field's type fits its ``Prop``'s kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from agents.config.spec import REQUIRED, Prop

# The Python type a resolved value of each Prop kind has (``agents.config.spec.convert``).
KIND_TYPES = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "choice": "str",
    "regex": "JavaPattern",
    "charset": "str",
    "list": "list[str]",
    "bytes": "int",
    "prefix": "dict[str, str]",
}


def prop(name: str, kind: str = "str", default: Any = REQUIRED, doc: str = "", **more: Any) -> Any:
    """A settings field declared by its ``Prop`` (the arguments are ``Prop``'s)."""
    return dataclasses.field(metadata={"prop": Prop(name, kind, default, doc, **more)})


def shared(declared: Prop) -> Any:
    """A settings field for a ``Prop`` several components share (e.g. ``STREAM_LINE_CAP``)."""
    return dataclasses.field(metadata={"prop": declared})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Base of a component's typed settings (see the module's docstring)."""

    @classmethod
    def props(cls) -> tuple[Prop, ...]:
        """The declared properties, in field order."""
        return tuple(f.metadata["prop"] for f in dataclasses.fields(cls))

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any]) -> Self:
        """The settings from ``Context.resolve``'s values (keyed by ``Prop.name``)."""
        return cls(**{f.name: conf[f.metadata["prop"].name] for f in dataclasses.fields(cls)})
