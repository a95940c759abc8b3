"""Flume's search_replace interceptor: rewrites each body, replacing every match of
``searchPattern`` (a Java regex) with ``replaceString`` (Java's syntax: ``$1`` is group 1,
``${name}`` a named group, ``\\$`` a dollar).

Bodies are read as ``charset`` text (bytes invalid in it become U+FFFD, as Java's decoder makes
them) and written back in it. Headers are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.config.context import Context
from agents.config.javafmt import java_replacement
from agents.config.javaregex import JavaPattern
from agents.config.settings import Settings, prop
from agents.event import EventBatch
from agents.interceptors.base import Interceptor


@dataclass(frozen=True, kw_only=True)
class SearchReplaceSettings(Settings):
    search_pattern: JavaPattern = prop(
        "searchPattern", "regex", doc="Regular expression to search for in each body."
    )
    replace_string: str = prop(
        "replaceString", "str", "", "Replacement (Java syntax: $1 for group 1)."
    )
    charset: str = prop("charset", "charset", "UTF-8", "Charset of the bodies.")


class SearchReplaceInterceptor(Interceptor):
    TYPE = "search_replace"
    SETTINGS = SearchReplaceSettings
    PROPERTIES = SearchReplaceSettings.props()
    settings: SearchReplaceSettings

    def setup(self, context: Context) -> None:
        if not self.settings.search_pattern.pattern:
            context.problem("searchPattern", "may not be empty")
        try:
            pattern = self.settings.search_pattern
            self._replace = java_replacement(self.settings.replace_string, pattern.groups,
                                             pattern.groupindex)  # fmt: skip
        except ValueError as exc:
            context.problem("replaceString", str(exc))

    def intercept(self, batch: EventBatch) -> EventBatch:
        sub = self.settings.search_pattern.sub
        repl, cs = self._replace, self.settings.charset
        return batch.with_bodies(
            [sub(repl, b.decode(cs, "replace")).encode(cs, "replace") for b in batch.bodies]
        )
