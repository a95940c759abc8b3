"""The append-only log: numbered segment files spread over the data directories.

One log, written at one end: segment N lives in ``dataDirs[N % len(dataDirs)]`` as
``seg-<N>.log``. Appends happen under ``lock`` (one ``writev`` per transaction); ``sync``
is the group commit: one ``fdatasync`` covers every append made before it started, and a
committer that arrives while one runs waits for the next, which covers all who waited.
A segment is sealed (fsynced) before the next one is written, so "durable up to byte N of
the log" is one number (``lsn``: bytes appended since the log was opened).
"""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agents import locks
from agents.channels.filelog._records import HEADER, HEADER_SIZE, MAGIC, valid_at
from agents.channels.filelog.errors import (
    DiskSpaceError,
    FileChannelIOError,
    FileChannelLockedError,
)
from agents.locks import LOCK_NAME, InUseError, Lock

SEGMENT_NAME = re.compile(r"^seg-(\d+)\.log$")
FLUME_LOG_NAME = re.compile(r"^log-\d+$")  # Apache Flume's own file-channel data


def segment_path(data_dirs: tuple[Path, ...], seg_id: int) -> Path:
    return data_dirs[seg_id % len(data_dirs)] / f"seg-{seg_id:08d}.log"


def usable_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lock_dir(path: Path) -> Lock:
    """Create *path* if needed and lock it for this process (``agents.locks``)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        return locks.hold(path / LOCK_NAME, f"directory {path}")
    except InUseError as e:
        raise FileChannelLockedError(f"{e}; give each file channel its own checkpointDir and "
                                     "dataDirs") from None  # fmt: skip
    except OSError as e:
        raise FileChannelIOError(f"cannot use directory {path}: {e.strerror}") from e


@dataclass
class Segment:
    id: int
    path: Path
    fd: int
    size: int


class SegmentLog:
    def __init__(
        self, data_dirs: tuple[Path, ...], max_file_size: int, minimum_required_space: int
    ) -> None:
        self.data_dirs = data_dirs
        self.max_file_size = max_file_size
        self.minimum_required_space = minimum_required_space
        self.lock = threading.Lock()  # held by callers of append(): one writer at a time
        self._pos_lock = threading.Lock()  # guards (_written, _active) snapshots; no I/O inside
        self._sync_lock = threading.Lock()  # one fdatasync at a time: the group-commit leader
        self.segments: dict[int, Segment] = {}
        self._active: Segment | None = None
        self._written = 0  # bytes appended since open (the log sequence number)
        self._durable = 0
        self._failed: str | None = None
        self.fsyncs = 0
        self.fsync_seconds = 0.0

    # ---- opening -------------------------------------------------------------------------

    def existing(self) -> list[Segment]:
        """Open every segment found in the data directories, oldest first."""
        found: dict[int, Path] = {}
        for d in self.data_dirs:
            for entry in os.scandir(d):
                m = SEGMENT_NAME.match(entry.name)
                if m:
                    found[int(m.group(1))] = Path(entry.path)
                elif FLUME_LOG_NAME.match(entry.name):
                    raise FileChannelIOError(
                        f"{entry.path} is Apache Flume's file-channel data; its format differs "
                        "from this channel's: give this channel empty directories"
                    )
        for seg_id in sorted(found):
            path = found[seg_id]
            fd = os.open(path, os.O_RDWR)
            self.segments[seg_id] = Segment(seg_id, path, fd, os.fstat(fd).st_size)
        return [self.segments[i] for i in sorted(self.segments)]

    def truncate(self, seg: Segment, size: int) -> None:
        """Cut a segment's damaged tail (during replay, before any append)."""
        os.ftruncate(seg.fd, size)
        os.fsync(seg.fd)
        seg.size = size

    def start(self) -> None:
        """Open a fresh segment after the newest one found; appends go there."""
        with self.lock:
            self._roll(max(self.segments, default=0) + 1)

    def _roll(self, seg_id: int) -> Segment:
        old = self._active
        if old is not None:
            self._fsync(old)  # sealed before anything is written after it
        path = segment_path(self.data_dirs, seg_id)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            fsync_dir(path.parent)
        except OSError as e:
            raise self._io_error(f"cannot create segment {path}", e) from e
        seg = Segment(seg_id, path, fd, 0)
        self.segments[seg_id] = seg
        with self._pos_lock:
            self._active = seg
        return seg

    # ---- writing -------------------------------------------------------------------------

    def position(self) -> tuple[int, int]:
        """(segment id, offset) where the next record goes."""
        assert self._active is not None
        return self._active.id, self._active.size

    def check_space(self, nbytes: int) -> None:
        """Refuse (DiskSpaceError) if writing *nbytes* would leave less than the minimum."""
        if not self.minimum_required_space:
            return
        assert self._active is not None
        where = self._active.path.parent
        free = usable_bytes(where)
        if free - nbytes < self.minimum_required_space:
            raise DiskSpaceError(
                f"{where} has {free:,} bytes free and this put needs {nbytes:,}; "
                f"minimumRequiredSpace is {self.minimum_required_space:,}: puts are refused "
                "until space returns (takes continue and free segments)"
            )

    def append(self, records: list[list[bytes]]) -> tuple[int, list[int], int]:
        """Write *records* contiguously (caller holds ``lock``): (segment, offsets, lsn end)."""
        if self._failed:
            raise FileChannelIOError(self._failed)
        nbytes = sum(len(p) for r in records for p in r)
        seg = self._active
        assert seg is not None
        if seg.size and seg.size + nbytes > self.max_file_size:
            seg = self._roll(seg.id + 1)
        offsets, pos = [], seg.size
        for r in records:
            offsets.append(pos)
            pos += sum(map(len, r))
        parts = [p for r in records for p in r]
        try:
            done = os.writev(seg.fd, parts)
            while done < nbytes:  # a short write: finish it from where it stopped
                rest = b"".join(parts)[done:]
                done += os.write(seg.fd, rest)
        except OSError as e:
            self._undo(seg, e)
        seg.size += nbytes
        with self._pos_lock:
            self._written += nbytes
            lsn = self._written
        return seg.id, offsets, lsn

    def _undo(self, seg: Segment, e: OSError) -> None:
        """A failed write leaves no partial record behind: cut back, then raise."""
        try:
            os.ftruncate(seg.fd, seg.size)
            os.lseek(seg.fd, seg.size, os.SEEK_SET)
        except OSError as e2:
            self._failed = f"segment {seg.path} could not be cut back after a failed write: {e2}"
        if e.errno == errno.ENOSPC:
            raise DiskSpaceError(
                f"no space left on the device of {seg.path}; nothing was written, the "
                "transaction was not committed (raise minimumRequiredSpace to refuse earlier)"
            ) from e
        raise self._io_error(f"cannot write segment {seg.path}", e) from e

    def sync(self, lsn: int) -> None:
        """Return once every byte up to *lsn* is on stable storage (group commit)."""
        if self._durable >= lsn:
            return
        with self._sync_lock:
            if self._durable >= lsn:  # a leader's fdatasync covered this append
                return
            with self._pos_lock:
                target, seg = self._written, self._active
            assert seg is not None
            self._fsync(seg)
            self._durable = max(self._durable, target)

    def sync_all(self) -> None:
        with self._pos_lock:
            lsn = self._written
        self.sync(lsn)

    def _fsync(self, seg: Segment) -> None:
        if self._failed:
            raise FileChannelIOError(self._failed)
        t0 = time.perf_counter()
        try:
            os.fdatasync(seg.fd)
        except OSError as e:
            # After a failed fsync the page cache cannot be trusted (the kernel may have
            # dropped the dirty pages): refuse everything until a restart replays the disk.
            self._failed = (
                f"fdatasync of {seg.path} failed ({e.strerror}); the channel stopped accepting "
                "transactions: restart the agent to replay what is on disk"
            )
            raise FileChannelIOError(self._failed) from e
        self.fsyncs += 1
        self.fsync_seconds += time.perf_counter() - t0

    def _io_error(self, what: str, e: OSError) -> FileChannelIOError:
        return FileChannelIOError(f"{what}: {e.strerror or e}")

    # ---- reading and deleting ------------------------------------------------------------

    def read(self, seg_id: int, offset: int) -> tuple[int, bytes]:
        """(kind, payload) of the record at (seg_id, offset); FileChannelIOError if damaged."""
        seg = self.segments.get(seg_id)
        if seg is None:
            raise FileChannelIOError(f"segment {seg_id} is gone")
        head = os.pread(seg.fd, HEADER_SIZE, offset)
        if len(head) < HEADER_SIZE:
            raise FileChannelIOError(f"{seg.path}: record at {offset} is cut short")
        magic, length, kind, _txid, _pcrc, _hcrc = HEADER.unpack(head)
        payload = os.pread(seg.fd, length, offset + HEADER_SIZE) if magic == MAGIC else b""
        if valid_at(memoryview(head + payload), 0) is None:
            raise FileChannelIOError(f"{seg.path}: record at {offset} fails its CRC check")
        return kind, payload

    def delete(self, seg_ids: list[int]) -> int:
        """Remove sealed segments; the bytes freed."""
        freed = 0
        with self._sync_lock:  # no leader is fsyncing an fd we close
            for seg_id in seg_ids:
                seg = self.segments.pop(seg_id)
                assert seg is not self._active
                os.close(seg.fd)
                seg.path.unlink(missing_ok=True)
                freed += seg.size
        return freed

    def close(self) -> None:
        with self._sync_lock:
            for seg in self.segments.values():
                os.close(seg.fd)
            self.segments.clear()
            self._active = None
