"""The on-disk record: a CRC-checked header and a payload, and how a segment is scanned.

Record layout (little-endian, 28-byte header, then ``length`` payload bytes)::

    magic   4s   b"\\x8fFLR"
    length  u32  payload bytes
    kind    u8   PUT=1, TAKE=2, COMMIT=3
    pad     3x
    txid    u64  transaction the record belongs to
    pcrc    u32  CRC-32 of the payload
    hcrc    u32  CRC-32 of the 24 header bytes before it

The header CRC makes ``length`` trustworthy on its own, so a record whose payload is damaged
is skipped by its length; a damaged header is skipped by searching for the next magic whose
record validates. A PUT payload is one encoded ``EventBatch``; a TAKE payload is a run of
``Slice`` references to PUT records; a COMMIT payload is empty.
"""

from __future__ import annotations

import json
import mmap
import struct
import sys
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, pairwise

from agents.event import EventBatch

MAGIC = b"\x8fFLR"
HEADER = struct.Struct("<4sIB3xQII")
HEADER_SIZE = HEADER.size  # 28
_HEAD_BODY = struct.Struct("<4sIB3xQI")  # the part the header CRC covers
PUT, TAKE, COMMIT = 1, 2, 3
Bytes = bytes | mmap.mmap  # a whole segment, in memory or mapped
KINDS = (PUT, TAKE, COMMIT)

# A slice of a PUT record: events [start, end) of the record at (segment, offset).
SLICE = struct.Struct("<IQII")


def header(kind: int, txid: int, payload: bytes) -> bytes:
    """The 28 header bytes of a record carrying *payload*."""
    head = _HEAD_BODY.pack(MAGIC, len(payload), kind, txid, zlib.crc32(payload))
    return head + zlib.crc32(head).to_bytes(4, "little")


def record(kind: int, txid: int, payload: bytes = b"") -> list[bytes]:
    """The parts of one record, for ``os.writev`` (the payload is not copied)."""
    return [header(kind, txid, payload), payload] if payload else [header(kind, txid, payload)]


# ---- PUT payloads: one EventBatch ----------------------------------------------------------

_BATCH_HEAD = struct.Struct("<III")  # events, flags, common-headers JSON bytes
_PER_EVENT_HEADERS = 1
_MARKS = 2  # the events' marks (origin, position) follow the bodies, before the headers
_SWAP = sys.byteorder != "little"


def encode_batch(batch: EventBatch) -> bytes:
    """``count, flags, common JSON, u32 lengths[count], bodies..., [marks], [per-event headers
    JSON]``; marks are ``u32 length`` then the JSON ``[origins, [origin index, position]...]``.
    """
    bodies = batch.bodies
    common = json.dumps(batch.common, separators=(",", ":")).encode() if batch.common else b""
    lengths = array("I", map(len, bodies))
    if _SWAP:
        lengths.byteswap()
    flags = 0 if batch.headers is None else _PER_EVENT_HEADERS
    if batch.marks is not None:
        flags |= _MARKS
    parts = [_BATCH_HEAD.pack(len(bodies), flags, len(common)), common, lengths.tobytes()]
    parts.extend(bodies)
    if batch.marks is not None:
        marks = _encode_marks(batch.marks)
        parts += (len(marks).to_bytes(4, "little"), marks)
    if batch.headers is not None:
        parts.append(json.dumps(batch.headers, separators=(",", ":")).encode())
    return b"".join(parts)


def _encode_marks(marks: list[tuple[str, int]]) -> bytes:
    index: dict[str, int] = {}
    flat: list[int] = []
    for origin, position in marks:
        flat += (index.setdefault(origin, len(index)), position)
    return json.dumps([list(index), flat], separators=(",", ":")).encode()


def _decode_marks(data: bytes) -> list[tuple[str, int]]:
    origins, flat = json.loads(data)
    return [(origins[flat[i]], flat[i + 1]) for i in range(0, len(flat), 2)]


def batch_size(payload: bytes | memoryview) -> int:
    """Events in an encoded batch, read from its first four bytes."""
    return int.from_bytes(payload[:4], "little")


def decode_batch(payload: bytes) -> EventBatch:
    count, flags, common_len = _BATCH_HEAD.unpack_from(payload)
    pos = _BATCH_HEAD.size
    common = json.loads(payload[pos : pos + common_len]) if common_len else {}
    pos += common_len
    lengths = array("I")
    lengths.frombytes(payload[pos : pos + 4 * count])
    if _SWAP:
        lengths.byteswap()
    pos += 4 * count
    ends = list(accumulate(lengths, initial=pos))
    bodies = [payload[a:b] for a, b in pairwise(ends)]
    pos = ends[-1]
    marks = None
    if flags & _MARKS:
        size = int.from_bytes(payload[pos : pos + 4], "little")
        marks = _decode_marks(payload[pos + 4 : pos + 4 + size])
        pos += 4 + size
    headers = json.loads(payload[pos:]) if flags & _PER_EVENT_HEADERS else None
    return EventBatch(bodies, common, headers, marks)


