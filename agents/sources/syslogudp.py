"""Flume's syslogudp source: each UDP datagram is one syslog message, parsed into Flume's
headers (``agents.sources.syslog_format``, Flume's SyslogUtils; ``format.*`` as syslogtcp).

A datagram is read up to its first ``\\n`` and at most 2500 bytes (a longer one is marked
``flume.syslog.status = Incomplete``), as Flume reads it. UDP has no flow control: while a
channel is full the source holds what it received and puts it again; datagrams that arrive
meanwhile wait in the socket's buffer (4 MiB), and what the kernel cannot buffer is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.config.context import Context
from agents.config.settings import prop
from agents.event import EventBatch
from agents.sources.listening import ListeningSource, PortSettings
from agents.sources.syslog_format import (
    STATUS,
    SyslogFormat,
    SyslogSettings,
    check_common,
    client_headers,
    custom_format,
    keep_fields,
)

MAX_MESSAGE = 2500  # Flume's SyslogUtils default size, which its UDP source keeps


@dataclass(frozen=True, kw_only=True)
class SyslogUdpSettings(SyslogSettings, PortSettings):
    format: dict[str, str] = prop(
        "format.", "prefix", doc="A custom layout, as syslogtcp's format.*."
    )


class SyslogUdpSource(ListeningSource):
    TYPE = "syslogudp"
    SETTINGS = SyslogUdpSettings
    PROPERTIES = SyslogUdpSettings.props()
    settings: SyslogUdpSettings

    def setup(self, context: Context) -> None:
        check_common(context, self.settings)
        self._format = SyslogFormat(keep_fields(self.settings.keep_fields),
                                    custom_format(self.settings.format, context))  # fmt: skip
        # client headers by sender address (the reverse DNS lookup once an address, not once
        # a source port: a sender often uses a new port each message)
        self._clients: dict[str, dict[str, str]] = {}

    def listen(self) -> None:
        self.listen_udp(self.settings.host, self.settings.port, self._serve)

    def _serve(self, datagrams: list[tuple[bytes, tuple[str, int]]]) -> None:
        bodies, headers = [], []
        for data, peer in datagrams:
            raw = data.lstrip(b"\n").split(b"\n", 1)[0]
            cut = len(raw) >= MAX_MESSAGE
            body, hdrs = self._format.parse(raw[:MAX_MESSAGE], cut)
            if STATUS in hdrs:
                self.counters.add("EventReadFail")
            client = self._clients.get(peer[0])
            if client is None:
                if len(self._clients) > 1000:
                    self._clients.clear()
                client = self._clients[peer[0]] = client_headers(self.settings, peer)
            bodies.append(body)
            headers.append({**hdrs, **client})
        self.deliver(EventBatch(bodies, {}, headers), hold=True)
