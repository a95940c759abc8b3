"""An Avro RPC client for Flume's avro source: a batch goes in, Status OK comes back.

Like Flume's NettyAvroRpcClient: one connection, opened on first use and after any failure
(and, quietly, when the server closed it while it was idle);
the Avro handshake on its first request; ``appendBatch`` per batch; a batch counts as
delivered only when the server answered OK (Flume's avro source answers OK after its
channel committed the batch). Anything else raises ``AvroRpcError``: the caller (a sink)
rolls its transaction back and retries, so nothing is lost and a retry may duplicate.
One call at a time per client (a lock); use one client per sink thread.
"""

from __future__ import annotations

import io
import socket
import threading
import time

from agents.avro import _protocol as p
from agents.avro._transport import Connection
from agents.avro.errors import AvroProtocolError, AvroRefusedError, AvroRpcError
from agents.event import EventBatch

SERIAL_MOST = 2**31 - 1  # request serials go 1, 2, ... this, then 1 again


class AvroRpcClient:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        compression: str = "none",
        compression_level: int = 6,
        connect_timeout: float = 20.0,
        request_timeout: float = 20.0,
    ) -> None:
        self.host, self.port = host, port
        self.compression = compression
        self.compression_level = compression_level
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self._conn: Connection | None = None
        self._handshaken = False
        self._serial = 0
        self._lock = threading.Lock()
        self.server_match: str | None = None  # the last handshake's answer: BOTH or CLIENT
        self.connections = 0

    def __repr__(self) -> str:
        return f"avro://{self.host}:{self.port}"

    def append_batch(self, batch: EventBatch) -> None:
        """Deliver *batch* in one ``appendBatch`` call; returns once the server said OK."""
        self._call("appendBatch", p.encode_events(batch))

    def append(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Deliver one event with Flume's single-event ``append``."""
        out = io.BytesIO()
        p.write(out, p.EVENT, {"headers": headers or {}, "body": body})
        self._call("append", out.getvalue())

    def ping(self) -> None:
        """Connect and handshake (Avro's empty-message ping): raises if the server is not up."""
        self._call("", b"")

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> AvroRpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- one request/response ------------------------------------------------------------

    def _call(self, message: str, params: bytes) -> None:
        with self._lock:
            try:
                self._exchange(message, params)
            except (OSError, EOFError, AvroProtocolError) as e:
                self._drop()
                if isinstance(e, socket.timeout):
                    raise AvroRpcError(f"{self}: no answer within {self.request_timeout} s") from e
                raise AvroRpcError(f"{self}: {e}") from e
            except AvroRpcError:
                self._drop()  # as Flume's sink does: a fresh connection for the retry
                raise

    def _connect(self) -> Connection:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as e:
            raise AvroRpcError(f"{self}: cannot connect ({e.strerror or e})") from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.request_timeout)
        self.connections += 1
        return Connection(sock, self.compression, self.compression_level)

    def _exchange(self, message: str, params: bytes) -> None:
        if self._conn is not None and not self._conn.usable():
            self._drop()  # the server closed it while idle (its idle timeout): a new one
        if self._conn is None:
            self._conn = self._connect()
            self._handshaken = False
        data = p.request(message, params, handshake=not self._handshaken)
        self._serial = self._serial % SERIAL_MOST + 1  # a frame's serial is an int32
        started = time.monotonic()
        self._conn.send(self._serial, data)
        serial, reply = self._conn.receive()
        if serial != self._serial:
            raise AvroProtocolError(f"reply to request {serial}, expected {self._serial}")
        inp = io.BytesIO(reply)
        if not self._handshaken:
            self._read_handshake(inp)
        if message == "":
            return
        p.read(inp, p.CALL_META)
        if p.read(inp, p.BOOLEAN):
            error = p.read(inp, p.ERROR)
            raise AvroRpcError(f"{self} failed the call: {error}")
        status = p.read(inp, p.STATUS)
        if status != "OK":
            waited = time.monotonic() - started
            raise AvroRefusedError(status, f"{self} (after {waited:.3f} s)")

    def _read_handshake(self, inp: io.BytesIO) -> None:
        hs = p.read(inp, p.HANDSHAKE_RESPONSE)
        match = hs["match"]
        if match == "NONE":
            raise AvroProtocolError("the server does not accept Flume's AvroSourceProtocol")
        if hs.get("serverProtocol") and not p.is_flume_protocol(hs["serverProtocol"]):
            raise AvroProtocolError("the server's protocol is not Flume's AvroSourceProtocol")
        self.server_match = match
        self._handshaken = True

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._handshaken = False
