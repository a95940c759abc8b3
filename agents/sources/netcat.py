"""Flume's netcat source: each line a client sends over TCP becomes an event.

A line ends at ``\\n`` (a ``\\r`` before it stays in the body, as in Flume); it is read as
``encoding`` text (bytes invalid in it become U+FFFD) and the event body is UTF-8. With
``ack-every-event`` (the default) the source answers ``OK`` for each line once the channels
have it, or ``FAILED: <why>`` if a channel refused it (the client sends it again). A line of
``max-line-length`` characters or more (newline included) is answered
``FAILED: Event exceeds the maximum length (<n> chars, including newline)`` and the
connection is closed, as Flume does. Lines that arrive together are put as one batch, of at
most the smallest ``transactionCapacity`` of the channels, so each line's answer is exact.
At most ``maxConnections`` clients at once, each closed after ``idleTimeout`` ms of silence
(``agents.servers``; Flume's netcat source has neither limit).
"""

from __future__ import annotations

import codecs
import socket
from dataclasses import dataclass

from agents.config.settings import prop, shared
from agents.event import EventBatch
from agents.servers import Reader
from agents.sources.listening import (
    LINE_RECV,
    ListeningSource,
    ListenSettings,
    connection_props,
)

MOST_PER_BATCH = 1000
_LIMITS = connection_props()


@dataclass(frozen=True, kw_only=True)
class NetcatSettings(ListenSettings):
    max_line_length: int = prop(
        "max-line-length", "int", 512, "Most characters a line, newline included.", minimum=1
    )
    ack_every_event: bool = prop(
        "ack-every-event", "bool", True, "Answer OK (or FAILED) for every line."
    )
    encoding: str = prop("encoding", "charset", "utf-8", "Charset the client writes in.")
    max_connections: int = shared(_LIMITS.most)
    idle_timeout: int = shared(_LIMITS.idle)
    backlog: int = shared(_LIMITS.backlog)


class NetcatSource(ListeningSource):
    TYPE = "netcat"
    SETTINGS = NetcatSettings
    PROPERTIES = NetcatSettings.props()
    settings: NetcatSettings

    def listen(self) -> None:
        self.listen_tcp(self.settings.bind, self.settings.port, self._serve)

    def _serve(self, conn: socket.socket, peer: tuple[str, int], reader: Reader) -> None:
        most = self.settings.max_line_length
        ack = self.settings.ack_every_event
        decoder = codecs.getincrementaldecoder(self.settings.encoding)("replace")
        assert self.outbox is not None
        caps = [c.transaction_capacity for c in self.outbox.processor.channels]
        batch_most = min([MOST_PER_BATCH, *(c for c in caps if c)])
        pending = ""
        while not self.stopping:
            chunk = reader.recv(LINE_RECV)
            if not chunk:
                break
            pending += decoder.decode(chunk)
            *lines, pending = pending.split("\n")
            too_long = next((i for i, line in enumerate(lines) if len(line) + 1 > most), None)
            if too_long is None and len(pending) + 1 > most:
                too_long = len(lines)
            good = lines if too_long is None else lines[:too_long]
            for at in range(0, len(good), batch_most):
                part = good[at : at + batch_most]
                sub = self.deliver(EventBatch([line.encode() for line in part]), hold=False)
                if ack and sub.ok:
                    conn.sendall(b"OK\n" * len(part))
                elif not sub.ok:
                    conn.sendall(f"FAILED: {sub.error}\n".encode() * len(part))
            if too_long is not None:
                self.refuse("lines too long", f"netcat {self.name}: a line from "
                            f"{peer[0]}:{peer[1]} exceeds {most} characters; closing the "
                            "connection, as Flume does")  # fmt: skip
                conn.sendall(f"FAILED: Event exceeds the maximum length ({most} chars, "
                             "including newline)\n".encode())  # fmt: skip
                break
