"""Flume's regex_extractor interceptor: the groups of ``regex`` found in a body become headers.

``serializers = s1 s2 ...`` names one serializer per group, in order: group 1 goes to header
``serializers.s1.name``, group 2 to ``serializers.s2.name``... A serializer's ``type`` says how
the matched text is written: ``DEFAULT`` (Flume's pass-through, as it is) or
``org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer`` (``millis``: the text
read with the date ``pattern``, e.g. ``yyyyMMddHHmmss``, written as epoch milliseconds; local
time unless the pattern has a zone). Bodies are searched as UTF-8 text (``find``, anywhere).
The regex is Java's (``agents.config.javaregex``). A body that does not match keeps its
headers; a group that did not take part sets its header to ``null`` (Flume puts a Java null
there, which its logger shows as ``null``; its avro sink cannot send such an event, ours sends
the text); a value the millis serializer cannot read sets nothing and is logged (Flume would
fail the whole batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agents.config.context import Context
from agents.config.javafmt import DatePattern
from agents.config.javaregex import JavaPattern
from agents.config.settings import Settings, prop
from agents.event import EventBatch
from agents.interceptors.base import Interceptor

_FLUME = "org.apache.flume.interceptor.RegexExtractorInterceptor"
PASS_THROUGH = ("DEFAULT", f"{_FLUME}PassThroughSerializer")
MILLIS = ("millis", f"{_FLUME}MillisSerializer")


@dataclass(frozen=True, kw_only=True)
class RegexExtractorSettings(Settings):
    regex: JavaPattern = prop(
        "regex", "regex", doc="Regular expression whose groups are extracted."
    )
    serializers: list[str] = prop(
        "serializers", "list", doc="One serializer name per group, in order."
    )
    serializer_settings: dict[str, str] = prop(
        "serializers.",
        "prefix",
        doc="serializers.<s>.name = header; serializers.<s>.type = DEFAULT | millis (or "
        "Flume's class names); serializers.<s>.pattern = the millis serializer's date "
        "pattern.",
    )


class RegexExtractorInterceptor(Interceptor):
    TYPE = "regex_extractor"
    SETTINGS = RegexExtractorSettings
    PROPERTIES = RegexExtractorSettings.props()
    settings: RegexExtractorSettings

    def setup(self, context: Context) -> None:
        regex = self.settings.regex
        if not regex.pattern:
            context.problem("regex", "may not be empty")
        names: list[str] = self.settings.serializers
        subs: dict[str, str] = self.settings.serializer_settings
        self._serializers: list[tuple[str, Callable[[str], str]]] = []
        for name in names:
            key = f"serializers.{name}"
            header = subs.get(f"{name}.name", "")
            kind = subs.get(f"{name}.type", "DEFAULT")
            if not header:
                context.problem(f"{key}.name", "is required: the header this group goes to")
            if kind in PASS_THROUGH:
                self._serializers.append((header, str))
            elif kind in MILLIS:
                try:
                    pattern = DatePattern(subs.get(f"{name}.pattern", ""))
                    if not pattern.pattern:
                        raise ValueError("is required by the millis serializer")
                except ValueError as exc:
                    context.problem(f"{key}.pattern", str(exc))
                    continue
                self._serializers.append((header, self._millis(pattern)))
            else:
                context.problem(f"{key}.type", f"unknown serializer {kind!r}",
                                f"use DEFAULT or {MILLIS[1]}")  # fmt: skip
        known = {f"{n}.{p}" for n in names for p in ("name", "type", "pattern")}
        for extra in sorted(set(subs) - known):
            context.problem(f"serializers.{extra}", "is not a serializer setting",
                            f"serializers listed: {' '.join(names)}", lenient="run",
                            flume="ignores this key")  # fmt: skip
        if regex.groups > len(names):
            context.problem("serializers", f"names {len(names)} serializer(s) for "
                            f"{regex.groups} group(s); groups after the last are not extracted",
                            severity="warning")  # fmt: skip

    def _millis(self, pattern: DatePattern) -> Callable[[str], str]:
        def serialize(text: str) -> str:
            return str(pattern.millis(text))

        return serialize

    def intercept(self, batch: EventBatch) -> EventBatch:
        search = self.settings.regex.search
        serializers = self._serializers
        headers = batch.per_event()
        for i, body in enumerate(batch.bodies):
            m = search(body.decode("utf-8", "replace"))
            if m is None:
                continue
            h = headers[i]
            for (name, serialize), value in zip(serializers, m.groups(), strict=False):
                if value is None:
                    if serialize is str:
                        h[name] = "null"
                    continue
                try:
                    h[name] = serialize(value)
                except ValueError as exc:
                    self.counters.error(str(exc))
                    self.log.warning("header %s not set from %r: %s", name, value, exc)
        return batch
