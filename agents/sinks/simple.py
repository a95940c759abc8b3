"""Sinks that end a flow on this machine: logger, file_roll and null.

Each takes up to ``batchSize`` events in one transaction, writes them, and commits; a failed
write rolls the batch back so it is taken again (after a growing pause, up to 5 s).
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

from agents import locks
from agents.component import Status, growing_pause
from agents.config.context import Context
from agents.config.settings import Settings, prop, shared
from agents.config.spec import Prop
from agents.errors import DeliveryError
from agents.event import EventBatch
from agents.sinks.base import Sink
from agents.sinks.java import hashmap_order

TAKE_WAIT = 0.1  # s a take waits for the first event before the runner backs off
CHUNK = 1 << 16  # bytes read at a time looking back for a file's last newline

# Bytes shown as themselves in the logger's text column; the rest become '.'.
_PRINTABLE = bytes(range(32, 127))
_DOTS = bytes(b if b in _PRINTABLE else ord(".") for b in range(256))


BATCH_PROP = Prop("batchSize", "int", 100, "Most events taken in one transaction.", minimum=1)


@dataclass(frozen=True, kw_only=True)
class BatchSettings(Settings):
    batch_size: int = shared(BATCH_PROP)


class BatchSink(Sink):
    """Take a batch, ``write`` it, commit; if ``write`` raises, roll back and raise
    ``DeliveryError`` (the processor backs off, or fails over).

    Its settings have a ``batch_size`` field (``BatchSettings``): a custom subclass declares
    ``PROPERTIES = (BatchSink.BATCH_PROP, ...)`` or settings of its own with that field, or
    overrides ``batch_size``.
    """

    BATCH_PROP = BATCH_PROP
    SETTINGS: ClassVar[type[Settings] | None] = BatchSettings
    PROPERTIES = BatchSettings.props()

    @property
    def batch_size(self) -> int:
        """Most events taken in one transaction."""
        size: int = self.settings.batch_size
        return size

    def start(self) -> None:
        self._failures = 0
        super().start()

    def failing(self) -> bool:
        return self._failures > 0

    def backoff_pause(self, attempt: int) -> float:
        if self._failures:  # a failed write: back off more and more, up to 5 s
            return growing_pause(0.1, 5.0, self._failures - 1)
        return super().backoff_pause(attempt)

    def process(self) -> Status:
        assert self.channel is not None
        c = self.counters
        tx = self.channel.transaction()
        try:
            batch = tx.take(self.batch_size, TAKE_WAIT)
        except Exception as exc:
            tx.close()
            c.add("ChannelReadFail")
            c.error(str(exc))
            self.log.error("cannot take from channel %s: %s", self.channel.name, exc)
            return Status.BACKOFF
        n = len(batch)
        try:
            if n:
                c.add("EventDrainAttemptCount", n)
                self.write(batch)
            tx.commit()
        except Exception as exc:
            tx.rollback()
            self._failures += 1
            c.add("RollbackCount")
            c.add("EventWriteFail")
            c.error(str(exc))
            self.log.error("write failed, batch rolled back and will be retried: %s", exc)
            raise DeliveryError(f"sink {self.name}: {exc}") from exc
        finally:
            tx.close()
        self._failures = 0
        if not n:
            c.add("BatchEmptyCount")
            return Status.BACKOFF
        c.add("BatchCompleteCount" if n == self.batch_size else "BatchUnderflowCount")
        c.add("EventDrainSuccessCount", n)
        return Status.READY

    def write(self, batch: EventBatch) -> None:
        raise NotImplementedError


def render_event(body: bytes, headers: dict[str, str], max_bytes: int) -> str:
    """Flume's LoggerSink line (EventHelper.dumpEvent): the headers in the order Java's
    HashMap keeps them, then the first bytes as a hex dump (16 a row, the rows after the first
    with their offset), nothing at all for an empty body."""
    return render_body(body, render_headers(headers), max_bytes)


def render_headers(headers: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={headers[k]}" for k in hashmap_order(headers)) + "}"


def render_body(body: bytes, headers: str, max_bytes: int) -> str:
    head = body[:max_bytes]
    if len(head) <= 16:  # one row: the common case
        text = head.translate(_DOTS).decode("ascii")
        dump = f" {head.hex(' ').upper():<47} {text}" if head else ""
        return f"Event: {{ headers:{headers} body:{dump} }}"
    rows = []
    for at in range(0, len(head), 16):
        row = head[at : at + 16]
        rows.append(f"{at:08X} {row.hex(' ').upper():<47} {row.translate(_DOTS).decode('ascii')}")
    return f"Event: {{ headers:{headers} body:{chr(10).join(rows)[8:]} }}"


@dataclass(frozen=True, kw_only=True)
class LoggerSettings(BatchSettings):
    max_bytes_to_log: int = prop(
        "maxBytesToLog", "int", 16, "Body bytes shown per event.", minimum=0
    )


class LoggerSink(BatchSink):
    """Logs each event at INFO, one line per event, the way Flume's LoggerSink shows it."""

    TYPE = "logger"
    SETTINGS = LoggerSettings
    PROPERTIES = LoggerSettings.props()
    settings: LoggerSettings

    def setup(self, context: Context) -> None:
        self._events_log = logging.getLogger("agents.events")

    def write(self, batch: EventBatch) -> None:
        n = self.settings.max_bytes_to_log
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        prefix = f"{stamp} INFO  [{self.name}] "
        if batch.headers is None:  # one header map for the whole batch: render it once
            hdrs = render_headers(batch.common)
            lines = [prefix + render_body(b, hdrs, n) for b in batch.bodies]
        else:
            lines = [prefix + render_event(b, h, n) for b, h in batch.iter_events()]
        self._events_log.info("\n".join(lines))


