"""Replay: rebuild the live events from the newest usable checkpoint and the log after it.

A transaction counts only if its COMMIT record is on disk: its PUT records then add their
events, its TAKE records remove the slices they name. Damaged bytes are skipped and
reported; a damaged tail of the newest segment (a write cut by a crash) is cut off, so the
next start does not see it again. The events the replay could not restore are counted
(``ReplayReport.events_lost``, the channel's ``EventsLostToCorruption``): those of damaged
PUT records whose header still says how many, and those of PUTs whose transaction has no
COMMIT on disk (see ``ReplayReport``). Without a usable checkpoint the whole log is replayed:
segments are deleted oldest first and only when none of their events is live, so every
take record of a kept PUT is still on disk, and a full replay is exact too.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import time
from dataclasses import dataclass, field
from pathlib import Path

from agents.channels.filelog import _checkpoint
from agents.channels.filelog._checkpoint import Checkpoint, CheckpointError, Slice
from agents.channels.filelog._records import (
    COMMIT,
    PUT,
    TAKE,
    Damage,
    batch_size,
    damaged_records,
    decode_slices,
    scan,
)
from agents.channels.filelog._segments import Segment, SegmentLog


@dataclass
class ReplayReport:
    """What a channel found on disk when it opened; logged, and kept for tests and metrics."""

    checkpoint: str = "none"  # "primary", "backup" or "none" (a full replay)
    problems: list[str] = field(default_factory=list)  # unusable checkpoints
    damage: list[Damage] = field(default_factory=list)
    truncated_bytes: int = 0
    segments: int = 0
    records: int = 0
    bytes_scanned: int = 0
    uncommitted: int = 0  # transactions with records but no COMMIT: dropped
    # Events not restored. ``lost_damaged``: in damaged PUT records of committed transactions.
    # ``lost_uncommitted``: in PUTs (damaged or not) of transactions without a COMMIT on disk;
    # lost if that commit had returned (the disk lost written bytes), sent again by the source
    # if the agent died before it returned: the channel cannot tell the two apart.
    # ``uncounted``: damaged spans without a readable record header (their events unknown).
    lost_damaged: int = 0
    lost_uncommitted: int = 0
    uncounted: int = 0
    events: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [
            f"{self.events:,} events live",
            f"from checkpoint {self.checkpoint}",
            f"{self.records:,} records in {self.segments} segments "
            f"({self.bytes_scanned:,} bytes) in {self.seconds:.3f} s",
        ]
        if self.uncommitted:
            parts.append(f"{self.uncommitted} uncommitted transactions dropped")
        if self.damage:
            parts.append(f"{len(self.damage)} damaged spans skipped")
        if self.events_lost or self.uncounted:
            parts.append(self.losses())
        return ", ".join(parts)

    @property
    def events_lost(self) -> int:
        return self.lost_damaged + self.lost_uncommitted

    def losses(self) -> str:
        what = (f"{self.events_lost:,} events not restored ({self.lost_damaged:,} in damaged "
                f"records of committed transactions, {self.lost_uncommitted:,} in transactions "
                "whose COMMIT is not on disk)")  # fmt: skip
        if self.uncounted:
            what += f", and an unknown number in {self.uncounted} unreadable spans"
        return what


def _usable(cp: Checkpoint, log: SegmentLog, where: Path) -> Checkpoint:
    seg = log.segments.get(cp.segment)
    if seg is None or cp.offset > seg.size:
        raise CheckpointError(f"{where}: points at segment {cp.segment}:{cp.offset}, not on disk")
    missing = {s for s, _, _, _ in cp.slices} - log.segments.keys()
    if missing:
        raise CheckpointError(f"{where}: names events in missing segments {sorted(missing)}")
    return cp


def load_checkpoint(
    dirs: list[tuple[str, Path]], log: SegmentLog, report: ReplayReport
) -> Checkpoint | None:
    """The first usable checkpoint of *dirs* (primary, then backup); problems reported."""
    for label, directory in dirs:
        try:
            cp = _checkpoint.read(directory)
            if cp is None:
                continue
            report.checkpoint = label
            return _usable(cp, log, directory / _checkpoint.NAME)
        except CheckpointError as e:
            report.checkpoint = "none"
            report.problems.append(str(e))
    return None


def _subtract(intervals: list[list[int]], start: int, end: int) -> None:
    """Remove [start, end) from a sorted list of disjoint [a, b) intervals, in place."""
    out: list[list[int]] = []
    for a, b in intervals:
        if b <= start or a >= end:
            out.append([a, b])
            continue
        if a < start:
            out.append([a, start])
        if end < b:
            out.append([end, b])
    intervals[:] = out


class _Pending:
    __slots__ = ("damaged", "puts", "takes")

    def __init__(self) -> None:
        self.puts: list[tuple[int, int, int]] = []  # segment, offset, events
        self.takes: list[Slice] = []
        self.damaged = 0  # events of its PUT records that are damaged


class _Replayer:
    def __init__(self, live: dict[tuple[int, int], list[list[int]]], report: ReplayReport):
        self.live = live
        self.report = report
        self.pending: dict[int, _Pending] = {}
        self.max_txid = 0

    def segment(self, seg: Segment, begin: int, newest: bool) -> int | None:
        """Apply one segment's records; the offset to cut it at if its tail is damaged."""
        report = self.report
        report.segments += 1
        if seg.size <= begin:
            return None
        report.bytes_scanned += seg.size - begin
        mm = mmap.mmap(seg.fd, seg.size, access=mmap.ACCESS_READ)
        cut = None
        try:
            for item in scan(mm, seg.id, begin):
                if isinstance(item, Damage):
                    report.damage.append(item)
                    if item.tail and newest:
                        cut = item.start
                    self._damaged(mm, item)
                    continue
                report.records += 1
                self.max_txid = max(self.max_txid, item.txid)
                if item.kind == COMMIT:
                    self._commit(self.pending.pop(item.txid, None))
                elif item.kind == PUT:
                    tx = self.pending.setdefault(item.txid, _Pending())
                    tx.puts.append((seg.id, item.offset, batch_size(item.payload)))
                elif item.kind == TAKE:
                    tx = self.pending.setdefault(item.txid, _Pending())
                    tx.takes.extend(decode_slices(item.payload))
                item.payload.release()
        finally:
            with contextlib.suppress(BufferError):  # a live view: it closes when collected
                mm.close()
        return cut

    def _damaged(self, mm: mmap.mmap, damage: Damage) -> None:
        """Note the events of the damaged PUT records whose header is still readable."""
        readable = False
        for kind, txid, events in damaged_records(mm, damage):
            readable = True
            if kind != PUT:
                continue  # a lost TAKE or COMMIT: its events come back, or stay uncommitted
            if events is None:
                self.report.uncounted += 1
            else:
                self.pending.setdefault(txid, _Pending()).damaged += events
        if not readable:
            self.report.uncounted += 1

    def dropped(self) -> None:
        """Count what the transactions left without a COMMIT held."""
        for tx in self.pending.values():
            self.report.lost_uncommitted += sum(n for _, _, n in tx.puts) + tx.damaged

    def _commit(self, tx: _Pending | None) -> None:
        if tx is None:
            return
        self.report.lost_damaged += tx.damaged
        live = self.live
        for seg_id, off, count in tx.puts:
            live[(seg_id, off)] = [[0, count]]
        for seg_id, off, s, e in tx.takes:
            intervals = live.get((seg_id, off))
            if intervals is not None:  # absent: its PUT was in a deleted segment
                _subtract(intervals, s, e)
                if not intervals:
                    del live[(seg_id, off)]


