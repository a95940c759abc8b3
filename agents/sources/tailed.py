"""One file the TAILDIR source follows (``TailedFile``), how it is told from another file that
got its inode (a hash of its first bytes), its exactly-once stream name, and the position file
that records where each file was read to (Flume's JSON shape, with the hashes beside it in
``<positionFile>.fingerprints``)."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.sources.reader import LineReader
from agents.sources.state import read_json, write_json

HEAD = 1024  # bytes hashed to tell a file from another that got its inode


@dataclass
class TailedFile:
    inode: int
    path: str
    group: str
    reader: LineReader
    fd: int | None = None
    last_read: float = field(default_factory=time.monotonic)
    rotated: bool = False  # the name now belongs to another inode: read to the end, then drop
    head: tuple[int, str] | None = None  # (bytes, sha1) of the file's start, as first read
    checked: bool = False  # the open descriptor's file was compared with ``head``
    stream: str | None = None  # exactly-once: the file's stream name, once read
    truncations: int = 0  # times it was seen truncated in place
    resolved: bool = False  # exactly-once: its start was checked against Kafka's positions

    @property
    def position(self) -> int:
        """Where reading goes on (the line in progress included)."""
        return self.reader.splitter.position

    @property
    def safe(self) -> int:
        progress = self.reader.progress
        assert progress is not None
        return progress.safe

    def fingerprint(self) -> None:
        """Hash the file's first bytes (more of them while the file is young)."""
        if self.fd is None or (self.head is not None and self.head[0] >= HEAD):
            return
        data = os.pread(self.fd, HEAD, 0)
        if data and (self.head is None or len(data) > self.head[0]):
            self.head = (len(data), hashlib.sha1(data).hexdigest())

    def same_file(self) -> bool:
        """Is the open file the one whose start we hashed (if we did)?"""
        self.checked = True
        if self.head is None or self.fd is None:
            return True
        n, digest = self.head
        return hashlib.sha1(os.pread(self.fd, n, 0)).hexdigest() == digest

    def name_stream(self, size: int) -> str:
        """Name the file's stream by its inode and first bytes (up to ``HEAD`` of *size*),
        and the truncations seen (``agents.sources.taildir``'s doc)."""
        assert self.fd is not None
        n = min(HEAD, size)
        self.stream = f"{self.inode}.{n}.{head_digest(self.fd, n)}" + (
            f".{self.truncations}" if self.truncations else "")  # fmt: skip
        return self.stream

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            self.checked = False


def head_digest(fd: int, n: int) -> str:
    return hashlib.sha1(os.pread(fd, n, 0)).hexdigest()[:16]


def parse_stream(stream: str) -> tuple[int, int, str, int] | None:
    """(inode, bytes hashed, hash, truncations) of a TAILDIR stream name; None if not one."""
    parts = stream.split(".")
    try:
        if len(parts) in (3, 4):
            cut = int(parts[3]) if len(parts) == 4 else 0
            return int(parts[0]), int(parts[1]), parts[2], cut
    except ValueError:
        pass
    return None


def read_positions(posfile: Path, heads_file: Path) -> tuple[list[Any], dict[int, tuple[int, str]]]:
    """The position file's entries (as written: checked by the caller) and the fingerprints
    by inode; raises ValueError, OSError, KeyError or TypeError if they cannot be read."""
    entries = read_json(posfile) or []
    heads = {int(h["inode"]): (int(h["bytes"]), str(h["sha1"]))
             for h in read_json(heads_file) or []}  # fmt: skip
    return entries, heads


def write_positions(
    posfile: Path, heads_file: Path, tails: list[TailedFile], durable: bool
) -> None:
    """Write the fingerprints, then the positions (raises OSError)."""
    write_json(heads_file, [{"inode": t.inode, "bytes": t.head[0], "sha1": t.head[1]}
                            for t in tails if t.head], durable)  # fmt: skip
    write_json(posfile, [{"inode": t.inode, "pos": t.safe, "file": t.path} for t in tails],
               durable)  # fmt: skip
