"""An Avro RPC server for Flume's avro sinks and RPC clients: one thread per connection.

``handler(batch) -> bool`` is called once per ``append``/``appendBatch``; it returns True
only after the batch is committed (to a channel); the server then answers OK. False, or an
exception (logged), answers FAILED, and the sender keeps the batch and retries: Flume's
AvroSink rolls its transaction back. Each connection does the Avro handshake on its first
request; a client offering Flume's protocol hash is answered BOTH without its text.

Limits (``agents.servers``; a source sets them from its properties): at most
``limits.max_connections`` connections (Flume's ``threads``), idle and request timeouts, frames
of at most ``max_frame`` bytes, at most ``max_events`` events a call, and the bytes of frames
being read or handled at once within ``budget`` (each frame counts twice its size: its bytes
and its decoded events). Requests are decoded by ``_protocol.In``, which checks every count
against the bytes left before it allocates anything. A request over a limit gets Avro's error
answer naming the limit (the sender's call fails and it retries) and, when its bytes were not
read, the connection is closed; one that is not Avro RPC at all closes the connection. Each is
reported to ``refused(kind, message)``: one rate-limited log line, not a traceback.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from agents.avro import _protocol as p
from agents.avro._transport import DEFAULT_MAX_FRAME, Connection, FrameRefused
from agents.avro.errors import AvroProtocolError
from agents.event import EventBatch
from agents.servers import ByteBudget, Limits, RateLimitedLog, Reader, TcpServer

BatchHandler = Callable[[EventBatch], bool]
DEFAULT_MAX_EVENTS = 10_000  # events an appendBatch may carry
DEFAULT_BUDGET = 64 << 20  # bytes of frames in hand at once
MALFORMED = (EOFError, ValueError, UnicodeDecodeError, IndexError)
MAX_PROTOCOL_TEXT = 64 << 10  # a client's protocol JSON (Flume's is about 1 KB)


@dataclass
class ServerStats:
    connections_opened: int = 0
    connections_open: int = 0
    handshakes: dict[str, int] = field(default_factory=dict)  # by match: BOTH, CLIENT, NONE
    batches_ok: int = 0
    batches_failed: int = 0
    events_ok: int = 0
    protocol_errors: int = 0
    refused: int = 0  # requests answered with an error for a limit


class _Busy(FrameRefused):
    """No room in the budget for a frame within the request timeout."""


class AvroRpcServer:
    def __init__(
        self,
        handler: BatchHandler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        compression: str = "none",
        compression_level: int = 6,
        limits: Limits = Limits(request=60.0),  # frozen: one shared default is safe
        max_frame: int = DEFAULT_MAX_FRAME,
        max_events: int = DEFAULT_MAX_EVENTS,
        budget: int = DEFAULT_BUDGET,
        name: str = "avro",
        bad: RateLimitedLog | None = None,
        refused: Callable[[str, str], None] | None = None,
        on_count: Callable[[int], None] = lambda open_connections: None,
    ) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.compression = compression
        self.compression_level = compression_level
        self.limits = limits
        self.max_frame = max_frame
        self.max_events = max_events
        self.budget = ByteBudget(budget)
        self.name = name
        self.log = logging.getLogger(f"agents.avro.{name}")
        self.bad = bad or RateLimitedLog(self.log)  # a source passes its own
        self.refused = refused or (lambda kind, message: self.bad.warning(kind, message))
        self.on_count = on_count
        self.stats = ServerStats()
        self._known = set(p.KNOWN_HASHES)  # protocol hashes of clients already accepted
        self._server: TcpServer | None = None

    def start(self) -> None:
        """Bind and listen (``port = 0`` picks a free one: read ``self.port`` after)."""
        server = TcpServer(self.host, self.port, self._serve, f"avro {self.name}", self.bad,
                           self.limits, self._count)  # fmt: skip
        try:
            server.start()
        except OSError as e:
            raise OSError(e.errno, f"avro {self.name}: {e.strerror}") from e
        self.port = server.port
        self._server = server

    def stop(self) -> None:
        """Stop listening, close every connection (a call in progress finishes first)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> AvroRpcServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _count(self) -> None:
        server = self._server
        if server is not None:
            self.stats.connections_open = server.open_connections
            self.on_count(server.open_connections)

    def _serve(self, sock: socket.socket, peer_addr: tuple[str, int], reader: Reader) -> None:
        peer = f"{peer_addr[0]}:{peer_addr[1]}"
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        held = [0]  # budget bytes the frame being read holds

        def reserve(serial: int, length: int) -> None:
            if not self.budget.take(2 * length, self.limits.request or None):
                raise _Busy(serial, f"no room for a frame of {length:,} bytes: "
                            f"{self.budget.used:,} of {self.budget.most:,} bytes of requests "
                            "are being handled; try again")  # fmt: skip
            held[0] += 2 * length

        conn = Connection(sock, self.compression, self.compression_level, self.max_frame,
                          reader, reserve)  # fmt: skip
        self.stats.connections_opened += 1
        handshaken = False
        try:
            while True:
                try:
                    serial, request = conn.receive()
                    reply, handshaken = self._respond(request, handshaken, peer)
                    del request
                    conn.send(serial, reply)
                finally:
                    self.budget.give(held[0])
                    held[0] = 0
        except EOFError:
            pass
        except FrameRefused as e:  # its bytes are unread: answer, then close
            self._refuse("frames refused", f"avro {self.name}: {peer}: {e}")
            answer = io.BytesIO()
            if not handshaken:  # the client waits for a handshake answer first
                self._handshake_reply(answer, "BOTH")
            p.write(answer, p.CALL_META, {})
            self._error(answer, str(e))
            with contextlib.suppress(OSError):  # it may have hung up already
                conn.send(e.serial, answer.getvalue())
        except AvroProtocolError as e:
            self.stats.protocol_errors += 1
            self._refuse("not Avro RPC", f"avro {self.name}: {peer} sent what is not Flume's "
                         f"Avro RPC ({e}); connection closed")  # fmt: skip
        finally:
            conn.close()

    def _refuse(self, kind: str, message: str) -> None:
        self.stats.refused += 1
        self.refused(kind, message)

    # ---- one request ---------------------------------------------------------------------

    def _respond(self, request: bytes, handshaken: bool, peer: str) -> tuple[bytes, bool]:
        inp, out = p.In(request), io.BytesIO()
        try:
            if not handshaken:
                if not self._handshake(inp, out):
                    return out.getvalue(), False  # NONE: the client resends with its protocol
                handshaken = True
            inp.bytes_map()  # call metadata
            message = inp.string()
        except MALFORMED as e:
            raise AvroProtocolError(f"undecodable request ({e})") from e
        if message == "":  # a handshake ping
            return out.getvalue(), handshaken
        p.write(out, p.CALL_META, {})
        try:
            batch = self._decode(message, inp)
        except p.TooManyEvents as e:
            self._refuse("batches refused", f"avro {self.name}: {peer}: {e}")
            self._error(out, str(e))
            return out.getvalue(), handshaken
        except MALFORMED as e:
            raise AvroProtocolError(f"undecodable {message!r} parameters ({e})") from e
        if batch is None:
            self._error(out, f"unknown message {message!r}: this server speaks Flume's "
                        "AvroSourceProtocol (append, appendBatch)")  # fmt: skip
            return out.getvalue(), handshaken
        ok = self._handle(batch)
        p.write(out, p.BOOLEAN, False)
        p.write(out, p.STATUS, "OK" if ok else "FAILED")
        return out.getvalue(), handshaken

    @staticmethod
    def _error(out: io.BytesIO, message: str) -> None:
        """Avro's error answer: the call failed with *message*."""
        p.write(out, p.BOOLEAN, True)
        p.write(out, p.ERROR, message)

    def _decode(self, message: str, inp: p.In) -> EventBatch | None:
        if message == "appendBatch":
            return inp.events(self.max_events)
        if message == "append":
            headers = inp.string_map()
            return EventBatch([inp.blob()], headers)
        return None

    def _handle(self, batch: EventBatch) -> bool:
        if not batch:
            return True  # nothing to commit
        try:
            ok = bool(self.handler(batch))
        except Exception as e:  # the sender keeps the batch and retries
            self.log.error("avro %s: a batch of %d events failed: %s", self.name, len(batch), e)
            ok = False
        if ok:
            self.stats.batches_ok += 1
            self.stats.events_ok += len(batch)
        else:
            self.stats.batches_failed += 1
        return ok

    def _handshake(self, inp: p.In, out: io.BytesIO) -> bool:
        hs = inp.handshake()
        client_hash, text = hs["clientHash"], hs["clientProtocol"]
        if text is not None and len(text) > MAX_PROTOCOL_TEXT:
            raise AvroProtocolError(f"a protocol text of {len(text):,} characters")
        known = client_hash in self._known
        if not known and text is not None:
            if not p.is_flume_protocol(text):
                raise AvroProtocolError("the client's protocol is not Flume's AvroSourceProtocol")
            self._known.add(client_hash)
            known = True
        match = "NONE" if not known else "BOTH" if hs["serverHash"] in p.KNOWN_HASHES else "CLIENT"
        self._handshake_reply(out, match)
        self.stats.handshakes[match] = self.stats.handshakes.get(match, 0) + 1
        return match != "NONE"

    @staticmethod
    def _handshake_reply(out: io.BytesIO, match: str) -> None:
        both = match == "BOTH"
        p.write(out, p.HANDSHAKE_RESPONSE, {
            "match": match,
            "serverProtocol": None if both else p.PROTOCOL_JSON,
            "serverHash": None if both else p.FLUME_PROTOCOL_MD5,
            "meta": None,
        })  # fmt: skip
