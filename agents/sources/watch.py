"""Being told that files changed, instead of looking every few milliseconds (Linux inotify).

A ``DirWatch`` watches directories for files created, written, renamed, deleted or changed
(``inotify_simple``, a thin ctypes wrapper of the kernel's inotify). ``wait(timeout)`` returns
as soon as something changed in one of them, or ``interrupt()`` was called (from another
thread: the runner stopping the source), or *timeout* passed. A directory that cannot be
watched (it does not exist yet, the inotify watch limit is reached, not Linux) makes
``watching`` false: the caller then polls, as without inotify. Watches are renewed on each
``wait``, so a directory that appears or is recreated is watched from then on.
"""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Iterable

try:
    from inotify_simple import INotify, flags
except (ImportError, OSError):  # not Linux: the caller polls
    INotify = None

CHANGES = (
    "CREATE", "MODIFY", "CLOSE_WRITE", "ATTRIB", "MOVED_FROM", "MOVED_TO", "DELETE",
    "DELETE_SELF", "MOVE_SELF",
)  # fmt: skip
NAMES = ("CREATE", "MOVED_FROM", "MOVED_TO", "DELETE", "DELETE_SELF", "MOVE_SELF", "IGNORED",
         "Q_OVERFLOW")  # fmt: skip


class DirWatch:
    """Changes in some directories, as inotify reports them (see the module's docstring)."""

    def __init__(self, directories: Iterable[str]) -> None:
        self.directories = sorted(set(directories))
        self.watching = False  # every directory has a watch (else: poll)
        self._inotify = None
        if INotify is not None:
            try:
                self._inotify = INotify(nonblocking=True)
            except OSError:  # inotify instances exhausted
                self._inotify = None
        self._mask = self._names = 0
        if self._inotify is not None:
            for name in CHANGES:
                self._mask |= getattr(flags, name)
            for name in NAMES:
                self._names |= getattr(flags, name)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        # a file appeared, moved or went away since the caller last looked (a scan is due);
        # True at first, and whenever the kernel's queue overflowed
        self.names_changed = True

    def renew(self) -> None:
        """Watch every directory (again); ``watching`` says whether all are."""
        if self._inotify is None:
            return
        ok = True
        for directory in self.directories:
            try:
                self._inotify.add_watch(directory, self._mask)  # the same watch if it exists
            except OSError:
                ok = False
        if ok and not self.watching:  # files may have come while it was not watched
            self.names_changed = True
        self.watching = ok

    def drain(self) -> None:
        """Take in the changes queued so far (the caller is about to look at the files)."""
        if self._inotify is None:
            return
        for event in self._inotify.read(timeout=0):
            if event.mask & self._names:
                self.names_changed = True

    def wait(self, timeout: float) -> None:
        """Until something changed, ``interrupt()``, or *timeout* s."""
        self.renew()
        fds = [self._wake_r] if self._inotify is None else [self._inotify.fileno(), self._wake_r]
        ready, _, _ = select.select(fds, [], [], max(timeout, 0))
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 4096)

    def interrupt(self) -> None:
        """Make a ``wait`` on another thread return now (a no-op once closed)."""
        with contextlib.suppress(OSError):  # a wake-up is pending already, or closed
            os.write(self._wake_w, b"!")

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_r = self._wake_w = -1
