"""Flume's syslogtcp source: syslog messages over TCP, one a line, parsed into Flume's headers.

Messages end at ``\\n``; one of ``eventSize`` bytes or more is cut there and marked
``flume.syslog.status = Incomplete`` (the rest becomes the next message, as in Flume). Headers
and body: ``agents.sources.syslog_format`` (Flume's SyslogUtils), with ``format.*`` for a
custom layout tried first. Messages that arrive together are put as one batch, and the
connection is read no further until the channels took it: a full channel slows the sender
(TCP flow control) instead of dropping messages, as Flume would. A last message without a
newline is delivered when the sender closes the connection. At most ``maxConnections``
senders at once (``agents.servers``); ``idleTimeout`` closes silent ones if set.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from agents.config.context import Context
from agents.config.settings import prop, shared
from agents.config.spec import Prop
from agents.event import EventBatch
from agents.servers import Reader
from agents.sources.listening import (
    LINE_RECV,
    SYSLOG_IDLE,
    ListeningSource,
    PortSettings,
    connection_props,
)
from agents.sources.syslog_format import (
    STATUS,
    SyslogFormat,
    SyslogSettings,
    check_common,
    client_headers,
    custom_format,
    keep_fields,
    split_frames,
)

EVENT_SIZE = Prop("eventSize", "int", 2500, "Most bytes a message; longer ones are cut.",
                  minimum=10)  # fmt: skip


_LIMITS = connection_props(idle_ms=0, idle_why=SYSLOG_IDLE)


@dataclass(frozen=True, kw_only=True)
class SyslogTcpSettings(SyslogSettings, PortSettings):
    event_size: int = shared(EVENT_SIZE)
    max_connections: int = shared(_LIMITS.most)
    idle_timeout: int = shared(_LIMITS.idle)
    backlog: int = shared(_LIMITS.backlog)
    format: dict[str, str] = prop(
        "format.",
        "prefix",
        doc="A custom layout: format.regex (groups: priority, version, timestamp, host, body), "
        "format.search/replace (applied to the timestamp), format.dateFormat (its Java date "
        "pattern).",
    )


class SyslogTcpSource(ListeningSource):
    TYPE = "syslogtcp"
    SETTINGS = SyslogTcpSettings
    PROPERTIES = SyslogTcpSettings.props()
    settings: SyslogTcpSettings

    def setup(self, context: Context) -> None:
        check_common(context, self.settings)
        self._format = SyslogFormat(keep_fields(self.settings.keep_fields),
                                    custom_format(self.settings.format, context))  # fmt: skip

    def listen(self) -> None:
        self.listen_tcp(self.settings.host, self.settings.port, self._serve)

    def _serve(self, conn: socket.socket, peer: tuple[str, int], reader: Reader) -> None:
        client = client_headers(self.settings, peer)
        size = self.settings.event_size
        pending = b""
        while not self.stopping:
            chunk = reader.recv(LINE_RECV)
            if not chunk:
                frames = [(pending, False)] if pending.strip(b"\n") else []
                self._put(frames, client)
                return
            frames, pending = split_frames(pending + chunk, size)
            self._put(frames, client)

    def _put(self, frames: list[tuple[bytes, bool]], client: dict[str, str]) -> None:
        if not frames:
            return
        bodies, headers = [], []
        for raw, cut in frames:
            body, hdrs = self._format.parse(raw, cut)
            bodies.append(body)
            headers.append({**hdrs, **client})
            if STATUS in hdrs:
                self.counters.add("EventReadFail")
        self.deliver(EventBatch(bodies, {}, headers), hold=True)
