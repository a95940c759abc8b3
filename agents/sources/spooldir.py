"""Flume's spooling-directory source, without its failure modes.

Files dropped into ``spoolDir`` are read line by line and, once sinks committed every line,
deleted (``deletePolicy = immediate``) or renamed with ``fileSuffix`` (or recorded in the
tracker directory with ``trackingPolicy = tracker_dir``).

What differs from Flume, on purpose:
- a file is picked up only when its size and mtime have held still for ``readyAfter`` ms, so a
  file still being written is not read half-way (FLUME-2866); hidden files (``.name``) are
  never read, so writers can write ``.name`` and rename;
- a file that changes after pickup, a name that was already consumed, an unreadable file or
  (with ``decodeErrorPolicy = FAIL``) invalid text is reported and set aside by renaming it
  to ``<name>.REJECTED``; the source goes on with the next file (Flume's source stops);
- the read position is kept in ``trackerDir`` for the lines sinks committed, so an agent killed
  mid-file resumes where it was: lines may be sent twice, never lost. The tracker names a file
  of the spool dir by name only; a tracker that names anything else, or a position that is not
  a line boundary, is ignored with a warning: no file outside ``spoolDir`` is ever read,
  renamed or deleted;
- symbolic links are skipped unless ``followLinks = true``;
- a spool dir that does not exist yet is waited for (the runner retries every 3 s, as Flume);
- one agent at a time: the source locks ``<trackerDir>/in_use.lock`` while it runs, and a
  second agent (or source) on the same spool dir stops with an error naming the pid of the
  one that holds it, instead of reading every file a second time (``agents.locks``).

Exactly-once (``agents.sources.resume``): a file's stream is ``<name>@<inode>.<mtime_ns>``;
when the source's events go only to exactly-once Kafka sinks, a file resumes at the line
holding the position committed in Kafka, and the tracker is a cache.
"""

from __future__ import annotations

import os
import random
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from agents import locks
from agents.acks import Progress
from agents.component import Status
from agents.config.context import Context
from agents.config.javaregex import JavaPattern
from agents.config.settings import Settings, prop, shared
from agents.sources.base import Source
from agents.sources.lines import (
    FILE_HEADER_KEY,
    MAX_BYTES_PER_CHAR,
    POLICIES,
    DecodeFailure,
    LineSplitter,
    check_charset,
)
from agents.sources.reader import LineReader
from agents.sources.resume import line_start
from agents.sources.spool_tracker import SpoolFile, SpoolTracker

CHUNK = 1 << 20
REJECTED = ".REJECTED"
RESUME_WAIT = 120.0  # s start waits for the exactly-once sinks' committed positions


@dataclass
class _Open:
    """The file being read: its descriptor, reader and what happens once it is all safe."""

    cand: SpoolFile
    fd: int
    reader: LineReader
    eof: bool = False
    fate: str = ""  # why it is rejected once its delivered lines are safe ("" = consumed)


