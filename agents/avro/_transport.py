"""Avro's Netty transport framing over a TCP socket, optionally inside one zlib stream.

A frame (big-endian): ``serial i32, count i32, count x (length i32, bytes)``; the message is
the buffers joined. A response carries its request's serial. With ``compression-type =
deflate`` (Flume's JZlibEncoder/JZlibDecoder, zlib-wrapped), each direction of the
connection is one zlib stream, sync-flushed after every frame.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import zlib

from agents.avro.errors import AvroProtocolError

_HEAD = struct.Struct(">ii")
_LEN = struct.Struct(">i")
MAX_BUFFERS = 100_000
DEFAULT_MAX_FRAME = 256 * 1024 * 1024
COMPRESSIONS = ("none", "deflate")
_CHUNK = 256 * 1024


def frame(serial: int, message: bytes) -> bytes:
    """One frame holding *message* as a single buffer."""
    return b"".join((_HEAD.pack(serial, 1), _LEN.pack(len(message)), message))


class Connection:
    """A socket speaking frames: ``send(serial, message)``, ``receive() -> (serial, message)``."""

    def __init__(
        self,
        sock: socket.socket,
        compression: str = "none",
        level: int = 6,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression-type {compression!r}: choose none or deflate")
        self.sock = sock
        self.max_frame = max_frame
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
        while len(self._buf) < n:
            chunk = self.sock.recv(_CHUNK)
            if not chunk:
                raise EOFError("connection closed by peer")
            if self._inflate is not None:
                try:
                    chunk = self._inflate.decompress(chunk)
                except zlib.error as e:
                    raise AvroProtocolError(f"bad deflate stream ({e}): compression-type "
                                            "must match on both ends") from e  # fmt: skip
            self._buf += chunk

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
            if length < 0 or total > self.max_frame:
                raise AvroProtocolError(f"frame of more than {self.max_frame:,} bytes refused")
            parts.append(self._take(length))
        return serial, b"".join(parts)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
