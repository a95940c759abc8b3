"""The open store's background work: a thread that runs one job every interval until stopped
(the periodic checkpoint; the fsync when ``fsyncPerTransaction = false``)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    """Runs *job* every *interval* s on a daemon thread named *name*; an exception of one of
    *survives* is handed to *on_error* and the next interval tries again (any other ends the
    thread)."""

    def __init__(
        self,
        name: str,
        interval: float,
        job: Callable[[], None],
        on_error: Callable[[Exception], None],
        survives: tuple[type[Exception], ...] = (Exception,),
    ) -> None:
        self._interval = interval
        self._job = job
        self._on_error = on_error
        self._survives = survives
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._job()
            except self._survives as e:
                self._on_error(e)

    def signal(self) -> None:
        """Ask the thread to end (it ends once a job under way has returned)."""
        self._stop.set()

    def join(self) -> None:
        self._thread.join()
