"""Avro's Netty transport framing over a TCP socket, optionally inside one zlib stream.

A frame (big-endian): ``serial i32, count i32, count x (length i32, bytes)``; the message is
the buffers joined. A response carries its request's serial. With ``compression-type =
deflate`` (Flume's JZlibEncoder/JZlibDecoder, zlib-wrapped), each direction of the
connection is one zlib stream, sync-flushed after every frame.

What a peer announces is checked before it is read: a frame's buffer count, each buffer's
length against ``max_frame`` (``on_part`` is told each length before its bytes are read: the
server reserves memory there), and inflated bytes come at most ``_CHUNK`` at a time, so a
small deflate stream cannot inflate to more than the frame it announced.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import zlib
from collections.abc import Callable

from agents.avro.errors import AvroProtocolError
from agents.servers import Reader

_HEAD = struct.Struct(">ii")
_LEN = struct.Struct(">i")
MAX_BUFFERS = 100_000
DEFAULT_MAX_FRAME = 16 << 20  # bytes; what a source accepts unless maxFrameBytes says more
COMPRESSIONS = ("none", "deflate")
_CHUNK = 256 * 1024


def frame(serial: int, message: bytes) -> bytes:
    """One frame holding *message* as a single buffer."""
    return b"".join((_HEAD.pack(serial, 1), _LEN.pack(len(message)), message))


class FrameRefused(AvroProtocolError):
    """A frame the receiver will not read (too large, no room): answered, then closed."""

    def __init__(self, serial: int, message: str) -> None:
        self.serial = serial
        super().__init__(message)


class Connection:
    """A socket speaking frames: ``send(serial, message)``, ``receive() -> (serial, message)``.

    A server passes the connection's ``Reader`` (its idle and request timeouts: a frame is a
    request, from its first bytes to its last; ``receive`` ends it)."""

    def __init__(
        self,
        sock: socket.socket,
        compression: str = "none",
        level: int = 6,
        max_frame: int = DEFAULT_MAX_FRAME,
        reader: Reader | None = None,
        on_part: Callable[[int, int], None] | None = None,
    ) -> None:
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression-type {compression!r}: choose none or deflate")
        self.sock = sock
        self.max_frame = max_frame
        self.reader = reader
        self._recv = reader.recv if reader is not None else sock.recv
        self.on_part = on_part  # (serial, length) before a buffer is read; may raise
        self._buf = bytearray()
        self._deflate = zlib.compressobj(level) if compression == "deflate" else None
        self._inflate = zlib.decompressobj() if compression == "deflate" else None

    def send(self, serial: int, message: bytes) -> None:
        data = frame(serial, message)
        if self._deflate is not None:
            data = self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self, n: int) -> None:
        """Read until at least *n* bytes are buffered; EOFError if the peer closed first."""
        inflate = self._inflate
        while len(self._buf) < n:
            if inflate is not None and inflate.unconsumed_tail:
                chunk = self._inflated(inflate.unconsumed_tail)
            else:
                chunk = self._recv(_CHUNK)
                if not chunk:
                    raise EOFError("connection closed by peer")
                if inflate is not None:
                    chunk = self._inflated(chunk)
            self._buf += chunk

    def _inflated(self, data: bytes) -> bytes:
        assert self._inflate is not None
        try:
            return self._inflate.decompress(data, _CHUNK)  # the rest waits in unconsumed_tail
        except zlib.error as e:
            raise AvroProtocolError(f"bad deflate stream ({e}): compression-type "
                                    "must match on both ends") from e  # fmt: skip

    def _take(self, n: int) -> bytes:
        self._fill(n)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def receive(self) -> tuple[int, bytes]:
        serial, count = _HEAD.unpack(self._take(_HEAD.size))
        if not 0 <= count <= MAX_BUFFERS:
            raise AvroProtocolError(f"frame announces {count} buffers: not Avro's Netty framing "
                                    "(compression-type must match on both ends)")  # fmt: skip
        parts, total = [], 0
        for _ in range(count):
            (length,) = _LEN.unpack(self._take(_LEN.size))
            total += length
            if length < 0:
                raise AvroProtocolError(f"a buffer of {length} bytes: not Avro's Netty framing")
            if total > self.max_frame:
                raise FrameRefused(serial, f"a frame of {total:,} bytes or more refused: "
                                   f"this source takes {self.max_frame:,} at most "
                                   "(maxFrameBytes)")  # fmt: skip
            if self.on_part is not None:
                self.on_part(serial, length)
            parts.append(self._take(length))
        if self.reader is not None:
            self.reader.end()
        return serial, b"".join(parts)

    def usable(self) -> bool:
        """False if the peer closed the connection (or sent something unasked) while it was
        idle: a client then opens a new one instead of failing a call on this one."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable and not self._buf

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
