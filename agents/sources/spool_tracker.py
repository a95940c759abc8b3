"""The spooling-directory source's tracker directory (``trackerDir``): the read position in
the file a run is part-way through, and (``trackingPolicy = tracker_dir``) the files it
consumed.

The position file names a file of the spool dir by name only, with its inode, size and mtime;
one that names anything else, or a position that is not a line boundary, is ignored with a
warning, so no file outside the spool dir is ever read from it. A consumed file is recorded
under ``completed/<name>`` with its identity (inode, size, mtime: inodes get reused).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from agents.counters import Counters
from agents.sources.state import read_json, write_json

META = ".flumespool-main.meta"


@dataclass
class SpoolFile:
    """A file of the spool dir picked up for reading."""

    path: Path
    size: int
    mtime_ns: int
    inode: int
    offset: int = 0  # where an earlier run stopped reading


class SpoolTracker:
    def __init__(
        self, spool: Path, directory: Path, follow_links: bool, log: logging.Logger,
        counters: Counters,
    ) -> None:  # fmt: skip
        self.spool = spool
        self.directory = directory
        self.follow_links = follow_links
        self.log = log
        self.counters = counters

    @property
    def meta_path(self) -> Path:
        return self.directory / META

    # the position in the file being read -----------------------------------------------------
    def save(self, cand: SpoolFile) -> None:
        """Record *cand*'s offset; a failure is logged and counted (reading goes on)."""
        try:
            write_json(self.meta_path, {"file": cand.path.name, "inode": cand.inode,
                                        "size": cand.size, "mtime_ns": cand.mtime_ns,
                                        "offset": cand.offset})  # fmt: skip
        except OSError as exc:  # the position is for a restart only; reading goes on
            self.counters.error(f"cannot write {self.meta_path}: {exc.strerror}")
            self.log.error("cannot record the read position in %s (%s); a restart would read "
                           "%s again", self.meta_path, exc.strerror, cand.path.name)  # fmt: skip

    def resume(self) -> SpoolFile | None:
        """The file an earlier run was part-way through, if it is still there unchanged."""
        try:
            meta = read_json(self.meta_path)
        except (ValueError, OSError) as exc:
            self.log.warning("ignoring the tracker %s: %s", self.meta_path, exc)
            meta = None
        if meta is None:
            return None
        cand = self._trusted(meta)
        if cand is None:
            self.meta_path.unlink(missing_ok=True)
        return cand

    def _trusted(self, meta: object) -> SpoolFile | None:
        """The tracked file if the tracker names a file of the spool dir sensibly, else None."""
        try:
            assert isinstance(meta, dict)
            name = Path(str(meta["file"]))
            inode, size, mtime, offset = (int(meta[k]) for k in
                                          ("inode", "size", "mtime_ns", "offset"))  # fmt: skip
        except (AssertionError, KeyError, TypeError, ValueError):
            self.log.warning("ignoring the tracker %s: not a position this agent wrote",
                             self.meta_path)  # fmt: skip
            return None
        if name.is_absolute() and name.parent.resolve() == self.spool.resolve():
            name = Path(name.name)  # written by an older version: an absolute path
        if name.name != str(name) or name.name in ("", ".", ".."):
            self.log.warning("ignoring the tracker %s: it names %s, which is not a file of the "
                             "spool dir", self.meta_path, meta["file"])  # fmt: skip
            return None
        path = self.spool / name.name
        try:
            st = path.lstat() if not self.follow_links else path.stat()
        except FileNotFoundError:
            return None
        if st.st_ino != inode or not stat.S_ISREG(st.st_mode) or not 0 <= offset <= st.st_size:
            return None
        if offset and not _ends_a_line(path, offset):
            self.log.warning("ignoring the tracker %s: byte %d of %s is not a line boundary; "
                             "reading the file from its start", self.meta_path, offset,
                             path.name)  # fmt: skip
            offset = 0
        return SpoolFile(path, size, mtime, inode, offset)

    def forget(self) -> None:
        """No file is part-way through any more."""
        try:
            self.meta_path.unlink(missing_ok=True)
        except OSError as exc:
            self.log.error("cannot remove the tracker %s: %s", self.meta_path, exc.strerror)

    # consumed files (trackingPolicy = tracker_dir) -------------------------------------------
    def recorded_as_done(self, name: str, st: os.stat_result) -> bool:
        """Is this very file (not just its name) recorded as consumed?"""
        try:
            recorded = (self.directory / "completed" / name).read_text()
        except OSError:
            return False
        return recorded == _identity(st.st_ino, st.st_size, st.st_mtime_ns)

    def name_recorded(self, name: str) -> bool:
        """Was a file of this name recorded as consumed?"""
        return (self.directory / "completed" / name).exists()

    def record_done(self, cand: SpoolFile) -> None:
        """Record *cand* as consumed (raises OSError if it cannot)."""
        done = self.directory / "completed" / cand.path.name
        done.parent.mkdir(parents=True, exist_ok=True)
        done.write_text(_identity(cand.inode, cand.size, cand.mtime_ns))


def _ends_a_line(path: Path, offset: int) -> bool:
    with open(path, "rb") as fh:
        fh.seek(offset - 1)
        return fh.read(1) == b"\n"


def _identity(inode: int, size: int, mtime_ns: int) -> str:
    """What tells a consumed file from a new one of the same name (inodes get reused)."""
    return f"{inode} {size} {mtime_ns}"
