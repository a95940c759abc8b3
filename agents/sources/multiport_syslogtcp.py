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

from agents.config.context import Context
from agents.config.spec import Prop
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
    check_common,
    client_headers,
    common_props,
    keep_fields,
    parse_multiport,
    split_frames,
)
from agents.sources.syslogtcp import EVENT_SIZE


class MultiportSyslogTcpSource(ListeningSource):
    TYPE = "multiport_syslogtcp"
    PROPERTIES = (
        Prop("ports", "list", doc="Ports to listen on (space-separated)."),
        *common_props(),
        EVENT_SIZE,
        Prop("portHeader", "str", "", "Header for the port a message came in on (empty: none)."),
        Prop("charset.default", "charset", "UTF-8", "Charset of the messages."),
        Prop("charset.port.", "prefix", doc="charset.port.<port> = <charset> for one port."),
        Prop("batchSize", "int", 100, "Most messages a batch.", minimum=1),
        Prop("readBufferBytes", "int", 1024, "Accepted for compatibility; reads take 64 KiB."),
        Prop("numProcessors", "int", 0, "Accepted for compatibility; a thread a connection."),
        *connection_props(flume=" Counted per port.", idle_ms=0, idle_why=SYSLOG_IDLE),
    )

    def setup(self, context: Context) -> None:
        check_common(context, self.conf)
        self._ports: list[int] = []
        for raw in self.conf["ports"]:
            if not raw.isdigit() or int(raw) > 65535:
                context.problem("ports", f"{raw!r} is not a port number")
            else:
                self._ports.append(int(raw))
        self._charsets: dict[int, str] = {}
        for port, name in self.conf["charset.port."].items():
            key = f"charset.port.{port}"
            try:
                self._charsets[int(port)] = codecs.lookup(name).name
            except ValueError:
                context.problem(key, f"{port!r} is not a port number")
            except LookupError:
                context.problem(key, f"unknown charset {name!r}")
        self._keep = keep_fields(self.conf["keepFields"])

    def listen(self) -> None:
        for port in self._ports:
            self.listen_tcp(self.conf["host"], port, self._serve)

    def _serve(self, conn: socket.socket, peer: tuple[str, int], reader: Reader) -> None:
        port = conn.getsockname()[1]
        charset = self._charsets.get(port, self.conf["charset.default"])
        extra = client_headers(self.conf, peer)
        if self.conf["portHeader"]:
            extra[self.conf["portHeader"]] = str(port)
        size, most = self.conf["eventSize"], self.conf["batchSize"]
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
