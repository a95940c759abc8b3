"""Flume's built-in interceptors that the pilot uses: timestamp, host, static, regex_filter.

Each works on a whole batch: header interceptors set one batch-wide header (no dict per event),
the filter keeps a list of bodies.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable

from agents.config.spec import Prop
from agents.event import EventBatch
from agents.interceptors.base import Interceptor


class TimestampInterceptor(Interceptor):
    """Header ``timestamp`` = time of interception in epoch milliseconds."""

    TYPE = "timestamp"
    PROPERTIES = (
        Prop("headerName", "str", "timestamp", "Header to set."),
        Prop("preserveExisting", "bool", False, "Keep a timestamp an event already has."),
    )

    def intercept(self, batch: EventBatch) -> EventBatch:
        batch.set_header(
            self.conf["headerName"], str(int(time.time() * 1000)), self.conf["preserveExisting"]
        )
        return batch


class HostInterceptor(Interceptor):
    """Header with this host's IP address (or name)."""

    TYPE = "host"
    PROPERTIES = (
        Prop("hostHeader", "str", "host", "Header to set."),
        Prop("useIP", "bool", True, "The IP address if true, else the host name."),
        Prop("preserveExisting", "bool", False, "Keep a host header an event already has."),
    )

    def start(self) -> None:
        name = socket.gethostname()  # looked up at start: --check looks nothing up
        if self.conf["useIP"]:
            try:
                name = socket.gethostbyname(name)
            except OSError:
                name = "127.0.0.1"
        self._host = name
        super().start()

    def intercept(self, batch: EventBatch) -> EventBatch:
        batch.set_header(self.conf["hostHeader"], self._host, self.conf["preserveExisting"])
        return batch


class StaticInterceptor(Interceptor):
    """A fixed header on every event (the book's ``logType = car-batch-log``)."""

    TYPE = "static"
    PROPERTIES = (
        Prop("key", "str", "key", "Header name."),
        Prop("value", "str", "value", "Header value."),
        Prop("preserveExisting", "bool", True, "Keep the header if an event already has it."),
    )

    def intercept(self, batch: EventBatch) -> EventBatch:
        batch.set_header(self.conf["key"], self.conf["value"], self.conf["preserveExisting"])
        return batch


class RegexFilterInterceptor(Interceptor):
    """Keeps events whose body matches ``regex`` (anywhere, as Java's ``find``), or drops them
    with ``excludeEvents = true``. Bodies are matched as UTF-8 text; a body that is not valid
    UTF-8 is matched with replacement characters, so binary garbage is filtered, not fatal.
    """

    TYPE = "regex_filter"
    PROPERTIES = (
        Prop("regex", "regex", ".*", "Regular expression searched in each body."),
        Prop("excludeEvents", "bool", False, "Drop matching events instead of keeping them."),
    )

    def setup(self, context) -> None:  # type: ignore[no-untyped-def]
        import re

        text = self.conf["regex"].pattern
        # Bytes pattern: no decode per event. Non-ASCII patterns fall back to text matching.
        self._bytes_search: Callable[[bytes], re.Match[bytes] | None] | None
        try:
            self._bytes_search = re.compile(text.encode("ascii")).search
        except (UnicodeEncodeError, re.error):
            self._bytes_search = None
        self._text_search = self.conf["regex"].search

    def _matches(self, body: bytes) -> bool:
        if self._bytes_search is not None:
            return self._bytes_search(body) is not None
        return self._text_search(body.decode("utf-8", "replace")) is not None

    def intercept(self, batch: EventBatch) -> EventBatch:
        bodies = batch.bodies
        search = self._bytes_search
        exclude = self.conf["excludeEvents"]
        if search is not None and batch.headers is None and batch.marks is None:
            if exclude:
                kept = [b for b in bodies if search(b) is None]
            else:
                kept = [b for b in bodies if search(b) is not None]
            return EventBatch(kept, batch.common) if len(kept) != len(bodies) else batch
        keep = [i for i, b in enumerate(bodies) if self._matches(b) != exclude]
        return batch.select(keep) if len(keep) != len(bodies) else batch
