"""Flume's TAILDIR source: follow files matching patterns, with positions kept on disk.

Files are tracked by inode, not by name. When a log is rotated (renamed, then created anew),
the renamed file keeps its inode: we finish reading it to its end through the descriptor we
hold, then drop it, and read the new file from its start, so no line is read twice and none
is skipped (Flume's TAILDIR re-reads or loses lines here: FLUME-3216, FLUME-3342). A file
truncated in place (copytruncate) is read again from its start, with a warning. A file created
and renamed away to a non-matching name between two looks is never seen (no tailer
can know it existed); include rotated names in the pattern if rotations can be that fast.

Bytes pass through as in Flume (invalid UTF-8 is not replaced); a CR before LF is dropped; a
line longer than ``maxLineLength`` characters becomes several events.

New lines are noticed through inotify (``agents.sources.watch``) as soon as they are written,
with a look every second besides; where inotify cannot watch a directory (not there yet, not
Linux, the watch limit reached) the source looks every ``pollInterval`` ms instead.

Positions are written to ``positionFile`` (Flume's JSON shape: inode, pos, file; Flume and
this agent read each other's) every ``writePosInterval`` ms and at stop, only for lines sinks
committed and only at line boundaries: after a crash the lines since the last write are read
again (at least once, never lost, never a fragment). As Flume's, the periodic writes are not
fsynced (they are on the reading thread, and a busy disk's fsync stalled reading for up to a
second); the write at stop is. Beside it, ``<positionFile>.fingerprints``
keeps a hash of each file's first bytes: a file deleted while the agent was down whose inode a
new file got (ext4 reuses inodes at once) is recognised as new and read from its start.
While the source runs it locks ``<positionFile>.lock``: a second agent (or source) on the same
position file stops with an error naming the pid of the one that holds it (``agents.locks``).

Exactly-once (``agents.sources.resume``): a file's stream is named by its inode and a hash of
its first bytes as first read (up to 1 KiB): ``<inode>.<bytes>.<sha1 prefix>``, the same after
a rename, another for a new file that got a deleted one's inode; a file truncated in place gets
a new stream (``.<n>`` after it: the n-th truncation seen). When the source's events go only to
exactly-once Kafka sinks, a file resumes at the line holding its stream's position committed in
Kafka (the newest truncation's; a file now shorter than that position was truncated while the
agent was down: a new stream, read from its start), and the position file is a cache.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from agents import locks
from agents.acks import Progress
from agents.component import Status
from agents.config import javaregex
from agents.config.context import Context
from agents.config.settings import Settings, prop, shared
from agents.sources.base import Source
from agents.sources.lines import (
    FILE_HEADER_KEY,
    MAX_BYTES_PER_CHAR,
    STREAM_LINE_CAP,
    LineSplitter,
)
from agents.sources.reader import LineReader
from agents.sources.resume import line_start
from agents.sources.tailed import (
    TailedFile,
    head_digest,
    parse_stream,
    read_positions,
    write_positions,
)
from agents.sources.watch import DirWatch

READ_SIZE = 1 << 20
RESCAN = 1.0  # s between looks when inotify watches every directory (it may miss, e.g. NFS)
GATHER = 0.005  # s to let lines gather after a read, before the next (one wake-up per batch)
RESUME_WAIT = 120.0  # s start waits for the exactly-once sinks' committed positions


@dataclass(frozen=True, kw_only=True)
class TaildirSettings(Settings):
    filegroups: list[str] = prop(
        "filegroups", "list", doc="Names of the file groups (space separated)."
    )
    filegroup_paths: dict[str, str] = prop(
        "filegroups.",
        "prefix",
        doc="filegroups.<group> = absolute path; the file name part is a regex.",
    )
    headers: dict[str, str] = prop(
        "headers.", "prefix", doc="headers.<group>.<key> = value added to its events."
    )
    position_file: str = prop(
        "positionFile", "str", "~/.flume/taildir_position.json", "JSON file of read positions."
    )
    file_header: bool = prop("fileHeader", "bool", False, "Add the file's path as a header.")
    file_header_key: str = shared(FILE_HEADER_KEY)
    byte_offset_header: bool = prop(
        "byteOffsetHeader", "bool", False, "Add each line's byte offset as header 'byteoffset'."
    )
    skip_to_end: bool = prop(
        "skipToEnd", "bool", False, "Start files with no recorded position at their end."
    )
    idle_timeout: int = prop(
        "idleTimeout",
        "int",
        120000,
        "Milliseconds without new lines before a file is closed (it is reopened when it grows).",
        minimum=0,
    )
    write_pos_interval: int = prop(
        "writePosInterval", "int", 3000, "Milliseconds between position file writes.", minimum=0
    )
    batch_size: int = prop("batchSize", "int", 100, "Most lines per batch.", minimum=1)
    max_batch_count: int = prop(
        "maxBatchCount",
        "int",
        2**63 - 1,
        "Batches read from one file before the next file gets a turn.",
        minimum=1,
    )
    poll_interval: int = prop(
        "pollInterval",
        "int",
        20,
        "Milliseconds between looks when nothing is new and inotify cannot watch the "
        "directories (ours: Flume backs off up to 5 s); with inotify, a look per second.",
        minimum=1,
    )
    max_line_length: int = shared(STREAM_LINE_CAP)
    follow_links: bool = prop(
        "followLinks",
        "bool",
        False,
        "Follow symbolic links that match a file group (ours); when false each link is "
        "skipped with a log line.",
    )
    cache_pattern_matching: bool = prop(
        "cachePatternMatching", "bool", True, "Accepted for compatibility."
    )


class TaildirSource(Source):
    TYPE = "TAILDIR"
    REPLAYABLE = True
    SETTINGS = TaildirSettings
    PROPERTIES = TaildirSettings.props()
    settings: TaildirSettings

    def setup(self, context: Context) -> None:
        self._groups: dict[str, tuple[Path, javaregex.JavaPattern]] = {}
        paths = self.settings.filegroup_paths
        for group in self.settings.filegroups:
            if group not in paths:
                context.problem(
                    "filegroups",
                    f"lists group {group!r} without a path",
                    f"add filegroups.{group} = /path/to/file",
                )
                continue
            path = Path(paths[group])
            if not path.is_absolute():
                context.problem(f"filegroups.{group}", f"{str(path)!r} is not an absolute path")
                continue
            try:  # Flume's TaildirMatcher: a Java regex matching the whole name
                self._groups[group] = (path.parent, javaregex.compile(path.name))
            except javaregex.JavaRegexError as exc:
                context.problem(f"filegroups.{group}", f"the file name: {exc}")
            if not path.parent.is_dir():
                context.problem(
                    f"filegroups.{group}",
                    f"directory {str(path.parent)!r} does "
                    "not exist yet; it is watched until it does",
                    severity="warning",
                )
        self._headers: dict[str, dict[str, str]] = {}
        for key, value in self.settings.headers.items():
            group, _, hkey = key.partition(".")
            self._headers.setdefault(group, {})[hkey] = value
        self._posfile = Path(os.path.expanduser(self.settings.position_file))
        self._heads_file = self._posfile.with_name(self._posfile.name + ".fingerprints")
        self._tails: dict[int, TailedFile] = {}
        self._links: set[str] = set()
        self._watch: DirWatch | None = None  # from start() to stop()
        self._lock: locks.Lock | None = None  # beside the position file, from start() to stop()

    def start(self) -> None:
        self._posfile.parent.mkdir(parents=True, exist_ok=True)
        self._lock = locks.hold(self._posfile.with_name(self._posfile.name + ".lock"),
                                f"position file {self._posfile}")  # fmt: skip
        try:
            if self.resume is not None:
                self.resume.wait(RESUME_WAIT, self.interrupted)
            self._tails = {}
            self._load_positions()
            self._last_write = time.monotonic()
            self._dirty = False
            # no descriptors left: OSError, and the runner tries again (the lock goes till then)
            watch = DirWatch(str(directory) for directory, _ in self._groups.values())
            watch.renew()  # before the first scan: no change between them goes unseen
            self._watch = watch  # published ready: others may read ``watching`` from now on
            self._last_scan = 0.0
            self._gathering = False
            super().start()
        except BaseException:  # not started: the runner will not call stop()
            self._lock.release()
            self._lock = None
            raise

    def stop(self) -> None:
        self._write_positions(durable=True)
        for tail in self._tails.values():
            self._close(tail)
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        super().stop()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def interrupt(self) -> None:
        super().interrupt()
        watch = self._watch
        if watch is not None:
            watch.interrupt()

    def checkpoint(self) -> None:
        if self._lock is not None:  # else never started, or the file is another agent's
            self._write_positions(durable=True)

    def max_event_bytes(self) -> tuple[str, int] | None:
        return "maxLineLength", self.settings.max_line_length * MAX_BYTES_PER_CHAR

    def backoff_pause(self, attempt: int) -> float:
        return GATHER if self._gathering else self.settings.poll_interval / 1000

    def process(self) -> Status:
        if self._dirty and time.monotonic() - self._last_write >= (
            self.settings.write_pos_interval / 1000
        ):
            self._write_positions()
        self.flush()
        watch = self._watch
        assert watch is not None, "process() runs between start() and stop()"
        if not watch.watching:
            watch.renew()  # a directory that appeared since is watched from now on
        watch.drain()
        now = time.monotonic()
        if not watch.watching or watch.names_changed or now - self._last_scan >= RESCAN:
            watch.names_changed = False
            self._last_scan = now
            self._scan()
        progressed = False
        for tail in list(self._tails.values()):
            progressed = self._read(tail) or progressed
        self._close_idle()
        self._gathering = progressed
        if progressed or not watch.watching:
            return Status.BACKOFF  # the runner waits GATHER, or pollInterval (polling)
        wait = RESCAN
        if self._dirty:
            due = self._last_write + self.settings.write_pos_interval / 1000 - time.monotonic()
            wait = min(wait, due)
        watch.wait(wait)  # until a file changes (inotify), a stop, or the next look
        return Status.READY

    # positions -------------------------------------------------------------------------------
    def _new_reader(self, path: str, group: str, pos: int) -> LineReader:
        common = dict(self._headers.get(group, {}))
        if self.settings.file_header:
            common[self.settings.file_header_key] = path
        splitter = LineSplitter(self.settings.max_line_length, "UTF-8", "RAW", "CRLF", start=pos,
                                offsets=self.settings.byte_offset_header or bool(self.origin),
                                )  # fmt: skip
        return LineReader(splitter, self.settings.batch_size, common, self.counters, self.log,
                          path, Progress(pos, self._moved),
                          byteoffset_header=self.settings.byte_offset_header)  # fmt: skip

    def _moved(self) -> None:
        self._dirty = True  # called on a sink's thread: just note it

    def _load_positions(self) -> None:
        try:
            entries, heads = read_positions(self._posfile, self._heads_file)
        except (ValueError, OSError, KeyError, TypeError) as exc:
            self.log.error("position file %s cannot be read (%s); starting without it",
                           self._posfile, exc)  # fmt: skip
            return
        for e in entries:
            try:
                inode, pos, path = int(e["inode"]), int(e["pos"]), str(e["file"])
            except (KeyError, TypeError, ValueError):
                self.log.warning("ignoring a bad entry of %s: %r", self._posfile, e)
                continue
            tail = TailedFile(
                inode, path, "", self._new_reader(path, "", pos), head=heads.get(inode)
            )
            self._tails[inode] = tail
            if tail.head is None and pos:
                self.log.info("%s (inode %d): no fingerprint recorded (a position file Flume "
                              "wrote?); trusting the inode", path, inode)  # fmt: skip

    def _write_positions(self, durable: bool = False) -> None:
        """Write the positions; between stops without fsync (``write_json``): an OS crash may
        then leave older positions, and the lines since are read again, as after an agent
        crash."""
        tails = list(self._tails.values())
        for tail in tails:
            tail.fingerprint()
        try:
            write_positions(self._posfile, self._heads_file, tails, durable)
        except OSError as exc:
            self.counters.error(f"cannot write {self._posfile}: {exc.strerror}")
            self.log.error("cannot write the position file %s: %s", self._posfile, exc.strerror)
            return
        self._last_write = time.monotonic()
        self._dirty = False

    # discovery -------------------------------------------------------------------------------
    def _scan(self) -> None:
        current: dict[int, tuple[str, str]] = {}
        follow = self.settings.follow_links
        for group, (directory, pattern) in self._groups.items():
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            for entry in entries:
                if not pattern.fullmatch(entry.name):
                    continue
                if entry.is_symlink() and not follow:
                    if entry.path not in self._links:
                        self._links.add(entry.path)
                        self.log.warning("%s is a symbolic link; skipped (followLinks = false)",
                                         entry.path)  # fmt: skip
                    continue
                try:
                    st = os.stat(entry.path) if follow else entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    current[st.st_ino] = (entry.path, group)
        for inode, (path, group) in current.items():
            tail = self._tails.get(inode)
            if tail is None:
                pos = os.stat(path).st_size if self.settings.skip_to_end else 0
                self._tails[inode] = TailedFile(
                    inode, path, group, self._new_reader(path, group, pos)
                )
                self._dirty = True
                self.log.info("following %s (inode %d) from byte %d", path, inode, pos)
                continue
            if tail.path != path:
                self.log.info("%s was renamed to %s; same file, same position", tail.path, path)
            if (tail.path, tail.group) != (path, group):
                tail.reader.common = self._new_reader(path, group, 0).common
            tail.path, tail.group, tail.rotated = path, group, False
        for inode, tail in list(self._tails.items()):
            if inode not in current and not tail.rotated:
                tail.rotated = True  # renamed away or deleted: finish what it holds
                if tail.fd is None:
                    tail.fd = self._find_and_open(tail)
                    if tail.fd is None:
                        del self._tails[inode]
                        self._dirty = True

    def _find_and_open(self, tail: TailedFile) -> int | None:
        """Open a file we no longer see under its name (rotated while the agent was down)."""
        directory = Path(tail.path).parent
        try:
            for entry in os.scandir(directory):
                if entry.inode() == tail.inode and entry.is_file(follow_symlinks=False):
                    return os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            pass
        return None

    # reading ---------------------------------------------------------------------------------
    def _open(self, tail: TailedFile) -> bool:
        flags = os.O_RDONLY | os.O_NONBLOCK | (0 if self.settings.follow_links else os.O_NOFOLLOW)
        try:
            fd = os.open(tail.path, flags)
        except OSError:
            return False
        if os.fstat(fd).st_ino != tail.inode:  # the name moved on meanwhile
            os.close(fd)
            return False
        tail.fd = fd
        if not tail.checked and not tail.same_file():
            self.log.warning("%s (inode %d) is not the file read before (its first %d bytes "
                             "differ: the inode was reused); reading it from its start",
                             tail.path, tail.inode, tail.head[0] if tail.head else 0)  # fmt: skip
            self._restart_at(tail, 0)
        return True

    def _restart_at(self, tail: TailedFile, pos: int) -> None:
        tail.reader = self._new_reader(tail.path, tail.group, pos)
        tail.head = None
        self._dirty = True
        if tail.stream is not None:
            tail.reader.origin = f"{self.origin}/{tail.stream}"

    # exactly-once ------------------------------------------------------------------------------
    def _resolve(self, tail: TailedFile) -> None:
        """Where a file resumes: its stream's position committed in Kafka, if Kafka knows the
        stream (matched by inode and first bytes), else the position file's (the cache)."""
        assert self.resume is not None and tail.fd is not None
        tail.resolved = True
        size = os.fstat(tail.fd).st_size
        best: tuple[int, str] | None = None  # (truncations, stream)
        for stream in self.resume.streams():
            parsed = parse_stream(stream)
            if parsed is None or parsed[0] != tail.inode or (best and parsed[3] < best[0]):
                continue
            _inode, n, digest, cut = parsed
            if size >= n and head_digest(tail.fd, n) == digest:
                best = (cut, stream)
        if best is None:
            return  # Kafka does not know this file: the cache (or the start) it is
        cache = tail.reader.splitter.position or None
        committed = self.resume.position(best[1], cache)
        assert committed is not None
        tail.truncations = best[0]
        if size < committed:
            self.log.warning("%s (inode %d) is shorter than its position committed in Kafka (%d "
                             "< %d): truncated while the agent was down; reading it from its "
                             "start as a new stream", tail.path, tail.inode, size, committed,
                             )  # fmt: skip
            tail.truncations += 1
            tail.stream = None
            self._restart_at(tail, 0)
            return
        tail.stream = best[1]
        start = line_start(tail.fd, committed, size)
        if start != tail.reader.splitter.position:
            self.log.info("%s: resuming at byte %d, from the position committed in Kafka (the "
                          "position file said %s)", tail.path, start, cache)  # fmt: skip
        self._restart_at(tail, start)

    def _identify(self, tail: TailedFile, size: int) -> None:
        """Name the file's stream by its inode and first bytes (see the module's doc)."""
        tail.reader.origin = f"{self.origin}/{tail.name_stream(size)}"

    def _read(self, tail: TailedFile) -> bool:
        """Read new complete lines of one file into the outbox; True if any were read."""
        if tail.fd is None and not self._open(tail):
            return False
        assert tail.fd is not None
        if self.resume is not None and not tail.resolved:
            self._resolve(tail)
        size = os.fstat(tail.fd).st_size
        if size < tail.position:
            self.log.warning("%s was truncated (%d < %d bytes read); reading from its start",
                             tail.path, size, tail.position)  # fmt: skip
            if tail.stream is not None:
                tail.truncations += 1
                tail.stream = None
            self._restart_at(tail, 0)
        if self.origin is not None and tail.stream is None and size > tail.position:
            self._identify(tail, size)
        reader = tail.reader
        if size == tail.position:
            progress = reader.progress
            if tail.rotated and progress is not None and progress.idle:
                if reader.splitter.pending:
                    self.send(reader.finish())  # its last line, without a newline
                    return True
                self._drop(tail)
            return False
        chunks = 0
        read = False
        while tail.position < size and chunks < self.settings.max_batch_count:
            chunk = os.pread(tail.fd, min(READ_SIZE, size - tail.position), tail.position)
            if not chunk:
                break
            batches = reader.read(chunk)
            chunks += 1
            tail.last_read = time.monotonic()
            read = True
            if batches:
                self.send(batches)
        return read

    def _close(self, tail: TailedFile) -> None:
        tail.close()

    def _drop(self, tail: TailedFile) -> None:
        self._close(tail)
        self._tails.pop(tail.inode, None)
        self._dirty = True
        self.log.info("finished rotated file %s (inode %d)", tail.path, tail.inode)

    def _close_idle(self) -> None:
        idle = self.settings.idle_timeout / 1000
        now = time.monotonic()
        for tail in self._tails.values():
            if tail.fd is not None and not tail.rotated and now - tail.last_read > idle:
                tail.fingerprint()
                self._close(tail)
