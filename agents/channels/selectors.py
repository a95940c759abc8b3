"""Channel selectors: which of a source's channels take which events (Flume's ChannelSelector).

A source's ``selector.*`` properties configure it. Each batch is routed once, after the
interceptors, into *required* channels (every one must take its events, or the source backs off
and puts again: nothing is dropped) and *optional* channels (tried once; a refusal is logged
and counted, and the events are not put there, as in Flume).

- ``replicating`` (the default): every channel takes every event; channels named in
  ``selector.optional`` are optional.
- ``multiplexing``: the value of header ``selector.header`` picks the channels:
  ``selector.mapping.<value>`` lists the required channels for that value, and an event whose
  value is missing, empty or not mapped goes to ``selector.default``;
  ``selector.optional.<value>`` adds optional channels (those already required for that
  value are left out). An event with no required channel at all (no mapping, no default) goes
  nowhere, as in Flume: it is counted (``EventUnroutedCount``) and the config check warns.

Routing keeps batches whole where it can: a batch whose header is batch-wide goes to its
channels as it is; otherwise the events are grouped by value, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from agents.channels.base import Channel
from agents.config.context import Context
from agents.config.settings import Settings, prop
from agents.config.spec import Prop
from agents.event import EventBatch


@dataclass
class Route:
    """Where one batch goes: the events each required and each optional channel takes."""

    required: dict[Channel, EventBatch] = field(default_factory=dict)
    optional: dict[Channel, EventBatch] = field(default_factory=dict)
    unrouted: int = 0  # events no required channel takes


class ChannelSelector:
    """Base: configured from the source's ``selector.*`` keys against its channels."""

    TYPE: ClassVar[str] = ""
    PROPERTIES: ClassVar[tuple[Prop, ...]] = ()
    SETTINGS: ClassVar[type[Settings] | None] = None  # typed view of PROPERTIES, if declared
    settings: Any  # a SETTINGS instance once configured (a subclass narrows the type)

    def __init__(self, channels: Sequence[Channel]) -> None:
        self.channels = list(channels)
        self.by_name = {c.name: c for c in self.channels}
        self.conf: dict[str, Any] = {}

    def configure(self, context: Context) -> None:
        """Resolve the properties; problems (unknown channels, ...) go on the context."""
        self.conf = context.resolve(self.PROPERTIES)
        if self.SETTINGS is not None:
            self.settings = self.SETTINGS.from_conf(self.conf)
        self.setup(context)

    def setup(self, context: Context) -> None:
        """Check the settings against the source's channels."""

    def _channels(
        self, context: Context, key: str, names: str, one_space: bool = False
    ) -> list[Channel]:
        """The channels *names* lists; a name that is not one of the source's channels is an
        error that removes the source, as in Flume. With *one_space*, names are split on single
        spaces, as Flume's multiplexing selector splits them (two spaces make an empty name)."""
        out: list[Channel] = []
        if not names.strip():
            return out
        for name in names.strip().split(" ") if one_space else names.split():
            if not name:
                context.problem(key, "has two spaces in a row: Flume splits these channel names "
                                "on single spaces and finds an empty one",
                                "separate the channels with one space",
                                flume=context.removes)  # fmt: skip
            elif name not in self.by_name:
                context.problem(key, f"names channel {name!r}, which is not one of this "
                                f"source's channels ({', '.join(self.by_name)})",
                                flume=context.removes)  # fmt: skip
            elif self.by_name[name] not in out:
                out.append(self.by_name[name])
        return out

    def route(self, batch: EventBatch) -> Route:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ReplicatingSettings(Settings):
    optional: str = prop(
        "optional", "str", "", "Channels (space-separated) whose refusal is logged and ignored."
    )


