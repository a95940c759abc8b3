"""Checkpoints: the live events at one log position, so replay starts there, not at segment 1.

File ``checkpoint`` (little-endian)::

    magic "\\x8fFLC", version u32, segment u32, offset u64, next_txid u64, slices u64,
    slices x (segment u32, offset u64, start u32, end u32), crc32 u32 of all before it

It is written as ``checkpoint.tmp``, fsynced, renamed over ``checkpoint``, and the directory
fsynced: a crash leaves the old checkpoint or the new one, never half of one. With
``useDualCheckpoints`` the same bytes then go to the backup directory, used when the
primary is missing or fails its CRC.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from agents.channels.filelog._records import SLICE
from agents.channels.filelog._segments import fsync_dir

NAME = "checkpoint"
_MAGIC = b"\x8fFLC"
_VERSION = 1
_HEAD = struct.Struct("<4sIIQQQ")

Slice = tuple[int, int, int, int]  # segment, offset, start, end


class CheckpointError(Exception):
    """A checkpoint file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    segment: int  # replay resumes at (segment, offset)
    offset: int
    next_txid: int
    slices: list[Slice]  # the live events, in log order

    @property
    def events(self) -> int:
        return sum(end - start for _, _, start, end in self.slices)


def encode(cp: Checkpoint) -> bytes:
    head = _HEAD.pack(_MAGIC, _VERSION, cp.segment, cp.offset, cp.next_txid, len(cp.slices))
    body = b"".join([head, *(SLICE.pack(*s) for s in cp.slices)])
    return body + zlib.crc32(body).to_bytes(4, "little")


def decode(data: bytes, where: Path) -> Checkpoint:
    if len(data) < _HEAD.size + 4:
        raise CheckpointError(f"{where}: {len(data)} bytes, too short for a checkpoint")
    body, crc = data[:-4], int.from_bytes(data[-4:], "little")
    if zlib.crc32(body) != crc:
        raise CheckpointError(f"{where}: fails its CRC check")
    magic, version, seg, off, next_txid, count = _HEAD.unpack_from(body)
    if magic != _MAGIC or version != _VERSION:
        raise CheckpointError(f"{where}: not a version-{_VERSION} file-channel checkpoint")
    if len(body) != _HEAD.size + count * SLICE.size:
        raise CheckpointError(f"{where}: {count} slices announced, size disagrees")
    slices = [SLICE.unpack_from(body, _HEAD.size + i * SLICE.size) for i in range(count)]
    return Checkpoint(seg, off, next_txid, slices)


def write(directory: Path, data: bytes) -> None:
    tmp = directory / f"{NAME}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, directory / NAME)
    fsync_dir(directory)


def read(directory: Path) -> Checkpoint | None:
    """The checkpoint in *directory*; None if there is none; CheckpointError if unusable."""
    path = directory / NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise CheckpointError(f"{path}: {e.strerror}") from e
    return decode(data, path)
