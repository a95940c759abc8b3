"""Flume's TAILDIR source: follow files matching patterns, with positions kept on disk.

Files are tracked by inode, not by name. When a log is rotated (renamed, then created anew),
the renamed file keeps its inode: we finish reading it to its end through the descriptor we
hold, then drop it, and read the new file from its start, so no line is read twice and none
is skipped (Flume's TAILDIR re-reads or loses lines here: FLUME-3216, FLUME-3342). A file
truncated in place (copytruncate) is read again from its start, with a warning. A file created
and renamed away to a non-matching name within one ``pollInterval`` is never seen (no tailer
can know it existed); include rotated names in the pattern if rotations can be that fast.

Positions are written to ``positionFile`` (Flume's JSON shape: inode, pos, file) every
``writePosInterval`` ms and at stop, and only for lines the channel accepted: after a crash
the lines since the last write are read again (at least once, never lost).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from agents.acks import Checkpoints
from agents.config.spec import Prop
from agents.event import EventBatch
from agents.sources.base import ThreadedSource
from agents.sources.lines import LineSplitter

READ_SIZE = 1 << 20


@dataclass
class _Tail:
    inode: int
    path: str
    group: str
    pos: int  # offset just after the last line the channel accepted
    fd: int | None = None
    last_read: float = field(default_factory=time.monotonic)
    rotated: bool = False  # the name now belongs to another inode: read to the end, then drop
    splitter: LineSplitter | None = None
    marks: Checkpoints = field(default_factory=Checkpoints)
    safe_pos: int = -1  # furthest position sinks committed (-1: pos at load time)

    def committed(self) -> int:
        safe = self.marks.safe()
        if safe is not None:
            self.safe_pos = safe  # type: ignore[assignment]
        return self.safe_pos if self.safe_pos >= 0 else self.pos


class TaildirSource(ThreadedSource):
    TYPE = "TAILDIR"
    PROPERTIES = (
        Prop("filegroups", "list", doc="Names of the file groups (space separated)."),
        Prop(
            "filegroups.",
            "prefix",
            doc="filegroups.<group> = absolute path; the file name part is a regex.",
        ),
        Prop("headers.", "prefix", doc="headers.<group>.<key> = value added to its events."),
        Prop(
            "positionFile", "str", "~/.flume/taildir_position.json", "JSON file of read positions."
        ),
        Prop("fileHeader", "bool", False, "Add the file's path as a header."),
        Prop("fileHeaderKey", "str", "file", "Header name for fileHeader."),
        Prop(
            "byteOffsetHeader", "bool", False, "Add each line's byte offset as header 'byteoffset'."
        ),
        Prop("skipToEnd", "bool", False, "Start files with no recorded position at their end."),
        Prop(
            "idleTimeout",
            "int",
            120000,
            "Milliseconds without new lines before a file is "
            "closed (it is reopened when it grows).",
            minimum=0,
        ),
        Prop(
            "writePosInterval", "int", 3000, "Milliseconds between position file writes.", minimum=0
        ),
        Prop("batchSize", "int", 100, "Most lines per batch.", minimum=1),
        Prop(
            "maxBatchCount",
            "int",
            2**63 - 1,
            "Batches read from one file before the next file gets a turn.",
            minimum=1,
        ),
        Prop(
            "pollInterval",
            "int",
            20,
            "Milliseconds between looks when nothing is new (ours: Flume backs off up to 5 s).",
            minimum=1,
        ),
        Prop("maxLineLength", "int", 1 << 20, "Longer lines are cut (ours).", minimum=1),
        Prop("cachePatternMatching", "bool", True, "Accepted for compatibility."),
    )

    def setup(self, context) -> None:  # type: ignore[no-untyped-def]
        self._groups: dict[str, tuple[Path, re.Pattern[str]]] = {}
        paths = self.conf["filegroups."]
        for group in self.conf["filegroups"]:
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
            try:
                self._groups[group] = (path.parent, re.compile(path.name))
            except re.error as exc:
                context.problem(
                    f"filegroups.{group}",
                    f"the file name {path.name!r} is not a valid regular expression: {exc}",
                )
            if not path.parent.is_dir():
                context.problem(
                    f"filegroups.{group}",
                    f"directory {str(path.parent)!r} does "
                    "not exist yet; it is watched until it does",
                    severity="warning",
                )
        self._headers: dict[str, dict[str, str]] = {}
        for key, value in self.conf["headers."].items():
            group, _, hkey = key.partition(".")
            self._headers.setdefault(group, {})[hkey] = value
        self._posfile = Path(os.path.expanduser(self.conf["positionFile"]))
        self._tails: dict[int, _Tail] = {}

    def prepare(self) -> None:
        self._posfile.parent.mkdir(parents=True, exist_ok=True)
        self._load_positions()

    def release(self) -> None:
        for tail in self._tails.values():
            if tail.fd is not None:
                os.close(tail.fd)
                tail.fd = None
        self._write_positions()

    def checkpoint(self) -> None:
        self._write_positions()

    def run(self) -> None:
        last_write = time.monotonic()
        interval = self.conf["pollInterval"] / 1000
        while not self.stopping.is_set():
            try:
                self._scan()
                progressed = any(self._read(t) for t in list(self._tails.values()))
                self._close_idle()
            except Exception as exc:
                self.counters.add("GenericProcessingFail")
                self.counters.error(str(exc))
                self.log.exception("taildir pass failed; retrying")
                self.stopping.wait(1)
                continue
            if time.monotonic() - last_write >= self.conf["writePosInterval"] / 1000:
                self._write_positions()
                last_write = time.monotonic()
            if not progressed:
                self.stopping.wait(interval)

    # positions
    def _load_positions(self) -> None:
        try:
            entries = json.loads(self._posfile.read_text())
        except FileNotFoundError:
            return
        except ValueError as exc:
            self.log.error(
                "position file %s is not valid JSON (%s); starting without it", self._posfile, exc
            )
            return
        for e in entries:
            pos = int(e["pos"])
            self._tails[int(e["inode"])] = _Tail(int(e["inode"]), e["file"], "", pos, safe_pos=pos)

    def _write_positions(self) -> None:
        data = [
            {"inode": t.inode, "pos": t.committed(), "file": t.path} for t in self._tails.values()
        ]
        tmp = self._posfile.with_name(self._posfile.name + ".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self._posfile)

    # discovery
    def _scan(self) -> None:
        current: dict[int, tuple[str, str]] = {}
        for group, (directory, pattern) in self._groups.items():
            try:
                entries = list(os.scandir(directory))
            except FileNotFoundError:
                continue
            for entry in entries:
                if pattern.fullmatch(entry.name) and entry.is_file():
                    current[entry.inode()] = (entry.path, group)
        for inode, (path, group) in current.items():
            tail = self._tails.get(inode)
            if tail is None:
                pos = 0
                if self.conf["skipToEnd"]:
                    pos = os.stat(path).st_size
                self._tails[inode] = _Tail(inode, path, group, pos, safe_pos=pos)
                self.log.info("following %s (inode %d) from byte %d", path, inode, pos)
            else:
                if tail.path != path:
                    self.log.info("%s was renamed to %s; same file, same position", tail.path, path)
                tail.path, tail.group, tail.rotated = path, group, False
        for inode, tail in list(self._tails.items()):
            if inode not in current and not tail.rotated:
                tail.rotated = True  # renamed away or deleted: finish what it holds
                if tail.fd is None:
                    tail.fd = self._find_and_open(tail)
                    if tail.fd is None:
                        del self._tails[inode]

    def _find_and_open(self, tail: _Tail) -> int | None:
        """Open a file we no longer see under its name (rotated while the agent was down)."""
        directory = Path(tail.path).parent
        try:
            for entry in os.scandir(directory):
                if entry.inode() == tail.inode and entry.is_file():
                    return os.open(entry.path, os.O_RDONLY)
        except FileNotFoundError:
            pass
        return None

    # reading
    def _read(self, tail: _Tail) -> bool:
        """Read and deliver new complete lines of one file; True if any were delivered."""
        if tail.fd is None:
            try:
                tail.fd = os.open(tail.path, os.O_RDONLY)
            except FileNotFoundError:
                return False
            if os.fstat(tail.fd).st_ino != tail.inode:  # the name moved on meanwhile
                os.close(tail.fd)
                tail.fd = None
                return False
        size = os.fstat(tail.fd).st_size
        if size < tail.pos:
            self.log.warning(
                "%s was truncated (%d < %d bytes read); reading from its start",
                tail.path,
                size,
                tail.pos,
            )
            tail.pos = 0
            tail.splitter = None
        if size == tail.pos:
            if tail.rotated and tail.marks.idle:
                self._drop(tail)
            return False
        if tail.splitter is None:
            tail.splitter = LineSplitter(self.conf["maxLineLength"], "UTF-8", "REPLACE")
        splitter = tail.splitter
        read_from = tail.pos + splitter.pending
        delivered = False
        batches = 0
        while read_from < size and batches < self.conf["maxBatchCount"]:
            chunk = os.pread(tail.fd, min(READ_SIZE, size - read_from), read_from)
            if not chunk:
                break
            read_from += len(chunk)
            start = tail.pos
            lines = splitter.feed(chunk)
            if not lines:
                continue
            if not self._deliver_lines(tail, lines, start):
                tail.splitter = None  # read again from tail.pos next time
                return delivered
            tail.pos = read_from - splitter.pending
            tail.marks.mark(tail.pos)
            delivered = True
            batches += 1
            tail.last_read = time.monotonic()
        if tail.rotated and read_from >= size and splitter.pending:
            # A rotated file's last line without a newline: it will never be finished.
            self._deliver_lines(tail, splitter.flush(), tail.pos)
            tail.pos = size
            tail.marks.mark(size)
        return delivered

    def _deliver_lines(self, tail: _Tail, lines: list[bytes], start: int) -> bool:
        common = dict(self._headers.get(tail.group, {}))
        if self.conf["fileHeader"]:
            common[self.conf["fileHeaderKey"]] = tail.path
        size = self.conf["batchSize"]
        offsets: list[dict[str, str]] | None = None
        if self.conf["byteOffsetHeader"]:
            offsets, at = [], start
            for line in lines:
                offsets.append({"byteoffset": str(at)})
                at += len(line) + 1
        for i in range(0, len(lines), size):
            headers = None if offsets is None else offsets[i : i + size]
            if not self.deliver(EventBatch(lines[i : i + size], common, headers), tail.marks.ack()):
                return False
        return True

    def _drop(self, tail: _Tail) -> None:
        if tail.fd is not None:
            os.close(tail.fd)
        self._tails.pop(tail.inode, None)
        self.log.info("finished rotated file %s (inode %d)", tail.path, tail.inode)

    def _close_idle(self) -> None:
        idle = self.conf["idleTimeout"] / 1000
        now = time.monotonic()
        for tail in self._tails.values():
            if tail.fd is not None and not tail.rotated and now - tail.last_read > idle:
                os.close(tail.fd)
                tail.fd = None
