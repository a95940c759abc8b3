"""Flume's remove_header interceptor: drops headers by name, from a list, or by a regex.

``withName`` removes one header; ``fromList`` removes every name in the list (split by the
regex ``fromListSeparator``, default ``\\s*,\\s*``); ``matching`` removes every header whose
whole name matches the regex. Bodies are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.config import javaregex
from agents.config.context import Context
from agents.config.javaregex import JavaPattern
from agents.config.settings import Settings, prop
from agents.event import EventBatch
from agents.interceptors.base import Interceptor


@dataclass(frozen=True, kw_only=True)
class RemoveHeaderSettings(Settings):
    with_name: str = prop("withName", "str", "", "A header to remove.")
    from_list: str = prop(
        "fromList", "str", "", "Headers to remove, separated by fromListSeparator."
    )
    from_list_separator: JavaPattern = prop(
        "fromListSeparator", "regex", r"\s*,\s*", "How fromList is split (a regex)."
    )
    matching: str = prop(
        "matching", "str", "", "Remove every header whose whole name matches this regex."
    )


class RemoveHeaderInterceptor(Interceptor):
    TYPE = "remove_header"
    SETTINGS = RemoveHeaderSettings
    PROPERTIES = RemoveHeaderSettings.props()
    settings: RemoveHeaderSettings

    def setup(self, context: Context) -> None:
        names = set(self.settings.from_list_separator.split(self.settings.from_list))
        names.discard("")
        if self.settings.with_name:
            names.add(self.settings.with_name)
        self._names = frozenset(names)
        self._matching: javaregex.JavaPattern | None = None
        if self.settings.matching:
            try:
                self._matching = javaregex.compile(self.settings.matching)
            except javaregex.JavaRegexError as exc:
                context.problem("matching", str(exc), flume=context.removes)
        if not names and self._matching is None:
            context.problem(None, "removes nothing: set withName, fromList or matching",
                            severity="warning")  # fmt: skip

    def _gone(self, key: str) -> bool:
        return key in self._names or (self._matching is not None and self._matching.matches(key))

    def intercept(self, batch: EventBatch) -> EventBatch:
        common = batch.common
        if any(self._gone(k) for k in common):
            batch.common = {k: v for k, v in common.items() if not self._gone(k)}
        if batch.headers is not None:
            for headers in batch.headers:
                for key in [k for k in headers if self._gone(k)]:
                    del headers[key]
        return batch