class NullSink(BatchSink):
    """Takes and discards (for measuring the rest of a flow)."""

    TYPE = "null"
    settings: BatchSettings

    def write(self, batch: EventBatch) -> None:
        return None


@dataclass(frozen=True, kw_only=True)
class FileRollSettings(Settings):
    sink_directory: str = prop(
        "sink.directory", "str", doc="Directory of the output files (created if missing)."
    )
    sink_roll_interval: int = prop(
        "sink.rollInterval", "int", 30, "Seconds per file; 0 keeps one file.", minimum=0
    )
    sink_serializer: str = prop(
        "sink.serializer",
        "choice",
        "TEXT",
        "TEXT: body + newline; HEADER_AND_TEXT: headers as Flume prints them "
        "({k=v, ...}), a space, then the body.",
        choices=("TEXT", "HEADER_AND_TEXT"),
    )
    sink_path_manager: str = prop(
        "sink.pathManager",
        "choice",
        "DEFAULT",
        "How files are named: DEFAULT (<prefix><start ms>-<n>.<extension>).",
        choices=("DEFAULT",),
    )
    sink_path_manager_prefix: str = prop("sink.pathManager.prefix", "str", "", "File name prefix.")
    sink_path_manager_extension: str = prop(
        "sink.pathManager.extension", "str", "", "File name extension (without dot)."
    )
    sink_serializer_append_newline: bool = prop(
        "sink.serializer.appendNewline",
        "bool",
        True,
        "TEXT / HEADER_AND_TEXT: end each event with a newline.",
    )
    sink_batch_size: int = prop(
        "sink.batchSize",
        "int",
        100,
        "Most events taken in one transaction.",
        minimum=1,
        aliases=("batchSize",),
    )


