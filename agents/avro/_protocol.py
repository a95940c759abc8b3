"""Flume's ``AvroSourceProtocol`` and the Avro IPC messages around it, encoded by fastavro.

A request on a connection is: [a HandshakeRequest, first exchange only] + call metadata
(map<bytes>) + the message name (string) + its parameters. A response is: [a
HandshakeResponse] + metadata + an error flag (boolean) + the Status enum, or on error a
union ["string"] message. The handshake identifies protocols by the MD5 of their JSON text.
Apache Flume's protocol text carries the ASF licence header as its ``doc``, so its MD5
(``FLUME_PROTOCOL_MD5``) is kept here as a constant and our own, doc-less text is sent
beside it: a Flume server then answers BOTH (same protocol), and a Flume client that offers
Flume's hash is recognised without sending its text.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from typing import Any, TypeVar

import fastavro

from agents.event import EventBatch

T = TypeVar("T")
NAMESPACE = "org.apache.flume.source.avro"
STATUSES = ("OK", "FAILED", "UNKNOWN")
_EVENT = {
    "type": "record",
    "name": "AvroFlumeEvent",
    "fields": [
        {"name": "headers", "type": {"type": "map", "values": "string"}},
        {"name": "body", "type": "bytes"},
    ],
}
PROTOCOL: dict[str, Any] = {
    "protocol": "AvroSourceProtocol",
    "namespace": NAMESPACE,
    "types": [{"type": "enum", "name": "Status", "symbols": list(STATUSES)}, _EVENT],
    "messages": {
        "append": {"request": [{"name": "event", "type": "AvroFlumeEvent"}], "response": "Status"},
        "appendBatch": {
            "request": [{"name": "events", "type": {"type": "array", "items": "AvroFlumeEvent"}}],
            "response": "Status",
        },
    },
}
PROTOCOL_JSON = json.dumps(PROTOCOL, separators=(",", ":"))
PROTOCOL_MD5 = hashlib.md5(PROTOCOL_JSON.encode()).digest()
# What Apache Flume 1.11's AvroSourceProtocol.PROTOCOL.getMD5() returns (same types and
# messages as PROTOCOL; its text differs only by the licence doc string).
FLUME_PROTOCOL_MD5 = bytes.fromhex("86aadae2c45474c0fe93ffd0f2350a65")
KNOWN_HASHES = frozenset({PROTOCOL_MD5, FLUME_PROTOCOL_MD5})

_MD5 = {"type": "fixed", "name": "MD5", "namespace": "org.apache.avro.ipc", "size": 16}
_META = ["null", {"type": "map", "values": "bytes"}]
HANDSHAKE_REQUEST = fastavro.parse_schema({
    "type": "record", "name": "HandshakeRequest", "namespace": "org.apache.avro.ipc",
    "fields": [
        {"name": "clientHash", "type": _MD5},
        {"name": "clientProtocol", "type": ["null", "string"]},
        {"name": "serverHash", "type": "MD5"},
        {"name": "meta", "type": _META},
    ],
})  # fmt: skip
HANDSHAKE_RESPONSE = fastavro.parse_schema({
    "type": "record", "name": "HandshakeResponse", "namespace": "org.apache.avro.ipc",
    "fields": [
        {"name": "match", "type": {"type": "enum", "name": "HandshakeMatch",
                                   "symbols": ["BOTH", "CLIENT", "NONE"]}},
        {"name": "serverProtocol", "type": ["null", "string"]},
        {"name": "serverHash", "type": ["null", _MD5]},
        {"name": "meta", "type": _META},
    ],
})  # fmt: skip
CALL_META = fastavro.parse_schema({"type": "map", "values": "bytes"})
STRING = fastavro.parse_schema("string")
BOOLEAN = fastavro.parse_schema("boolean")
STATUS = fastavro.parse_schema(
    {"type": "enum", "name": "Status", "namespace": NAMESPACE, "symbols": list(STATUSES)}
)
EVENT = fastavro.parse_schema({**_EVENT, "namespace": NAMESPACE})
EVENTS = fastavro.parse_schema({"type": "array", "items": {**_EVENT, "namespace": NAMESPACE}})
ERROR = fastavro.parse_schema(["string"])  # Avro's system-error union


class TooManyEvents(ValueError):
    """An appendBatch announces more events than the server takes (refused before decoding)."""

    def __init__(self, count: int, most: int) -> None:
        self.count, self.most = count, most
        super().__init__(f"appendBatch of {count:,} or more events refused: this source takes "
                         f"at most {most:,} a call (maxBatchEvents)")  # fmt: skip


class In:
    """Reads Avro binary from one request, checking every count and length against the bytes
    that are left before anything is allocated: a request decodes to a few times its size
    whatever it announces. (fastavro trusts counts: 8 MiB of empty events decoded to 1.3 GB.)
    Raises EOFError or ValueError on anything malformed."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def long(self) -> int:
        data, pos, shift, n = self.data, self.pos, 0, 0
        while True:
            if pos >= len(data):
                raise EOFError("the request ends inside a number")
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 63:
                raise ValueError("a number longer than 10 bytes")
        self.pos = pos
        return (n >> 1) ^ -(n & 1)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            left = len(self.data) - self.pos
            raise ValueError(f"a length of {n:,} bytes where {left:,} are left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def blob(self) -> bytes:
        return self.take(self.long())

    def string(self) -> str:
        return self.take(self.long()).decode("utf-8")

    def union_index(self, branches: int) -> int:
        i = self.long()
        if not 0 <= i < branches:
            raise ValueError(f"union branch {i} of {branches}")
        return i

    def count(self, least: int) -> int:
        """An array or map block's item count (0 ends it), each item at least *least* bytes."""
        n = self.long()
        if n < 0:  # a block that carries its size in bytes
            n = -n
            self.long()
        if n * least > len(self.data) - self.pos:
            raise ValueError(f"{n:,} items announced in {len(self.data) - self.pos:,} bytes")
        return n

    def string_map(self) -> dict[str, str]:
        return self._map(self.string)

    def bytes_map(self) -> dict[str, bytes]:
        return self._map(self.blob)

    def _map(self, value: Callable[[], T]) -> dict[str, T]:
        out: dict[str, T] = {}
        while n := self.count(2):
            for _ in range(n):
                key = self.string()
                out[key] = value()
        return out

    def handshake(self) -> dict[str, Any]:
        """A HandshakeRequest."""
        client_hash = self.take(16)
        protocol = self.string() if self.union_index(2) else None
        server_hash = self.take(16)
        meta = self.bytes_map() if self.union_index(2) else None
        return {"clientHash": client_hash, "clientProtocol": protocol,
                "serverHash": server_hash, "meta": meta}  # fmt: skip

    def events(self, most: int) -> EventBatch:
        """An array<AvroFlumeEvent> as an EventBatch; TooManyEvents as soon as a block's count
        takes it past *most* (before those events are decoded). Header maps are decoded once
        when every event has the same one (the batch's common headers), else one per event."""
        data = self.data
        bodies: list[bytes] = []
        spans: list[tuple[int, int]] = []  # each event's header map, as bytes of data
        first = b""  # the first event's header map as encoded: the same bytes decode the same
        same = True
        while n := self.count(2):
            if len(bodies) + n > most:
                raise TooManyEvents(len(bodies) + n, most)
            for _ in range(n):
                start = self.pos
                if first and data.startswith(first, start):
                    self.pos += len(first)
                else:
                    self.string_map()  # checked (and skipped) now, decoded below
                    if not bodies:
                        first = data[start : self.pos]
                    else:
                        same = False
                spans.append((start, self.pos))
                bodies.append(self.blob())
        if not bodies:
            return EventBatch()
        if same:
            return EventBatch(bodies, In(data, spans[0][0]).string_map())
        return EventBatch(bodies, {}, [In(data, a).string_map() for a, _ in spans])


def request(message: str, params: bytes, protocol: str | None = PROTOCOL_JSON,
            handshake: bool = True) -> bytes:  # fmt: skip
    """A request: [a HandshakeRequest offering our protocol (*protocol*: its text, or None
    for its hash alone)] + call metadata + *message* + its encoded *params*."""
    out = io.BytesIO()
    if handshake:
        write(out, HANDSHAKE_REQUEST, {"clientHash": PROTOCOL_MD5, "clientProtocol": protocol,
                                       "serverHash": FLUME_PROTOCOL_MD5, "meta": None})  # fmt: skip
    write(out, CALL_META, {})
    write(out, STRING, message)
    out.write(params)
    return out.getvalue()


def write(out: io.BytesIO, schema: Any, value: object) -> None:
    fastavro.schemaless_writer(out, schema, value)


def read(inp: io.BytesIO, schema: Any) -> Any:
    return fastavro.schemaless_reader(inp, schema, None)


# ---- events <-> EventBatch ------------------------------------------------------------------


def _long(n: int) -> bytes:
    """Avro's zig-zag varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [_long(i) for i in range(4096)]


def _length(n: int) -> bytes:
    return _SMALL[n] if n < 4096 else _long(n)


def _string_map(headers: dict[str, str]) -> bytes:
    if not headers:
        return b"\x00"
    parts = [_long(len(headers))]
    for key, value in headers.items():
        k, v = key.encode(), value.encode()
        parts += (_length(len(k)), k, _length(len(v)), v)
    parts.append(b"\x00")
    return b"".join(parts)


def encode_event(body: bytes, headers: dict[str, str]) -> bytes:
    """One AvroFlumeEvent in Avro binary (a string map, then bytes): the Kafka sink's
    ``useFlumeEventFormat`` record."""
    return _string_map(headers) + _length(len(body)) + body


def encode_events(batch: EventBatch) -> bytes:
    """``appendBatch``'s parameter (array<AvroFlumeEvent>) for *batch*, byte for byte what
    fastavro writes, about 10x faster: a batch's shared header map is encoded once."""
    n = len(batch.bodies)
    parts = [_length(n)]
    if batch.headers is None:
        headers = _string_map(batch.common)
        for body in batch.bodies:
            parts += (headers, _length(len(body)), body)
    else:
        for i, body in enumerate(batch.bodies):
            parts += (_string_map(batch.event_headers(i)), _length(len(body)), body)
    if n:
        parts.append(b"\x00")
    return b"".join(parts)


def batch_to_events(batch: EventBatch) -> list[dict[str, object]]:
    """AvroFlumeEvent records; events without their own headers share one header dict."""
    if batch.headers is None:
        common = batch.common
        return [{"headers": common, "body": b} for b in batch.bodies]
    return [{"headers": batch.event_headers(i), "body": b} for i, b in enumerate(batch.bodies)]


def events_to_batch(events: list[dict[str, Any]]) -> EventBatch:
    """An EventBatch; headers shared by every event become the batch's common headers."""
    bodies = [e["body"] for e in events]
    if not events:
        return EventBatch()
    first = events[0]["headers"]
    if all(e["headers"] == first for e in events):
        return EventBatch(bodies, first)
    return EventBatch(bodies, {}, [e["headers"] for e in events])


def is_flume_protocol(text: str) -> bool:
    """Whether a peer's protocol text has Flume's messages (its doc and order may differ)."""
    try:
        proto = json.loads(text)
        messages = proto.get("messages", {})
    except (ValueError, AttributeError, RecursionError):
        return False
    return proto.get("protocol") == "AvroSourceProtocol" and "appendBatch" in messages
