"""Flume's search_replace interceptor: rewrites each body, replacing every match of
``searchPattern`` (a Java regex) with ``replaceString`` (Java's syntax: ``$1`` is group 1,
``${name}`` a named group, ``\\$`` a dollar).

Bodies are read as ``charset`` text (bytes invalid in it become U+FFFD, as Java's decoder makes
them) and written back in it. Headers are untouched.
"""

from __future__ import annotations

from agents.config.context import Context
from agents.config.javafmt import java_replacement
from agents.config.spec import Prop
from agents.event import EventBatch
from agents.interceptors.base import Interceptor


class SearchReplaceInterceptor(Interceptor):
    TYPE = "search_replace"
    PROPERTIES = (
        Prop("searchPattern", "regex", doc="Regular expression to search for in each body."),
        Prop("replaceString", "str", "", "Replacement (Java syntax: $1 for group 1)."),
        Prop("charset", "charset", "UTF-8", "Charset of the bodies."),
    )

    def setup(self, context: Context) -> None:
        if not self.conf["searchPattern"].pattern:
            context.problem("searchPattern", "may not be empty")
        try:
            pattern = self.conf["searchPattern"]
            self._replace = java_replacement(self.conf["replaceString"], pattern.groups,
                                             pattern.groupindex)  # fmt: skip
        except ValueError as exc:
            context.problem("replaceString", str(exc))

    def intercept(self, batch: EventBatch) -> EventBatch:
        sub = self.conf["searchPattern"].sub
        repl, cs = self._replace, self.conf["charset"]
        return batch.with_bodies(
            [sub(repl, b.decode(cs, "replace")).encode(cs, "replace") for b in batch.bodies]
        )
