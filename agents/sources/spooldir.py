"""Flume's spooling-directory source, without its failure modes.

Files dropped into ``spoolDir`` are read line by line and, once every line is in the channel,
deleted (``deletePolicy = immediate``) or renamed with ``fileSuffix`` (or recorded in the
tracker directory with ``trackingPolicy = tracker_dir``).

What differs from Flume, on purpose:
- a file is picked up only when its size and mtime have held still for ``readyAfter`` ms, so a
  file still being written is not read half-way (FLUME-2866); hidden files (``.name``) are
  never read, so writers can write ``.name`` and rename;
- a file that changes after pickup, a name that was already consumed, an unreadable file or
  (with ``decodeErrorPolicy = FAIL``) invalid text is reported and set aside by renaming it
  to ``<name>.REJECTED``; the source goes on with the next file (Flume's source stops);
- the read position is kept in ``trackerDir`` after every batch the channel accepted, so an
  agent killed mid-file resumes where it was: lines may be sent twice, never lost.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from agents.acks import Checkpoints
from agents.config.spec import Prop
from agents.event import EventBatch
from agents.sources.base import ThreadedSource
from agents.sources.lines import POLICIES, DecodeFailure, LineSplitter

CHUNK = 1 << 20
REJECTED = ".REJECTED"
META = ".flumespool-main.meta"


@dataclass
class _Candidate:
    path: Path
    size: int
    mtime_ns: int
    inode: int
    offset: int = 0  # where an earlier run stopped reading


class SpoolDirSource(ThreadedSource):
    TYPE = "spooldir"
    PROPERTIES = (
        Prop("spoolDir", "str", doc="Directory to read files from."),
        Prop("fileSuffix", "str", ".COMPLETED", "Suffix appended to a consumed file."),
        Prop(
            "deletePolicy",
            "choice",
            "never",
            "never: rename with fileSuffix; immediate: delete once consumed.",
            choices=("never", "immediate"),
        ),
        Prop(
            "trackingPolicy",
            "choice",
            "rename",
            "rename: mark a consumed file by its "
            "suffix; tracker_dir: leave it and record it in trackerDir.",
            choices=("rename", "tracker_dir"),
        ),
        Prop("trackerDir", "str", ".flumespool", "Where progress is kept (relative to spoolDir)."),
        Prop("fileHeader", "bool", False, "Add the file's absolute path as a header."),
        Prop("fileHeaderKey", "str", "file", "Header name for fileHeader."),
        Prop("basenameHeader", "bool", False, "Add the file's name as a header."),
        Prop("basenameHeaderKey", "str", "basename", "Header name for basenameHeader."),
        Prop("includePattern", "regex", "^.*$", "Only file names matching are read."),
        Prop("ignorePattern", "regex", "^$", "File names matching are never read."),
        Prop(
            "consumeOrder",
            "choice",
            "oldest",
            "Which ready file goes first (by mtime).",
            choices=("oldest", "youngest", "random"),
        ),
        Prop(
            "pollDelay", "int", 500, "Milliseconds between looks at an idle directory.", minimum=1
        ),
        Prop(
            "readyAfter",
            "int",
            1000,
            "Milliseconds a file's size and mtime must hold still "
            "before it is read (ours, not Flume's).",
            minimum=0,
        ),
        Prop("batchSize", "int", 100, "Lines per batch put into the channel.", minimum=1),
        Prop("inputCharset", "str", "UTF-8", "Charset of the files."),
        Prop(
            "decodeErrorPolicy",
            "choice",
            "FAIL",
            "What to do with text invalid in "
            "inputCharset: FAIL (reject the file), REPLACE (U+FFFD), IGNORE (drop the bytes).",
            choices=POLICIES,
        ),
        Prop(
            "deserializer",
            "choice",
            "LINE",
            "How a file becomes events (LINE only).",
            choices=("LINE",),
        ),
        Prop(
            "deserializer.maxLineLength",
            "int",
            2048,
            "Longer lines are cut to this many bytes (the rest is skipped).",
            minimum=1,
        ),
        Prop(
            "deserializer.outputCharset",
            "choice",
            "UTF-8",
            "Charset of event bodies.",
            choices=("UTF-8",),
        ),
        Prop("recursiveDirectorySearch", "bool", False, "Not supported: must stay false."),
    )

    def setup(self, context) -> None:  # type: ignore[no-untyped-def]
        spool = Path(self.conf["spoolDir"])
        if not spool.is_dir():
            hint = (
                "the path contains a space; is it a typo?"
                if " " in str(spool)
                else "create it, or fix the path"
            )
            what = "is not a directory" if spool.exists() else "does not exist"
            context.problem("spoolDir", f"{str(spool)!r} {what}", hint)
            return
        if not os.access(spool, os.W_OK | os.X_OK):
            context.problem(
                "spoolDir",
                f"{str(spool)!r} is not writable; consumed files could not be renamed or deleted",
                "fix its permissions",
            )
        try:
            LineSplitter(charset=self.conf["inputCharset"])
        except LookupError:
            context.problem("inputCharset", f"unknown charset {self.conf['inputCharset']!r}")
        if self.conf["recursiveDirectorySearch"]:
            context.problem("recursiveDirectorySearch", "is not supported", "set it to false")
        self.spool = spool
        self.tracker = spool / self.conf["trackerDir"]
        self.files_done = 0
        self.files_rejected = 0
        self._seen: dict[str, tuple[int, int]] = {}  # name -> (size, mtime) at the last look
        self._skip: set[str] = set()  # rejected files that could not be renamed

    def prepare(self) -> None:
        self.tracker.mkdir(parents=True, exist_ok=True)

    def run(self) -> None:
        pause = self.conf["pollDelay"] / 1000
        while not self.stopping.is_set():
            try:
                worked = self._one_pass()
            except Exception as exc:  # never die silently: report, back off, go on
                self.counters.add("GenericProcessingFail")
                self.counters.error(str(exc))
                self.log.exception("spooldir pass failed; retrying in %.1fs", pause * 4)
                self.stopping.wait(pause * 4)
                continue
            if not worked:
                self.stopping.wait(pause)

    # choosing files
    def _one_pass(self) -> bool:
        resumed = self._resume()
        if resumed is not None:
            self._consume(resumed, resume=True)
            return True
        ready = self._ready_files()
        if not ready:
            return False
        order = self.conf["consumeOrder"]
        if order == "random":
            chosen = random.choice(ready)
        else:
            ready.sort(key=lambda c: (c.mtime_ns, c.path.name), reverse=order == "youngest")
            chosen = ready[0]
        self._consume(chosen)
        return True

    def _eligible(self, name: str) -> bool:
        c = self.conf
        return not (
            name.startswith(".")
            or name.endswith(c["fileSuffix"])
            or name.endswith(REJECTED)
            or name in self._skip
            or not c["includePattern"].search(name)
            or (c["ignorePattern"].pattern != "^$" and c["ignorePattern"].search(name))
        )

    def _ready_files(self) -> list[_Candidate]:
        """Files whose size and mtime held still since the previous look (readyAfter apart)."""
        ready_after = self.conf["readyAfter"] / 1_000
        now: dict[str, tuple[int, int]] = {}
        ready = []
        with os.scandir(self.spool) as it:
            entries = [e for e in it if self._eligible(e.name)]
        for entry in entries:
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            if not entry.is_file():
                continue
            if self._tracked_as_done(entry.name, st):
                continue  # tracker_dir policy: this very file was consumed and stays here
            key = (st.st_size, st.st_mtime_ns)
            now[entry.name] = key
            stable = self._seen.get(entry.name) == key
            if stable or ready_after == 0:
                ready.append(_Candidate(Path(entry.path), st.st_size, st.st_mtime_ns, st.st_ino))
        self._seen = now
        if not ready and now and ready_after:
            self.stopping.wait(ready_after)  # look again after the quiet period
        return ready

    # progress
    def _meta_path(self) -> Path:
        return self.tracker / META

    def _save_meta(self, cand: _Candidate, offset: int) -> None:
        tmp = self.tracker / (META + ".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "file": str(cand.path),
                    "inode": cand.inode,
                    "size": cand.size,
                    "mtime_ns": cand.mtime_ns,
                    "offset": offset,
                }
            )
        )
        os.replace(tmp, self._meta_path())

    def _resume(self) -> _Candidate | None:
        """The file an earlier run was part-way through, if it is still there unchanged."""
        try:
            meta = json.loads(self._meta_path().read_text())
        except (FileNotFoundError, ValueError):
            return None
        path = Path(meta["file"])
        try:
            st = path.stat()
        except FileNotFoundError:
            self._meta_path().unlink(missing_ok=True)
            return None
        if st.st_ino != meta["inode"]:
            self._meta_path().unlink(missing_ok=True)
            return None
        return _Candidate(path, meta["size"], meta["mtime_ns"], meta["inode"], meta["offset"])

    def _tracked_as_done(self, name: str, st: os.stat_result) -> bool:
        """tracker_dir policy: is this very file (not just its name) recorded as consumed?"""
        if self.conf["trackingPolicy"] != "tracker_dir" or self.conf["deletePolicy"] != "never":
            return False
        try:
            recorded = (self.tracker / "completed" / name).read_text()
        except FileNotFoundError:
            return False
        return recorded == _identity(st.st_ino, st.st_size, st.st_mtime_ns)

    def _already_consumed(self, cand: _Candidate) -> bool:
        if self.conf["deletePolicy"] == "immediate":
            return False
        if self.conf["trackingPolicy"] == "rename":
            return cand.path.with_name(cand.path.name + self.conf["fileSuffix"]).exists()
        return (self.tracker / "completed" / cand.path.name).exists()

    # reading one file
    def _consume(self, cand: _Candidate, resume: bool = False) -> None:
        name = cand.path.name
        if not resume and self._already_consumed(cand):
            self._reject(cand, "a file of this name was already consumed")
            return
        offset = cand.offset
        c = self.conf
        common: dict[str, str] = {}
        if c["fileHeader"]:
            common[c["fileHeaderKey"]] = str(cand.path.resolve())
        if c["basenameHeader"]:
            common[c["basenameHeaderKey"]] = name
        splitter = LineSplitter(
            c["deserializer.maxLineLength"], c["inputCharset"], c["decodeErrorPolicy"]
        )
        batch_size = c["batchSize"]
        try:
            fh = open(cand.path, "rb")  # noqa: SIM115
        except OSError as exc:
            self._reject(cand, f"cannot be read: {exc.strerror}")
            return
        self.log.info("reading %s%s", cand.path, f" from byte {offset}" if offset else "")
        marks = Checkpoints()
        self._current = (cand, marks)
        with fh:
            fh.seek(offset)
            while True:
                chunk = fh.read(CHUNK)
                try:
                    lines = splitter.feed(chunk) if chunk else splitter.flush()
                except DecodeFailure as exc:
                    if self._deliver_all(exc.good, common, batch_size, marks):
                        self.counters.add("EventReadFail")
                        self._reject(
                            cand,
                            f"has text that is {exc} (decodeErrorPolicy = FAIL);"
                            " the lines before it were delivered",
                        )
                    return
                if not self._deliver_all(lines, common, batch_size, marks):
                    return  # stopping: the saved position is before these lines
                if not chunk:
                    break
                # Progress is saved per chunk: a crash re-reads at most one chunk (duplicates,
                # never loss).
                marks.mark(fh.tell() - splitter.pending)
                self._save_safe(cand, marks)
        # The file may go only when sinks committed every line of it (a crash would lose
        # lines that were only in the memory channel).
        while not marks.idle:
            if self.stopping.wait(0.02):
                return
            self._save_safe(cand, marks)
        self._finish(cand)

    def _save_safe(self, cand: _Candidate, marks: Checkpoints) -> None:
        safe = marks.safe()
        if safe is not None:
            self._save_meta(cand, safe)  # type: ignore[arg-type]

    def checkpoint(self) -> None:
        current = getattr(self, "_current", None)
        if current is not None and current[0].path.exists():
            self._save_safe(*current)

    def _deliver_all(
        self, lines: list[bytes], common: dict[str, str], batch_size: int, marks: Checkpoints
    ) -> bool:
        for i in range(0, len(lines), batch_size):
            if not self.deliver(EventBatch(lines[i : i + batch_size], common), marks.ack()):
                return False
        return True

    def _finish(self, cand: _Candidate) -> None:
        try:
            st = cand.path.stat()
        except FileNotFoundError:
            self.counters.add("GenericProcessingFail")
            self.log.error(
                "%s vanished while it was read; its lines so far were delivered", cand.path
            )
            self._meta_path().unlink(missing_ok=True)
            return
        if (st.st_size, st.st_mtime_ns) != (cand.size, cand.mtime_ns):
            self._reject(
                cand,
                f"was modified after it was picked up (size {cand.size} -> "
                f"{st.st_size}); the lines read were delivered",
            )
            return
        if self.conf["deletePolicy"] == "immediate":
            cand.path.unlink()
        elif self.conf["trackingPolicy"] == "rename":
            cand.path.rename(cand.path.with_name(cand.path.name + self.conf["fileSuffix"]))
        else:
            done = self.tracker / "completed"
            done.mkdir(exist_ok=True)
            (done / cand.path.name).write_text(_identity(cand.inode, cand.size, cand.mtime_ns))
        self._meta_path().unlink(missing_ok=True)
        self._current = None
        self.files_done += 1
        self.log.info("consumed %s", cand.path)

    def _reject(self, cand: _Candidate, why: str) -> None:
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
        self._meta_path().unlink(missing_ok=True)
        self.log.error("%s %s; %s", cand.path, why, where)


def _identity(inode: int, size: int, mtime_ns: int) -> str:
    """What tells a consumed file from a new one of the same name (inodes get reused)."""
    return f"{inode} {size} {mtime_ns}"
