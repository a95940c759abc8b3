"""Flume's built-in interceptors that the pilot uses: timestamp, host, static, regex_filter.

Each works on a whole batch: header interceptors set one batch-wide header (no dict per event),
the filter keeps a list of bodies.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from agents.config.context import Context
from agents.config.javaregex import JavaPattern
from agents.config.settings import Settings, prop
from agents.event import EventBatch
from agents.interceptors.base import Interceptor


@dataclass(frozen=True, kw_only=True)
class TimestampSettings(Settings):
    header_name: str = prop("headerName", "str", "timestamp", "Header to set.")
    preserve_existing: bool = prop(
        "preserveExisting", "bool", False, "Keep a timestamp an event already has."
    )


class TimestampInterceptor(Interceptor):
    """Header ``timestamp`` = time of interception in epoch milliseconds."""

    TYPE = "timestamp"
    SETTINGS = TimestampSettings
    PROPERTIES = TimestampSettings.props()
    settings: TimestampSettings

    def intercept(self, batch: EventBatch) -> EventBatch:
        batch.set_header(
            self.settings.header_name, str(int(time.time() * 1000)), self.settings.preserve_existing
        )
        return batch


def local_host(use_ip: bool) -> str | None:
    """Java's ``InetAddress.getLocalHost()``: this host's name resolved to its first address
    (IPv4 first, as a JVM prefers), and with *use_ip* false the canonical name of that
    address (``getCanonicalHostName``: the reverse lookup, kept only if it resolves back to
    the address; else the address). None where the host name does not resolve (Flume then
    sets no header)."""
    try:
        found = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return None
    found.sort(key=lambda a: a[0] != socket.AF_INET)
    address = str(found[0][4][0])
    if use_ip:
        return address
    try:
        name = socket.gethostbyaddr(address)[0]
        back = {str(a[4][0]) for a in socket.getaddrinfo(name, None)}
    except OSError:
        return address
    return name if address in back else address


@dataclass(frozen=True, kw_only=True)
class HostSettings(Settings):
    host_header: str = prop("hostHeader", "str", "host", "Header to set.")
    use_ip: bool = prop("useIP", "bool", True, "The IP address if true, else the host name.")
    preserve_existing: bool = prop(
        "preserveExisting", "bool", False, "Keep a host header an event already has."
    )


class HostInterceptor(Interceptor):
    """Header with this host's IP address, or with ``useIP = false`` its canonical name, as a
    JVM gives them (``InetAddress.getLocalHost()``)."""

    TYPE = "host"
    SETTINGS = HostSettings
    PROPERTIES = HostSettings.props()
    settings: HostSettings

    def start(self) -> None:
        self._host = local_host(self.settings.use_ip)  # at start: --check looks nothing up
        if self._host is None:
            self.log.warning("this host's name does not resolve; no %s header is set (as "
                             "Flume)", self.settings.host_header)  # fmt: skip
        super().start()

    def intercept(self, batch: EventBatch) -> EventBatch:
        if self._host is not None:
            batch.set_header(self.settings.host_header, self._host, self.settings.preserve_existing)
        return batch


@dataclass(frozen=True, kw_only=True)
class StaticSettings(Settings):
    key: str = prop("key", "str", "key", "Header name.")
    value: str = prop("value", "str", "value", "Header value.")
    preserve_existing: bool = prop(
        "preserveExisting", "bool", True, "Keep the header if an event already has it."
    )


class StaticInterceptor(Interceptor):
    """A fixed header on every event (the book's ``logType = car-batch-log``)."""

    TYPE = "static"
    SETTINGS = StaticSettings
    PROPERTIES = StaticSettings.props()
    settings: StaticSettings

    def intercept(self, batch: EventBatch) -> EventBatch:
        batch.set_header(self.settings.key, self.settings.value, self.settings.preserve_existing)
        return batch


@dataclass(frozen=True, kw_only=True)
class RegexFilterSettings(Settings):
    regex: JavaPattern = prop("regex", "regex", ".*", "Regular expression searched in each body.")
    exclude_events: bool = prop(
        "excludeEvents", "bool", False, "Drop matching events instead of keeping them."
    )


class RegexFilterInterceptor(Interceptor):
    """Keeps events whose body matches ``regex`` (a Java regex, found anywhere, as Java's
    ``find``), or drops them with ``excludeEvents = true``. Bodies are matched as UTF-8 text;
    a body that is not valid UTF-8 is matched with replacement characters, so binary garbage is
    filtered, not fatal.
    """

    TYPE = "regex_filter"
    SETTINGS = RegexFilterSettings
    PROPERTIES = RegexFilterSettings.props()
    settings: RegexFilterSettings

    def setup(self, context: Context) -> None:
        # on bytes where that gives the text's answer (javaregex.JavaPattern): no decode
        self._bytes_search: Callable[[bytes], object] | None = self.settings.regex.search_bytes
        self._text_search = self.settings.regex.search

    def _matches(self, body: bytes) -> bool:
        if self._bytes_search is not None:
            return self._bytes_search(body) is not None
        return self._text_search(body.decode("utf-8", "replace")) is not None

    def intercept(self, batch: EventBatch) -> EventBatch:
        bodies = batch.bodies
        search = self._bytes_search
        exclude = self.settings.exclude_events
        if search is not None and batch.headers is None and batch.marks is None:
            if exclude:
                kept = [b for b in bodies if search(b) is None]
            else:
                kept = [b for b in bodies if search(b) is not None]
            return EventBatch(kept, batch.common) if len(kept) != len(bodies) else batch
        keep = [i for i, b in enumerate(bodies) if self._matches(b) != exclude]
        return batch.select(keep) if len(keep) != len(bodies) else batch
