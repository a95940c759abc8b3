"""An Avro RPC server for Flume's avro sinks and RPC clients: one thread per connection.

``handler(batch) -> bool`` is called once per ``append``/``appendBatch``; it returns True
only after the batch is committed (to a channel); the server then answers OK. False, or an
exception (logged), answers FAILED, and the sender keeps the batch and retries: Flume's
AvroSink rolls its transaction back. Each connection does the Avro handshake on its first
request; a client offering Flume's protocol hash is answered BOTH without its text.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from agents.avro import _protocol as p
from agents.avro._transport import DEFAULT_MAX_FRAME, Connection
from agents.avro.errors import AvroProtocolError
from agents.event import EventBatch

BatchHandler = Callable[[EventBatch], bool]


@dataclass
class ServerStats:
    connections_opened: int = 0
    connections_open: int = 0
    handshakes: dict[str, int] = field(default_factory=dict)  # by match: BOTH, CLIENT, NONE
    batches_ok: int = 0
    batches_failed: int = 0
    events_ok: int = 0
    protocol_errors: int = 0


class AvroRpcServer:
    def __init__(
        self,
        handler: BatchHandler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        compression: str = "none",
        compression_level: int = 6,
        max_connections: int = 0,
        max_frame: int = DEFAULT_MAX_FRAME,
        name: str = "avro",
    ) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.compression = compression
        self.compression_level = compression_level
        self.max_connections = max_connections  # 0: no limit (Flume's threads = 0)
        self.max_frame = max_frame
        self.name = name
        self.log = logging.getLogger(f"agents.avro.{name}")
        self.stats = ServerStats()
        self._known = set(p.KNOWN_HASHES)  # protocol hashes of clients already accepted
        self._listener: socket.socket | None = None
        self._conns: set[Connection] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self) -> None:
        """Bind and listen (``port = 0`` picks a free one: read ``self.port`` after)."""
        try:
            sock = socket.create_server((self.host, self.port), backlog=64)
        except OSError as e:
            raise OSError(e.errno, f"avro {self.name}: cannot listen on "
                                   f"{self.host}:{self.port}: {e.strerror}") from e  # fmt: skip
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._stopping.clear()
        self._spawn(self._accept_loop, "accept")

    def stop(self) -> None:
        """Stop listening, close every connection (a call in progress finishes first)."""
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.close()
        for t in self._threads:
            t.join(timeout=30)
        self._threads.clear()

    def __enter__(self) -> AvroRpcServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], what: str, *args: object) -> None:
        t = threading.Thread(target=target, args=args, name=f"{self.name}-{what}", daemon=True)
        t.start()
        self._threads.append(t)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except OSError:
                return  # closed by stop()
            with self._lock:
                full = self.max_connections and len(self._conns) >= self.max_connections
            if full:
                self.log.warning("avro %s: refusing %s:%s, %d connections open", self.name,
                                 *peer[:2], len(self._conns))  # fmt: skip
                sock.close()
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock, self.compression, self.compression_level, self.max_frame)
            with self._lock:
                self._conns.add(conn)
                self.stats.connections_opened += 1
                self.stats.connections_open += 1
                self._threads = [t for t in self._threads if t.is_alive()]
            self._spawn(self._serve, f"{peer[0]}:{peer[1]}", conn, f"{peer[0]}:{peer[1]}")

    def _serve(self, conn: Connection, peer: str) -> None:
        handshaken = False
        try:
            while not self._stopping.is_set():
                serial, request = conn.receive()
                reply, handshaken = self._respond(request, handshaken)
                conn.send(serial, reply)
        except EOFError:
            pass
        except AvroProtocolError as e:
            self.stats.protocol_errors += 1
            self.log.error("avro %s: %s sent what is not Flume's Avro RPC: %s", self.name, peer, e)
        except OSError as e:
            if not self._stopping.is_set():
                self.log.warning("avro %s: connection from %s: %s", self.name, peer, e)
        finally:
            conn.close()
            with self._lock:
                self._conns.discard(conn)
                self.stats.connections_open -= 1

    # ---- one request ---------------------------------------------------------------------

    def _respond(self, request: bytes, handshaken: bool) -> tuple[bytes, bool]:
        inp, out = io.BytesIO(request), io.BytesIO()
        try:
            if not handshaken:
                if not self._handshake(inp, out):
                    return out.getvalue(), False  # NONE: the client resends with its protocol
                handshaken = True
            p.read(inp, p.CALL_META)
            message = p.read(inp, p.STRING)
        except (EOFError, ValueError, KeyError, TypeError, IndexError) as e:
            raise AvroProtocolError(f"undecodable request ({e})") from e
        if message == "":  # a handshake ping
            return out.getvalue(), handshaken
        p.write(out, p.CALL_META, {})
        try:
            batch = self._decode(message, inp)
        except (EOFError, ValueError, KeyError, TypeError, IndexError) as e:
            raise AvroProtocolError(f"undecodable {message!r} parameters ({e})") from e
        if batch is None:
            p.write(out, p.BOOLEAN, True)
            p.write(out, p.ERROR, f"unknown message {message!r}: this server speaks "
                                  "Flume's AvroSourceProtocol (append, appendBatch)")  # fmt: skip
            return out.getvalue(), handshaken
        ok = self._handle(batch)
        p.write(out, p.BOOLEAN, False)
        p.write(out, p.STATUS, "OK" if ok else "FAILED")
        return out.getvalue(), handshaken

    def _decode(self, message: str, inp: io.BytesIO) -> EventBatch | None:
        if message == "appendBatch":
            return p.events_to_batch(p.read(inp, p.EVENTS))
        if message == "append":
            return p.events_to_batch([p.read(inp, p.EVENT)])
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

    def _handshake(self, inp: io.BytesIO, out: io.BytesIO) -> bool:
        hs = p.read(inp, p.HANDSHAKE_REQUEST)
        client_hash, text = hs["clientHash"], hs.get("clientProtocol")
        known = client_hash in self._known
        if not known and text is not None:
            if not p.is_flume_protocol(text):
                raise AvroProtocolError("the client's protocol is not Flume's AvroSourceProtocol")
            self._known.add(client_hash)
            known = True
        match = "NONE" if not known else "BOTH" if hs["serverHash"] in p.KNOWN_HASHES else "CLIENT"
        both = match == "BOTH"
        p.write(out, p.HANDSHAKE_RESPONSE, {
            "match": match,
            "serverProtocol": None if both else p.PROTOCOL_JSON,
            "serverHash": None if both else p.FLUME_PROTOCOL_MD5,
            "meta": None,
        })  # fmt: skip
        with self._lock:
            self.stats.handshakes[match] = self.stats.handshakes.get(match, 0) + 1
        return match != "NONE"
