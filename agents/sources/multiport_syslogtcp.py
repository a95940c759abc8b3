"""Flume's multiport_syslogtcp source: syslogtcp on several ports at once, with Flume's
SyslogParser (``agents.sources.syslog_format.parse_multiport``: headers ``Priority``,
``Facility``, ``Severity``, ``Version``, ``timestamp``, ``host``).

Each message is read in the charset of its port (``charset.port.<port>``, else
``charset.default``); one that is not valid in it keeps its bytes as body and gets
``flume.syslog.status = Invalid``, as one that is not syslog does. ``portHeader`` names the
header that carries the port. Messages are put in batches of up to ``batchSize``; as with
syslogtcp, a full channel slows the sender instead of dropping messages. Each port serves
at most ``maxConnections`` senders at once; ``idleTimeout`` closes silent ones if set.
"""

from __future__ import annotations

import codecs
import socket
from dataclasses import dataclass

from agents.config.context import Context
from agents.config.settings import Settings, prop, shared
from agents.event import EventBatch
from agents.servers import Reader
from agents.sources.listening import (
    LINE_RECV,
    SYSLOG_IDLE,
    ListeningSource,
    connection_props,
)
from agents.sources.syslog_format import (
    INCOMPLETE,
    INVALID,
    STATUS,
    SyslogSettings,
    check_common,
    client_headers,
    keep_fields,
    parse_multiport,
    split_frames,
)
from agents.sources.syslogtcp import EVENT_SIZE

_LIMITS = connection_props(flume=" Counted per port.", idle_ms=0, idle_why=SYSLOG_IDLE)


@dataclass(frozen=True, kw_only=True)
class _Ports(Settings):
    ports: list[str] = prop("ports", "list", doc="Ports to listen on (space-separated).")


@dataclass(frozen=True, kw_only=True)
class MultiportSyslogTcpSettings(SyslogSettings, _Ports):
    event_size: int = shared(EVENT_SIZE)
    port_header: str = prop(
        "portHeader", "str", "", "Header for the port a message came in on (empty: none)."
    )
    charset_default: str = prop("charset.default", "charset", "UTF-8", "Charset of the messages.")
    charset_port: dict[str, str] = prop(
        "charset.port.", "prefix", doc="charset.port.<port> = <charset> for one port."
    )
    batch_size: int = prop("batchSize", "int", 100, "Most messages a batch.", minimum=1)
    read_buffer_bytes: int = prop(
        "readBufferBytes", "int", 1024, "Accepted for compatibility; reads take 64 KiB."
    )
    num_processors: int = prop(
        "numProcessors", "int", 0, "Accepted for compatibility; a thread a connection."
    )
    max_connections: int = shared(_LIMITS.most)
    idle_timeout: int = shared(_LIMITS.idle)
    backlog: int = shared(_LIMITS.backlog)


class MultiportSyslogTcpSource(ListeningSource):
    TYPE = "multiport_syslogtcp"
    SETTINGS = MultiportSyslogTcpSettings
    PROPERTIES = MultiportSyslogTcpSettings.props()
    settings: MultiportSyslogTcpSettings

    def setup(self, context: Context) -> None:
        check_common(context, self.settings)
        self._ports: list[int] = []
        for raw in self.settings.ports:
            if not raw.isdigit() or int(raw) > 65535:
                context.problem("ports", f"{raw!r} is not a port number")
            else:
                self._ports.append(int(raw))
        self._charsets: dict[int, str] = {}
        for port, name in self.settings.charset_port.items():
            key = f"charset.port.{port}"
            try:
                self._charsets[int(port)] = codecs.lookup(name).name
            except ValueError:
                context.problem(key, f"{port!r} is not a port number")
            except LookupError:
                context.problem(key, f"unknown charset {name!r}")
        self._keep = keep_fields(self.settings.keep_fields)

    def listen(self) -> None:
        for port in self._ports:
            self.listen_tcp(self.settings.host, port, self._serve)

    def _serve(self, conn: socket.socket, peer: tuple[str, int], reader: Reader) -> None:
        port = conn.getsockname()[1]
        charset = self._charsets.get(port, self.settings.charset_default)
        extra = client_headers(self.settings, peer)
        if self.settings.port_header:
            extra[self.settings.port_header] = str(port)
        size, most = self.settings.event_size, self.settings.batch_size
        pending = b""
        while not self.stopping:
            chunk = reader.recv(LINE_RECV)
            if not chunk:
                frames = [(pending, False)] if pending.strip(b"\n") else []
            else:
                frames, pending = split_frames(pending + chunk, size)
            for at in range(0, len(frames), most):
                self._put(frames[at : at + most], charset, extra)
            if not chunk:
                return

    def _put(self, frames: list[tuple[bytes, bool]], charset: str, extra: dict[str, str]) -> None:
        bodies, headers = [], []
        for raw, cut in frames:
            try:
                text = raw.decode(charset)
            except UnicodeDecodeError:
                body, hdrs = raw, {STATUS: INVALID}
            else:
                try:
                    parsed, hdrs = parse_multiport(text, self._keep)
                    body = parsed.encode(charset)
                    if cut:
                        hdrs[STATUS] = INCOMPLETE
                except ValueError as exc:
                    self.log.debug("not syslog: %s", exc)
                    body, hdrs = raw, {STATUS: INVALID}
            if hdrs.get(STATUS) == INVALID:
                self.counters.add("EventReadFail")
            bodies.append(body)
            headers.append({**hdrs, **extra})
        if bodies:
            self.deliver(EventBatch(bodies, {}, headers), hold=True)
