"""The file channel's engine: a durable FIFO of event batches over the segment log.

In memory it keeps a queue of *slices* (events [start, end) of one PUT record) and, while
they fit in ``cache_bytes``, the decoded batches of recent puts; everything else is read back
from the log on take. A transaction touches the log only when it commits: its PUT (or TAKE)
records and its COMMIT record go down in one ``writev``, then one group-commit ``fdatasync``.
A rolled-back or unfinished transaction therefore leaves nothing to undo on disk.

Locks, always taken in this order: ``SegmentLog.lock`` (appends, checkpoint snapshots), then
``_cond`` (queue and counts). Disk reads, encoding and fsyncs happen outside both.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from pathlib import Path

from agents.channels.filelog import _checkpoint
from agents.channels.filelog._background import Periodic
from agents.channels.filelog._checkpoint import Checkpoint
from agents.channels.filelog._config import FileChannelConfig
from agents.channels.filelog._records import (
    COMMIT,
    PUT,
    TAKE,
    decode_batch,
    encode_slices,
    record,
    sub_batch,
)
from agents.channels.filelog._replay import ReplayReport, replay
from agents.channels.filelog._segments import SegmentLog, lock_dir
from agents.channels.filelog._transaction import FileTransaction, _Slice
from agents.channels.filelog.errors import DiskSpaceError, FileChannelIOError
from agents.errors import ChannelClosedError, ChannelFullError, ConfigError, Problem
from agents.event import EventBatch
from agents.locks import Lock

_READ_CACHE = 8  # records read back from disk kept decoded (a take may split one record)


class FileChannelStore:
    """Open with ``open()`` (replays the disk), use ``transaction()``, ``close()`` at the end."""

    def __init__(self, config: FileChannelConfig, name: str = "file") -> None:
        problems = config.problems()
        if problems:
            raise ConfigError([Problem(f"channel {name}", None, k, m) for k, m in problems])
        self.config = config
        self.name = name
        self.logger = logging.getLogger(f"agents.channel.{name}")
        self._cond = threading.Condition()
        self._queue: deque[_Slice] = deque()
        self._taking: dict[int, list[_Slice]] = {}  # open take transactions' slices
        self._stored = 0  # events in the queue
        self._taken = 0  # events taken by open transactions
        self._reserved = 0  # events of put commits under way
        self._applying = 0  # commits written to the log, not yet applied in memory
        self._seg_live: dict[int, int] = {}  # live events (queued or taken) per segment
        self._cached_bytes = 0
        self._read_cache: OrderedDict[tuple[int, int], EventBatch] = OrderedDict()
        self._read_lock = threading.Lock()
        self._next_txid = 1
        self._closed = True
        self._checkpoint_lock = threading.Lock()
        self._last_checkpoint: tuple[int, int] | None = None
        self._background: list[Periodic] = []  # checkpoint (and fsync) threads while open
        self._locks: list[Lock] = []
        self.log: SegmentLog | None = None
        self.report: ReplayReport | None = None
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "EventPutAttemptCount", "EventPutSuccessCount", "EventTakeAttemptCount",
                "EventTakeSuccessCount", "CheckpointCount", "CheckpointWriteErrorCount",
                "CheckpointBackupWriteErrorCount", "SegmentsDeleted", "DiskSpaceRefusals",
                "EventsLostToCorruption",
            ),
            0,
        )  # fmt: skip

    # ---- lifecycle -----------------------------------------------------------------------

    def open(self) -> ReplayReport:
        """Lock the directories, replay what is on disk, start a fresh segment and a checkpoint."""
        cfg = self.config
        dirs = [cfg.checkpoint_dir, *cfg.data_dirs]
        if cfg.use_dual_checkpoints and cfg.backup_checkpoint_dir is not None:
            dirs.append(cfg.backup_checkpoint_dir)
        try:
            for d in dirs:
                self._locks.append(lock_dir(d))
            log = SegmentLog(cfg.data_dirs, cfg.max_file_size, cfg.minimum_required_space)
            slices, next_txid, report = replay(log, self._checkpoint_dirs(), self.logger)
            log.start()
        except BaseException:
            self._unlock()
            raise
        self.log, self.report, self._next_txid = log, report, next_txid
        for seg, off, start, end in slices:
            self._queue.append(_Slice(seg, off, start, end, None, 0))
            self._seg_live[seg] = self._seg_live.get(seg, 0) + end - start
        self._stored = report.events
        self.counts["EventsLostToCorruption"] += report.events_lost
        self._closed = False
        self._interrupts = 0  # interrupt_takes() so far
        self.logger.info("file channel %s replayed: %s", self.name, report.summary())
        try:
            self.checkpoint()  # the next start replays from here, and spent segments go
        except BaseException:
            self._closed = True
            log.close()
            self._unlock()
            raise
        self._background.append(
            Periodic(
                f"{self.name}-checkpoint",
                cfg.checkpoint_interval,
                self._checkpoint_if_moved,
                self._checkpoint_failed,
            )
        )
        if not cfg.fsync_per_transaction:
            self._background.append(
                Periodic(
                    f"{self.name}-fsync",
                    cfg.fsync_interval,
                    self._fsync_all,
                    self._fsync_failed,
                    (FileChannelIOError, ChannelClosedError),
                )
            )
        return report

    def close(self) -> None:
        """Stop accepting transactions, checkpoint (``checkpointOnClose``), release the files."""
        if self._closed:
            return
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for job in self._background:
            job.signal()
        for job in self._background:
            job.join()
        self._background.clear()
        assert self.log is not None
        try:
            if self.config.checkpoint_on_close:
                self.checkpoint()
            else:
                self.log.sync_all()
        finally:
            self.log.close()
            self._unlock()

    def __enter__(self) -> FileChannelStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _seglog(self) -> SegmentLog:
        if self.log is None:
            raise ChannelClosedError(f"channel {self.name} is not open")
        return self.log

    def _checkpoint_dirs(self) -> list[tuple[str, Path]]:
        cfg = self.config
        dirs: list[tuple[str, Path]] = [("primary", cfg.checkpoint_dir)]
        if cfg.use_dual_checkpoints and cfg.backup_checkpoint_dir is not None:
            dirs.append(("backup", cfg.backup_checkpoint_dir))
        return dirs

    def _unlock(self) -> None:
        for lock in self._locks:
            lock.release()
        self._locks.clear()

    # ---- reading state -------------------------------------------------------------------

    def size(self) -> int:
        """Events stored and not taken by an open transaction."""
        return self._stored

    def interrupt_takes(self) -> None:
        """Make a take waiting on another thread return at once."""
        with self._cond:
            self._interrupts += 1
            self._cond.notify_all()

    def wait_empty(self, timeout: float) -> bool:
        """Wait up to *timeout* s until no event is stored (open takes aside); True if so."""
        with self._cond:
            return self._cond.wait_for(lambda: self._stored == 0 or self._closed, timeout)

    def stats(self) -> dict[str, float]:
        """Flume's channel counters plus the file channel's own (fsyncs, segments, ...)."""
        log = self.log
        segs = list(log.segments.values()) if log else []
        return {
            **self.counts,
            "ChannelSize": self._stored,
            "ChannelCapacity": self.config.capacity,
            "ChannelFillPercentage": 100.0 * (self._stored + self._taken) / self.config.capacity,
            "Fsyncs": log.fsyncs if log else 0,
            "FsyncSeconds": log.fsync_seconds if log else 0.0,
            "Segments": len(segs),
            "SegmentBytes": sum(s.size for s in segs),
        }

    def transaction(self) -> FileTransaction:
        return FileTransaction(self)

    def check_open(self) -> None:
        """Raise ChannelClosedError once the store is closed (no new transaction then)."""
        if self._closed:
            raise ChannelClosedError(f"channel {self.name} is closed")

    # ---- put -----------------------------------------------------------------------------

    def _commit_puts(self, puts: list[tuple[bytes, EventBatch]], n: int) -> None:
        cfg = self.config
        with self._cond:
            fits = self._cond.wait_for(
                lambda: self._closed or self._stored + self._taken + self._reserved + n
                <= cfg.capacity,
                timeout=cfg.keep_alive,
            )  # fmt: skip
            if self._closed:
                raise ChannelClosedError(f"channel {self.name} is closing")
            if not fits:
                raise ChannelFullError(
                    f"channel {self.name} is full ({self._stored + self._taken:,} of "
                    f"{cfg.capacity:,} events) after waiting keep-alive {cfg.keep_alive} s; "
                    "a sink is not keeping up"
                )
            self._reserved += n
        try:
            seg, offsets, lsn = self._append(PUT, [p for p, _ in puts], check_space=True)
        except BaseException:
            with self._cond:
                self._reserved -= n
                self._cond.notify_all()
            raise
        try:
            self._sync(lsn)
        except BaseException:
            with self._cond:
                self._reserved -= n
            raise
        with self._cond:
            for (payload, batch), off in zip(puts, offsets, strict=False):
                cached = 0
                if self._cached_bytes + len(payload) <= cfg.cache_bytes:
                    cached = len(payload)
                    self._cached_bytes += cached
                keep = batch if cached else None
                self._queue.append(_Slice(seg, off, 0, len(batch), keep, cached))
            self._seg_live[seg] = self._seg_live.get(seg, 0) + n
            self._stored += n
            self._reserved -= n
            self._applying -= 1
            self.counts["EventPutSuccessCount"] += n
            self._cond.notify_all()

    def _append(
        self, kind: int, payloads: list[bytes], check_space: bool
    ) -> tuple[int, list[int], int]:
        """Write a transaction's records and its COMMIT; counted in ``_applying`` on success."""
        log = self._seglog()
        with log.lock:
            if self._closed:
                raise ChannelClosedError(f"channel {self.name} is closing")
            txid = self._next_txid
            self._next_txid += 1
            records = [record(kind, txid, p) for p in payloads]
            records.append(record(COMMIT, txid))
            if check_space:
                try:
                    log.check_space(sum(len(x) for r in records for x in r))
                except DiskSpaceError:
                    self.counts["DiskSpaceRefusals"] += 1
                    raise
            seg, offsets, lsn = log.append(records)
            with self._cond:
                self._applying += 1
        return seg, offsets, lsn

    # ---- take ----------------------------------------------------------------------------

    def _take(self, tx: FileTransaction, limit: int, timeout: float | None) -> list[_Slice]:
        with self._cond:
            if not self._queue and timeout:
                seen = self._interrupts
                self._cond.wait_for(
                    lambda: self._queue or self._closed or self._interrupts != seen,
                    timeout=timeout,
                )
            if self._closed:
                raise ChannelClosedError(f"channel {self.name} is closing")
            got: list[_Slice] = []
            want = limit
            queue = self._queue
            while want and queue:
                head = queue[0]
                size = head.end - head.start
                if size <= want:
                    got.append(queue.popleft())
                    want -= size
                else:
                    got.append(head.split(want))
                    want = 0
            n = limit - want
            self._stored -= n
            self._taken += n
            self._taking.setdefault(id(tx), []).extend(got)
        return got

    def _events(self, slices: list[_Slice]) -> EventBatch:
        parts = []
        for s in slices:
            batch = s.batch if s.batch is not None else self._read(s)
            if batch is not None:
                parts.append(sub_batch(batch, s.start, s.end))
        return parts[0] if len(parts) == 1 else EventBatch.concat(parts)

    def _read(self, s: _Slice) -> EventBatch | None:
        key = (s.seg, s.off)
        with self._read_lock:
            batch = self._read_cache.get(key)
        if batch is None:
            try:
                kind, payload = self._seglog().read(s.seg, s.off)
                if kind != PUT:
                    raise FileChannelIOError(f"segment {s.seg} offset {s.off} is not a put")
                batch = decode_batch(payload)
            except (FileChannelIOError, ValueError, OSError) as e:
                lost = s.end - s.start
                self.counts["EventsLostToCorruption"] += lost
                self.logger.error("channel %s: %d events lost, unreadable: %s", self.name, lost, e)
                return None
            with self._read_lock:
                self._read_cache[key] = batch
                while len(self._read_cache) > _READ_CACHE:
                    self._read_cache.popitem(last=False)
        return batch

    def _commit_takes(self, tx: FileTransaction, slices: list[_Slice]) -> None:
        n = sum(s.end - s.start for s in slices)
        _seg, _offsets, lsn = self._append(TAKE, [encode_slices([s.key() for s in slices])], False)
        self._sync(lsn)  # on error the events stay taken by tx: its rollback returns them
        with self._cond:
            self._applying -= 1
            self._taking.pop(id(tx), None)
            self._taken -= n
            for s in slices:
                self._seg_live[s.seg] -= s.end - s.start
                self._cached_bytes -= s.cached
            self.counts["EventTakeSuccessCount"] += n
            self._cond.notify_all()

    def _sync(self, lsn: int) -> None:
        """The group commit of a transaction appended up to *lsn* (per the fsync policy)."""
        try:
            if self.config.fsync_per_transaction:
                self._seglog().sync(lsn)
        except BaseException:
            with self._cond:
                self._applying -= 1
                self._cond.notify_all()
            raise

    def _rollback_takes(self, tx: FileTransaction, slices: list[_Slice]) -> None:
        with self._cond:
            self._taking.pop(id(tx), None)
            self._queue.extendleft(reversed(slices))
            n = sum(s.end - s.start for s in slices)
            self._taken -= n
            self._stored += n
            self._cond.notify_all()

    # ---- checkpoints ---------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Write the live events at the current log position; delete the segments it frees."""
        log = self._seglog()
        with self._checkpoint_lock:
            with log.lock, self._cond:
                self._cond.wait_for(lambda: self._applying == 0)
                seg, off = log.position()
                taking = [s for slices in self._taking.values() for s in slices]
                live = sorted(s.key() for s in (*taking, *self._queue))
                next_txid = self._next_txid
                spent = []
                for seg_id in sorted(log.segments):
                    if seg_id >= seg or self._seg_live.get(seg_id, 0):
                        break
                    spent.append(seg_id)
            log.sync_all()
            data = _checkpoint.encode(Checkpoint(seg, off, next_txid, live))
            try:
                _checkpoint.write(self.config.checkpoint_dir, data)
            except OSError as e:
                self.counts["CheckpointWriteErrorCount"] += 1
                raise FileChannelIOError(f"checkpoint to {self.config.checkpoint_dir}: {e}") from e
            backup = self.config.backup_checkpoint_dir
            if self.config.use_dual_checkpoints and backup is not None:
                try:
                    _checkpoint.write(backup, data)
                except OSError as e:
                    self.counts["CheckpointBackupWriteErrorCount"] += 1
                    self.logger.error("channel %s: backup checkpoint to %s: %s", self.name,
                                      backup, e)  # fmt: skip
            self.counts["CheckpointCount"] += 1
            self._last_checkpoint = (seg, off)
            if spent:
                freed = log.delete(spent)
                with self._cond:
                    for seg_id in spent:
                        self._seg_live.pop(seg_id, None)
                self.counts["SegmentsDeleted"] += len(spent)
                self.logger.info("channel %s: %d spent segments deleted (%d bytes)",
                                 self.name, len(spent), freed)  # fmt: skip

    def _checkpoint_if_moved(self) -> None:
        log = self.log
        if log is not None and log.position() != self._last_checkpoint:
            self.checkpoint()

    def _checkpoint_failed(self, e: Exception) -> None:
        """Logged and counted; the next interval tries again."""
        self.logger.error("channel %s: checkpoint failed: %s", self.name, e)

    def _fsync_all(self) -> None:
        self._seglog().sync_all()

    def _fsync_failed(self, e: Exception) -> None:
        self.logger.error("channel %s: %s", self.name, e)