@dataclass(frozen=True, kw_only=True)
class SpoolDirSettings(Settings):
    spool_dir: str = prop("spoolDir", "str", doc="Directory to read files from.")
    file_suffix: str = prop(
        "fileSuffix", "str", ".COMPLETED", "Suffix appended to a consumed file."
    )
    delete_policy: str = prop(
        "deletePolicy",
        "choice",
        "never",
        "never: rename with fileSuffix; immediate: delete once consumed.",
        choices=("never", "immediate"),
    )
    tracking_policy: str = prop(
        "trackingPolicy",
        "choice",
        "rename",
        "rename: mark a consumed file by its "
        "suffix; tracker_dir: leave it and record it in trackerDir.",
        choices=("rename", "tracker_dir"),
    )
    tracker_dir: str = prop(
        "trackerDir", "str", ".flumespool", "Where progress is kept (relative to spoolDir)."
    )
    file_header: bool = prop(
        "fileHeader", "bool", False, "Add the file's absolute path as a header."
    )
    file_header_key: str = shared(FILE_HEADER_KEY)
    basename_header: bool = prop(
        "basenameHeader", "bool", False, "Add the file's name as a header."
    )
    basename_header_key: str = prop(
        "basenameHeaderKey", "str", "basename", "Header name for basenameHeader."
    )
    include_pattern: JavaPattern = prop(
        "includePattern", "regex", "^.*$", "Only file names it matches whole are read."
    )
    ignore_pattern: JavaPattern = prop(
        "ignorePattern", "regex", "^$", "File names it matches whole are never read."
    )
    consume_order: str = prop(
        "consumeOrder",
        "choice",
        "oldest",
        "Which ready file goes first (by mtime).",
        choices=("oldest", "youngest", "random"),
    )
    poll_delay: int = prop(
        "pollDelay", "int", 500, "Milliseconds between looks at an idle directory.", minimum=1
    )
    ready_after: int = prop(
        "readyAfter",
        "int",
        1000,
        "Milliseconds a file's size and mtime must hold still "
        "before it is read (ours, not Flume's).",
        minimum=0,
    )
    batch_size: int = prop(
        "batchSize", "int", 100, "Lines per batch put into the channel.", minimum=1
    )
    input_charset: str = prop("inputCharset", "str", "UTF-8", "Charset of the files.")
    decode_error_policy: str = prop(
        "decodeErrorPolicy",
        "choice",
        "FAIL",
        "What to do with text invalid in "
        "inputCharset: FAIL (reject the file), REPLACE (U+FFFD), IGNORE (drop the bytes).",
        choices=POLICIES,
    )
    deserializer: str = prop(
        "deserializer",
        "choice",
        "LINE",
        "How a file becomes events (LINE only).",
        choices=("LINE",),
    )
    deserializer_max_line_length: int = prop(
        "deserializer.maxLineLength",
        "int",
        2048,
        "Most characters per event; a longer line becomes several events, as in Flume.",
        minimum=1,
    )
    deserializer_output_charset: str = prop(
        "deserializer.outputCharset",
        "choice",
        "UTF-8",
        "Charset of event bodies.",
        choices=("UTF-8",),
    )
    recursive_directory_search: bool = prop(
        "recursiveDirectorySearch", "bool", False, "Not supported: must stay false."
    )
    follow_links: bool = prop(
        "followLinks",
        "bool",
        False,
        "Read files through symbolic links in spoolDir (ours); when false each link is "
        "skipped with a log line. The link, never its target, is renamed or deleted.",
    )
    max_backoff: int = prop(
        "maxBackoff", "int", 4000, "Accepted for compatibility; unused.", minimum=0
    )
    buffer_max_lines: int = prop(
        "bufferMaxLines", "int", 0, "Deprecated in Flume; accepted and unused."
    )
    buffer_max_line_length: int = prop(
        "bufferMaxLineLength", "int", 0, "Deprecated in Flume; accepted and unused."
    )


