"""One owner per piece of on-disk state: the file channel's directories, a spool dir, a
TAILDIR position file.

``hold(path)`` takes an exclusive ``flock`` on *path* (created if missing) and writes this
process's pid into it. A second holder, in another agent or in this one, gets ``InUseError``
naming the pid that holds it. The lock belongs to the open file, not to the file on disk: it
goes away with the process however it ends (SIGKILL included), so a lock file left behind
never blocks the next start. The descriptor is close-on-exec, so commands an agent runs (exec
source) do not inherit it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from agents.errors import FatalError

LOCK_NAME = "in_use.lock"  # a directory's lock file (Flume's file channel's name)


class InUseError(FatalError):
    """Another process (or another component of this agent) holds the lock: a second owner
    would read (and deliver) everything twice, so the agent stops (exit 1)."""

    stops_agent = True

    def __init__(self, path: Path, pid: int | None, what: str) -> None:
        self.path, self.pid = path, pid
        if pid == os.getpid():
            who = "another component of this agent"
        elif pid is not None:
            who = f"another agent (pid {pid})"
        else:
            who = "another agent"
        super().__init__(f"{what} is in use by {who}: {path} is locked")


class Lock:
    """A held lock; ``release()`` (idempotent) lets it go."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def try_flock(fd: int) -> bool:
    """Take an exclusive ``flock`` on an open file if no other open file holds one (True), or
    return False at once. It is released when *fd* (and its duplicates) are closed."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def hold(path: Path, what: str) -> Lock:
    """Lock *path* for this process (its directory must exist); *what* names the thing it
    guards in the error (``"spool directory /x"``). Raises InUseError, or OSError if the
    file cannot be created."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        locked = try_flock(fd)
    except BaseException:
        os.close(fd)
        raise
    if not locked:
        pid = _holder(fd)
        os.close(fd)
        raise InUseError(path, pid, what)
    with contextlib.suppress(OSError):  # the pid is for messages only
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return Lock(path, fd)


def _holder(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