class ReplicatingSelector(ChannelSelector):
    """Every channel takes every event; ``optional`` ones may refuse."""

    TYPE = "replicating"
    SETTINGS = ReplicatingSettings
    PROPERTIES = ReplicatingSettings.props()
    settings: ReplicatingSettings

    def __init__(self, channels: Sequence[Channel]) -> None:
        super().__init__(channels)
        self.required = list(self.channels)
        self.optional: list[Channel] = []

    def setup(self, context: Context) -> None:
        self.optional = self._channels(context, "optional", self.settings.optional)
        self.required = [c for c in self.channels if c not in self.optional]

    def route(self, batch: EventBatch) -> Route:
        return Route(dict.fromkeys(self.required, batch), dict.fromkeys(self.optional, batch))


@dataclass(frozen=True, kw_only=True)
class MultiplexingSettings(Settings):
    header: str = prop(
        "header", "str", "flume.selector.header", "The header whose value picks channels."
    )
    default: str = prop(
        "default",
        "str",
        "",
        "Channels for events whose value is missing, empty or not mapped. Without it such "
        "events go nowhere, as in Flume (counted in the source's EventUnroutedCount).",
    )
    mapping: dict[str, str] = prop(
        "mapping.", "prefix", doc="mapping.<value> = <channels>: required channels."
    )
    optional: dict[str, str] = prop(
        "optional.",
        "prefix",
        doc="optional.<value> = <channels>: optional channels for that value.",
    )


class MultiplexingSelector(ChannelSelector):
    """A header's value picks the channels, per event."""

    TYPE = "multiplexing"
    SETTINGS = MultiplexingSettings
    PROPERTIES = MultiplexingSettings.props()
    settings: MultiplexingSettings

    def setup(self, context: Context) -> None:
        self.header = self.settings.header
        self.default = self._channels(context, "default", self.settings.default, True)
        mapping = self.settings.mapping
        optional = self.settings.optional
        self.mapping: dict[str, list[Channel]] = {}
        for value, names in mapping.items():
            if not names.strip():  # Flume drops a property with an empty value
                context.problem(f"mapping.{value}", "names no channel",
                                "list the channels for this value, or remove the line",
                                lenient="run", flume=f"ignores it: events with value {value!r} "
                                "go to the default channel(s)")  # fmt: skip
                continue
            self.mapping[value] = self._channels(context, f"mapping.{value}", names, True)
        self.optional: dict[str, list[Channel]] = {}
        for value, names in optional.items():
            required = self.mapping.get(value) or self.default
            chosen = self._channels(context, f"optional.{value}", names, True)
            self.optional[value] = [c for c in chosen if c not in required]
        if not self.default:
            context.problem(
                "default",
                "is not set: events whose header "
                f"{self.header!r} is missing or not mapped go nowhere (as in Flume)",
                "set selector.default to the channel(s) that should take them",
                severity="warning",
            )
        self._cache: dict[str | None, tuple[list[Channel], list[Channel]]] = {}

    def channels_for(self, value: str | None) -> tuple[list[Channel], list[Channel]]:
        """(required, optional) channels of a header value."""
        hit = self._cache.get(value)
        if hit is None:
            required = self.default
            if value is not None and value.strip():
                required = self.mapping.get(value, self.default)
            optional = self.optional.get(value, []) if value is not None else []
            if len(self._cache) >= 10_000:  # many distinct values: do not grow without bound
                self._cache.clear()
            hit = self._cache[value] = (required, optional)
        return hit

    def route(self, batch: EventBatch) -> Route:
        header = self.header
        if batch.headers is None or not any(header in h for h in batch.headers):
            required, optional = self.channels_for(batch.common.get(header))
            return Route(dict.fromkeys(required, batch), dict.fromkeys(optional, batch),
                         0 if required else len(batch))  # fmt: skip
        picks: dict[Channel, list[int]] = {}
        extra: dict[Channel, list[int]] = {}
        unrouted = 0
        for i in range(len(batch)):
            required, optional = self.channels_for(batch.header_of(i, header))
            if not required:
                unrouted += 1
            for c in required:
                picks.setdefault(c, []).append(i)
            for c in optional:
                extra.setdefault(c, []).append(i)
        return Route({c: batch.select(ix) for c, ix in picks.items()},
                     {c: batch.select(ix) for c, ix in extra.items()}, unrouted)  # fmt: skip