class SpoolDirSource(Source):
    TYPE = "spooldir"
    REPLAYABLE = True
    SETTINGS = SpoolDirSettings
    PROPERTIES = SpoolDirSettings.props()
    settings: SpoolDirSettings

    def setup(self, context: Context) -> None:
        spool = Path(self.settings.spool_dir)
        if not spool.is_dir():
            hint = (
                "the path contains a space; is it a typo?"
                if " " in str(spool)
                else "create it, or fix the path"
            )
            what = "is not a directory" if spool.exists() else "does not exist"
            context.problem(
                "spoolDir",
                f"{str(spool)!r} {what}; the source waits for it, retrying every 3 s",
                hint,
                severity="warning",
            )
        elif not os.access(spool, os.W_OK | os.X_OK):
            context.problem(
                "spoolDir",
                f"{str(spool)!r} is not writable; consumed files could not be renamed or deleted",
                "fix its permissions",
            )
        try:
            check_charset(self.settings.input_charset)
        except LookupError:
            context.problem("inputCharset", f"unknown charset {self.settings.input_charset!r}")
        except ValueError as exc:
            context.problem("inputCharset", str(exc))
        if self.settings.recursive_directory_search:
            context.problem("recursiveDirectorySearch", "is not supported", "set it to false")
        self.spool = spool
        self.tracker = spool / self.settings.tracker_dir
        self._tracker = SpoolTracker(spool, self.tracker, self.settings.follow_links, self.log,
                                     self.counters)  # fmt: skip
        self.files_done = 0
        self.files_rejected = 0
        self.scans = 0  # directory looks so far (tests wait on it)
        self._seen: dict[str, tuple[int, int, float]] = {}  # name -> size, mtime, since when
        self._skip: set[str] = set()  # files that could not be renamed: never read again
        self._links: set[str] = set()  # links already reported
        self._file: _Open | None = None
        self._pause = self.settings.poll_delay / 1000
        self._lock: locks.Lock | None = None

    def start(self) -> None:
        if not self.spool.is_dir():
            raise FileNotFoundError(f"spool directory {str(self.spool)!r} does not exist")
        self.tracker.mkdir(exist_ok=True)
        self._lock = locks.hold(self.tracker / locks.LOCK_NAME, f"spool directory {self.spool}")
        try:
            if self.resume is not None:
                self.resume.wait(RESUME_WAIT, self.interrupted)
            self._file = None
            self._seen = {}
            super().start()
        except BaseException:  # not started: the runner will not call stop()
            self._lock.release()
            self._lock = None
            raise

    def stop(self) -> None:
        self._close()
        super().stop()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def max_event_bytes(self) -> tuple[str, int] | None:
        return "deserializer.maxLineLength", (
            self.settings.deserializer_max_line_length * MAX_BYTES_PER_CHAR
        )

    def backoff_pause(self, attempt: int) -> float:
        return self._pause

    # the loop --------------------------------------------------------------------------------
    def process(self) -> Status:
        current = self._file
        if current is not None:
            self._save_progress(current)
        self.flush()
        if current is None:
            chosen = self._tracker.resume() or self._choose()
            if chosen is None:
                return Status.BACKOFF
            self._open(chosen)
            return Status.READY
        if not current.eof:
            self._read_chunk(current)
            return Status.READY
        progress = current.reader.progress
        assert progress is not None
        if not progress.idle:  # sinks have not committed every line yet: wait to be woken
            self._pause = self.settings.poll_delay / 1000
            return Status.BACKOFF
        self._save_progress(current)
        self._close()
        if current.fate:
            self._reject(current.cand, current.fate)
        else:
            self._finish(current.cand)
        return Status.READY

    # choosing files --------------------------------------------------------------------------
    def _choose(self) -> SpoolFile | None:
        ready = self._ready_files()
        if not ready:
            return None
        order = self.settings.consume_order
        if order == "random":
            return random.choice(ready)
        ready.sort(key=lambda c: (c.mtime_ns, c.path.name), reverse=order == "youngest")
        return ready[0]

    def _eligible(self, name: str) -> bool:
        c = self.settings
        return not (
            name.startswith(".")
            or name.endswith(c.file_suffix)
            or name.endswith(REJECTED)
            or name in self._skip
            or not c.include_pattern.matches(name)
            or (c.ignore_pattern.pattern != "^$" and c.ignore_pattern.matches(name))
        )

    def _ready_files(self) -> list[SpoolFile]:
        """Files whose size and mtime held still for readyAfter."""
        ready_after = self.settings.ready_after / 1000
        now = time.monotonic()
        seen: dict[str, tuple[int, int, float]] = {}
        ready = []
        self.scans += 1
        with os.scandir(self.spool) as it:
            entries = [e for e in it if self._eligible(e.name)]
        for entry in entries:
            if entry.is_symlink() and not self.settings.follow_links:
                if entry.name not in self._links:
                    self._links.add(entry.name)
                    self.log.warning("%s is a symbolic link; skipped (followLinks = false)",
                                     entry.path)  # fmt: skip
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or self._tracked_as_done(entry.name, st):
                continue
            key = (st.st_size, st.st_mtime_ns)
            before = self._seen.get(entry.name)
            since = before[2] if before is not None and before[:2] == key else now
            seen[entry.name] = (*key, since)
            if now - since >= ready_after:
                ready.append(SpoolFile(Path(entry.path), st.st_size, st.st_mtime_ns, st.st_ino))
        self._seen = seen
        waiting = len(seen) - len(ready)
        self._pause = min(ready_after, self.settings.poll_delay / 1000) if waiting else (
            self.settings.poll_delay / 1000)  # fmt: skip
        return ready

    # progress --------------------------------------------------------------------------------
    def _save_progress(self, current: _Open) -> None:
        progress = current.reader.progress
        assert progress is not None
        if progress.safe == current.cand.offset:
            return
        current.cand.offset = progress.safe
        self._tracker.save(current.cand)

    def _tracked_as_done(self, name: str, st: os.stat_result) -> bool:
        """tracker_dir policy: is this very file (not just its name) recorded as consumed?"""
        if self.settings.tracking_policy != "tracker_dir" or self.settings.delete_policy != "never":
            return False
        return self._tracker.recorded_as_done(name, st)

    def _already_consumed(self, cand: SpoolFile) -> bool:
        if self.settings.delete_policy == "immediate":
            return False
        if self.settings.tracking_policy == "rename":
            return os.path.lexists(cand.path.with_name(cand.path.name + self.settings.file_suffix))
        return self._tracker.name_recorded(cand.path.name)

    # reading one file --------------------------------------------------------------------------
    def _open(self, cand: SpoolFile) -> None:
        if not cand.offset and self._already_consumed(cand):
            self._reject(cand, "a file of this name was already consumed")
            return
        flags = os.O_RDONLY | os.O_NONBLOCK | (0 if self.settings.follow_links else os.O_NOFOLLOW)
        try:
            fd = os.open(cand.path, flags)
        except OSError as exc:
            self._reject(cand, f"cannot be read: {exc.strerror}")
            return
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_ino != cand.inode:
            os.close(fd)
            self._reject(cand, "changed into something else than the file picked up")
            return
        stream = f"{cand.path.name}@{cand.inode}.{cand.mtime_ns}"
        if self.resume is not None:
            committed = self.resume.position(stream, cand.offset or None)
            if committed is not None:
                start = line_start(fd, committed, st.st_size)
                if start != cand.offset:
                    self.log.info("%s: resuming at byte %d, from the position committed in "
                                  "Kafka (the tracker said %d)", cand.path, start,
                                  cand.offset)  # fmt: skip
                cand.offset = start
        c = self.settings
        common: dict[str, str] = {}
        if c.file_header:
            common[c.file_header_key] = str(cand.path.absolute())
        if c.basename_header:
            common[c.basename_header_key] = cand.path.name
        splitter = LineSplitter(c.deserializer_max_line_length, c.input_charset,
                                c.decode_error_policy, "LF", start=cand.offset,
                                offsets=self.origin is not None)  # fmt: skip
        progress = Progress(cand.offset, self.wake.set)
        reader = LineReader(splitter, c.batch_size, common, self.counters, self.log,
                            str(cand.path), progress)  # fmt: skip
        if self.origin is not None:
            reader.origin = f"{self.origin}/{stream}"
        self._file = _Open(cand, fd, reader)
        self.log.info("reading %s%s", cand.path, f" from byte {cand.offset}" if cand.offset else "")

    def _read_chunk(self, current: _Open) -> None:
        reader = current.reader
        chunk = os.pread(current.fd, CHUNK, reader.splitter.position)
        try:
            batches = reader.read(chunk) if chunk else reader.finish()
        except DecodeFailure as exc:
            self.counters.add("EventReadFail")
            current.eof = True
            current.fate = (f"has text that is {exc} (decodeErrorPolicy = FAIL); the lines "
                            "before it were delivered")  # fmt: skip
            batches = reader.batches_of(exc.good, advance=False)
        if not chunk:
            current.eof = True
        self.send(batches)

    def _close(self) -> None:
        current, self._file = self._file, None
        if current is not None:
            os.close(current.fd)

    def checkpoint(self) -> None:
        if self._file is not None:
            self._save_progress(self._file)

    # the file's fate -------------------------------------------------------------------------
    def _finish(self, cand: SpoolFile) -> None:
        """Every line is safe: delete, rename or record the file. Never read it again."""
        try:
            st = cand.path.lstat() if not self.settings.follow_links else cand.path.stat()
        except FileNotFoundError:
            self.counters.add("GenericProcessingFail")
            self.log.error("%s vanished while it was read; its lines so far were delivered",
                           cand.path)  # fmt: skip
            self._forget(cand)
            return
        if (st.st_size, st.st_mtime_ns) != (cand.size, cand.mtime_ns):
            self._reject(cand, f"was modified after it was picked up (size {cand.size} -> "
                               f"{st.st_size}); the lines read were delivered")  # fmt: skip
            return
        try:
            if self.settings.delete_policy == "immediate":
                cand.path.unlink()
            elif self.settings.tracking_policy == "rename":
                cand.path.rename(cand.path.with_name(cand.path.name + self.settings.file_suffix))
            else:
                self._tracker.record_done(cand)
        except OSError as exc:
            self._skip.add(cand.path.name)
            self.counters.add("GenericProcessingFail")
            self.counters.error(f"{cand.path.name}: cannot be marked consumed: {exc.strerror}")
            self.log.error("%s was delivered but cannot be marked consumed (%s); it is skipped "
                           "from now on (a restart would read it again)", cand.path,
                           exc.strerror)  # fmt: skip
        self._forget(cand)
        self.files_done += 1
        self.log.info("consumed %s", cand.path)

    def _forget(self, cand: SpoolFile) -> None:
        self._tracker.forget()
        self._seen.pop(cand.path.name, None)

    def _reject(self, cand: SpoolFile, why: str) -> None:
        self.files_rejected += 1
        self.counters.add("GenericProcessingFail")
        self.counters.error(f"{cand.path.name}: {why}")
        target = cand.path.with_name(cand.path.name + REJECTED)
        try:
            cand.path.rename(target)
            where = f"set aside as {target.name}"
        except OSError as exc:
            where = f"left in place (cannot rename: {exc.strerror}); it will be skipped"
            self._skip.add(cand.path.name)
        self._forget(cand)
        self.log.error("%s %s; %s", cand.path, why, where)