class RollingFileSink(BatchSink):
    """Appends bodies (one per line, TEXT serializer) to files in ``sink.directory``, rolling
    to a new file every ``sink.rollInterval`` seconds (0: never). Flushed and fsynced before
    each commit.

    A batch is one ``write``; an agent killed in the middle of one (SIGKILL) leaves part of a
    batch it never committed at the end of its file, cut anywhere, and sends the batch again
    after the restart. So that no made-up fragment stays in the output, the sink looks at
    start at the files of its naming pattern in its directory: one that does not end with a
    newline is cut back to its last whole line, with a warning. A file another running sink
    writes is left alone (each sink holds a ``flock`` on the file it writes), and with
    ``sink.serializer.appendNewline = false`` nothing can tell where a batch ends: nothing is cut.
    """

    TYPE = "file_roll"
    SETTINGS = FileRollSettings
    PROPERTIES = FileRollSettings.props()
    settings: FileRollSettings

    @property
    def batch_size(self) -> int:
        return self.settings.sink_batch_size

    def setup(self, context: Context) -> None:
        self._dir = Path(self.settings.sink_directory)
        context.check_dir("sink.directory", self._dir)
        self._fh: BinaryIO | None = None
        self._opened = 0.0
        self._seq = 0
        self._base = int(time.time() * 1000)
        self._newline = b"\n" if self.settings.sink_serializer_append_newline else b""

    def start(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)  # created if missing, unlike Flume
        if self._newline:
            self._cut_torn_batches()
        super().start()

    def _cut_torn_batches(self) -> None:
        ext = self.settings.sink_path_manager_extension
        ours = re.compile(re.escape(self.settings.sink_path_manager_prefix) + r"\d{13}-\d+"
                          + (re.escape(f".{ext}") if ext else "") + "$")  # fmt: skip
        with os.scandir(self._dir) as entries:
            paths = [e.path for e in entries if ours.match(e.name) and e.is_file()]
        for path in paths:
            try:
                self._cut_torn_batch(path)
            except OSError as exc:
                self.log.error("cannot look at %s for a batch cut by a crash: %s", path, exc)

    def _cut_torn_batch(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            if not locks.try_flock(fd):
                return  # another running sink writes it
            size = os.fstat(fd).st_size
            if not size or os.pread(fd, 1, size - 1) == b"\n":
                return
            keep = size - 1
            while keep > 0:  # back to the byte after the last newline
                start = max(0, keep - CHUNK)
                at = os.pread(fd, keep - start, start).rfind(b"\n")
                if at >= 0:
                    keep = start + at + 1
                    break
                keep = start
            os.ftruncate(fd, keep)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.counters.error(f"{path}: a batch cut by a crash was cut off")
        self.log.warning("%s ended with %d bytes of a batch cut by a crash (killed mid-write); "
                         "cut back to its last whole line: that batch was never committed and "
                         "is delivered again", path, size - keep)  # fmt: skip

    def _file(self) -> BinaryIO:
        interval = self.settings.sink_roll_interval
        if self._fh is not None and interval and time.monotonic() - self._opened >= interval:
            self._fh.close()
            self._fh = None
        if self._fh is None:
            self._seq += 1
            ext = self.settings.sink_path_manager_extension
            name = f"{self.settings.sink_path_manager_prefix}{self._base}-{self._seq}"
            path = self._dir / (f"{name}.{ext}" if ext else name)
            self._fh = open(path, "ab")  # noqa: SIM115  (kept open across batches)
            locks.try_flock(self._fh.fileno())  # a starting sink leaves this file alone
            self._opened = time.monotonic()
            self.counters.add("ConnectionCreatedCount")
        return self._fh

    def write(self, batch: EventBatch) -> None:
        fh = self._file()
        nl = self._newline
        if self.settings.sink_serializer == "TEXT":
            fh.write(nl.join(batch.bodies) + nl if nl else b"".join(batch.bodies))
        else:
            for body, headers in batch.iter_events():
                fh.write(render_headers(headers).encode() + b" " + body + nl)
        fh.flush()
        os.fsync(fh.fileno())

    def stop(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self.counters.add("ConnectionClosedCount")
        super().stop()
