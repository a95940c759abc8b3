"""Flume's remove_header interceptor: drops headers by name, from a list, or by a regex.

``withName`` removes one header; ``fromList`` removes every name in the list (split by the
regex ``fromListSeparator``, default ``\\s*,\\s*``); ``matching`` removes every header whose
whole name matches the regex. Bodies are untouched.
"""

from __future__ import annotations

from agents.config import javaregex
from agents.config.context import Context
from agents.config.spec import Prop
from agents.event import EventBatch
from agents.interceptors.base import Interceptor


class RemoveHeaderInterceptor(Interceptor):
    TYPE = "remove_header"
    PROPERTIES = (
        Prop("withName", "str", "", "A header to remove."),
        Prop("fromList", "str", "", "Headers to remove, separated by fromListSeparator."),
        Prop("fromListSeparator", "regex", r"\s*,\s*", "How fromList is split (a regex)."),
        Prop("matching", "str", "", "Remove every header whose whole name matches this regex."),
    )

    def setup(self, context: Context) -> None:
        names = set(self.conf["fromListSeparator"].split(self.conf["fromList"]))
        names.discard("")
        if self.conf["withName"]:
            names.add(self.conf["withName"])
        self._names = frozenset(names)
        self._matching: javaregex.JavaPattern | None = None
        if self.conf["matching"]:
            try:
                self._matching = javaregex.compile(self.conf["matching"])
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