def replay(
    log: SegmentLog, checkpoint_dirs: list[tuple[str, Path]], logger: logging.Logger
) -> tuple[list[Slice], int, ReplayReport]:
    """(live slices in log order, next transaction id, report)."""
    t0 = time.perf_counter()
    report = ReplayReport()
    segments = log.existing()
    cp = load_checkpoint(checkpoint_dirs, log, report)
    live: dict[tuple[int, int], list[list[int]]] = {}
    next_txid = 1
    start_seg, start_off = (segments[0].id if segments else 0), 0
    if cp is not None:
        for seg_id, off, s, e in cp.slices:
            live.setdefault((seg_id, off), []).append([s, e])
        next_txid, start_seg, start_off = cp.next_txid, cp.segment, cp.offset
    replayer = _Replayer(live, report)
    newest = segments[-1].id if segments else None
    for seg in segments:
        if seg.id < start_seg:
            continue
        cut = replayer.segment(seg, start_off if seg.id == start_seg else 0, seg.id == newest)
        if cut is not None:
            logger.warning("%s: torn or corrupt tail, cutting %d bytes at offset %d",
                           seg.path, seg.size - cut, cut)  # fmt: skip
            report.truncated_bytes += seg.size - cut
            log.truncate(seg, cut)
    report.uncommitted = len(replayer.pending)
    replayer.dropped()
    slices = [(k[0], k[1], a, b) for k in sorted(live) for a, b in live[k]]
    report.events = sum(b - a for _, _, a, b in slices)
    report.seconds = time.perf_counter() - t0
    for problem in report.problems:
        logger.error("checkpoint unusable, falling back: %s", problem)
    for damage in report.damage:
        if not (damage.tail and damage.segment == newest):
            logger.error("%s (%s): skipped, its events are lost", damage,
                         log.segments[damage.segment].path)  # fmt: skip
    if report.events_lost or report.uncounted:
        logger.error("replay: %s", report.losses())
    return slices, max(next_txid, replayer.max_txid + 1), report
