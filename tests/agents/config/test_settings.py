"""Issue 19 item 4: typed settings are the Prop tables, read as typed attributes."""

from __future__ import annotations

import dataclasses

import pytest

from agents.channels.memory import MemoryChannel, MemorySettings
from agents.channels.selectors import ChannelSelector
from agents.component import Component
from agents.config.context import Context, Raw
from agents.config.properties import parse_properties
from agents.config.settings import KIND_TYPES
from agents.registry import BUILTIN, _load

TYPED = sorted(
    {cls for kinds in BUILTIN.values() for target in kinds.values()
     if getattr(cls := _load(target), "SETTINGS", None) is not None},
    key=lambda c: c.__name__,
)  # fmt: skip


def test_every_builtin_component_with_properties_is_typed() -> None:
    """Each built-in component (and selector) reads typed settings, not ``self.conf[...]``."""
    untyped = sorted(
        target for kinds in BUILTIN.values() for target in kinds.values()
        if getattr(cls := _load(target), "PROPERTIES", ()) and cls not in TYPED
    )  # fmt: skip
    assert MemoryChannel in TYPED and untyped == []


@pytest.mark.parametrize("cls", TYPED, ids=lambda c: c.__name__)
def test_a_components_properties_are_its_settings_fields(
    cls: type[Component] | type[ChannelSelector],
) -> None:
    """One declaration: what Context.resolve checks and docs list is the settings' fields,
    and each field's type is the type its Prop's kind resolves to."""
    settings = cls.SETTINGS
    assert settings is not None and settings.props() == cls.PROPERTIES
    for field, prop in zip(dataclasses.fields(settings), settings.props(), strict=True):
        assert str(field.type) == KIND_TYPES[prop.kind], (field.name, prop)


def test_settings_are_typed_and_read_only() -> None:
    text = "a.channels.c.capacity = 1k\na.channels.c.keep-alive = 0.5\n"
    props = parse_properties(text, "s.conf")
    raw = {k.removeprefix("a.channels.c."): Raw(e.value, e.line) for k, e in props.entries.items()}
    channel = MemoryChannel("c")
    context = Context("s.conf", "a.channels.c", raw)
    channel.configure(context)
    assert [str(p) for p in context.problems] == [
        "s.conf:1: a.channels.c.capacity: expected a whole number, got '1k'; Flume uses the "
        "default 100; --lenient runs it"
    ]
    assert channel.settings == MemorySettings(capacity=100, transaction_capacity=100,
                                              byte_capacity=0, byte_capacity_buffer_percentage=20,
                                              keep_alive=0.5)  # fmt: skip
    with pytest.raises(AttributeError):
        channel.settings.capacity = 5  # type: ignore[misc]