def sub_batch(batch: EventBatch, start: int, end: int) -> EventBatch:
    """Events [start, end) of *batch*, sharing its common headers."""
    if start == 0 and end == len(batch):
        return batch
    return batch.slice(start, end)


# ---- TAKE payloads: slices of PUT records ---------------------------------------------------


def encode_slices(slices: list[tuple[int, int, int, int]]) -> bytes:
    return b"".join(SLICE.pack(*s) for s in slices)


def decode_slices(payload: bytes | memoryview) -> list[tuple[int, int, int, int]]:
    return [SLICE.unpack_from(payload, i) for i in range(0, len(payload), SLICE.size)]


# ---- scanning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    offset: int
    kind: int
    txid: int
    payload: memoryview


@dataclass(frozen=True)
class Damage:
    """Bytes [start, end) of a segment that hold no valid record; ``tail``: nothing valid after."""

    segment: int
    start: int
    end: int
    tail: bool

    def __str__(self) -> str:
        what = "torn or corrupt tail" if self.tail else "corrupt record(s)"
        return f"segment {self.segment}: {what}, bytes {self.start}..{self.end}"


def valid_at(buf: memoryview, pos: int) -> tuple[int, int, int] | None:
    """(kind, txid, length) of a whole valid record at *pos*, else None."""
    if pos + HEADER_SIZE > len(buf):
        return None
    magic, length, kind, txid, pcrc, hcrc = HEADER.unpack_from(buf, pos)
    if magic != MAGIC or kind not in KINDS or zlib.crc32(buf[pos : pos + 24]) != hcrc:
        return None
    end = pos + HEADER_SIZE + length
    if end > len(buf) or zlib.crc32(buf[pos + HEADER_SIZE : end]) != pcrc:
        return None
    return kind, txid, length


def _header_length(buf: memoryview, pos: int) -> int | None:
    """The payload length at *pos* if the header alone is valid (its payload may be bad)."""
    if pos + HEADER_SIZE > len(buf):
        return None
    magic, length, kind, _txid, _pcrc, hcrc = HEADER.unpack_from(buf, pos)
    if magic != MAGIC or kind not in KINDS or zlib.crc32(buf[pos : pos + 24]) != hcrc:
        return None
    return length


def _next_valid(data: Bytes, buf: memoryview, pos: int) -> int | None:
    """The offset of the first valid record after damage at *pos*, if any."""
    length = _header_length(buf, pos)
    if length is not None and valid_at(buf, pos + HEADER_SIZE + length) is not None:
        return pos + HEADER_SIZE + length
    cand = data.find(MAGIC, pos + 1)
    while cand != -1:
        if valid_at(buf, cand) is not None:
            return cand
        cand = data.find(MAGIC, cand + 1)
    return None


def damaged_records(data: Bytes, damage: Damage) -> Iterator[tuple[int, int, int | None]]:
    """(kind, txid, events) of each record in a damaged span whose header still validates (a
    torn tail's last record, a record whose payload failed its CRC); *events* is a PUT's event
    count when its first payload bytes are there and plausible, else None."""
    buf = memoryview(data)
    try:
        pos = damage.start
        while 0 <= pos < damage.end:
            length = _header_length(buf, pos)
            if length is not None:
                kind, txid = HEADER.unpack_from(buf, pos)[2:4]
                body = pos + HEADER_SIZE
                events = None
                if kind == PUT and body + _BATCH_HEAD.size <= len(buf):
                    n = batch_size(bytes(buf[body : body + 4]))
                    events = n if _BATCH_HEAD.size + 4 * n <= length else None
                yield kind, txid, events
            pos = data.find(MAGIC, pos + 1, damage.end)
    finally:
        buf.release()


def scan(data: Bytes, segment: int, start: int = 0) -> Iterator[Record | Damage]:
    """Every valid record of a segment's bytes from *start*, and every damaged span between."""
    buf = memoryview(data)
    pos, n = start, len(buf)
    try:
        while pos < n:
            found = valid_at(buf, pos)
            if found is not None:
                kind, txid, length = found
                body = pos + HEADER_SIZE
                yield Record(pos, kind, txid, buf[body : body + length])
                pos = body + length
                continue
            nxt = _next_valid(data, buf, pos)
            yield Damage(segment, pos, n if nxt is None else nxt, tail=nxt is None)
            if nxt is None:
                return
            pos = nxt
    finally:
        buf.release()
