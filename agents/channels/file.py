"""Flume's durable ``file`` channel: the storage engine of ``agents.channels.filelog`` as a channel.

A put is on disk when its commit returns (``fsyncPerTransaction``, the default: one
``fdatasync`` shared by every transaction committing at that moment), so a source's read
position moves as soon as its batch is in this channel, not when a sink delivered it: a killed
agent replays the channel at start and re-reads nothing. A take is deleted at its commit; a
rolled-back take returns to the head, in order. The channel survives SIGKILL and power loss;
a torn or corrupt tail is cut and logged at start (never a crash loop); spent segments are
deleted at each checkpoint, so disk use stays bounded. On-disk format, fsync policy and its
cost, recovery: docs/file-channel.md.

When the disk holding ``dataDirs`` would keep less than ``minimumRequiredSpace`` free, puts are
refused (``DiskSpaceError``, a ``ChannelFullError``): the source backs off and puts again, one
log line says so and another when space is back; takes go on and free segments.

Directories default to ``<state dir>/file-channel/<channel>/checkpoint`` and ``.../data``
(Flume's default, ``~/.flume/file-channel/...``, would be shared by every channel of every
agent on the machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agents.channels.base import Channel
from agents.channels.filelog import (
    DiskSpaceError,
    FileChannelConfig,
    FileChannelStore,
    FileTransaction,
    ReplayReport,
)
from agents.channels.filelog import _config as defaults
from agents.config.context import Context
from agents.config.settings import Settings, prop
from agents.counters import Counters
from agents.errors import ChannelClosedError

DEFAULT_DIRS = "<state dir>/file-channel/<channel>"
# What the store counts beside Flume's channel counters, shown in /metrics too.
OWN_STATS = ("CheckpointCount", "CheckpointWriteErrorCount", "CheckpointBackupWriteErrorCount",
             "SegmentsDeleted", "DiskSpaceRefusals", "EventsLostToCorruption", "Fsyncs",
             "Segments", "SegmentBytes")  # fmt: skip


class _StoreCounters(Counters):
    """Flume's channel counters, read from the store when asked."""

    def __init__(self, channel: FileChannel) -> None:
        super().__init__(channel.KIND, channel.name, OWN_STATS)
        self._channel = channel

    def _refresh(self) -> None:
        store = self._channel.store
        if store is None or store.log is None:
            return
        for key, value in store.stats().items():
            if key in self.values:
                self.values[key] = int(value)

    def get(self, key: str) -> int:
        self._refresh()
        return super().get(key)

    def snapshot(self) -> dict[str, object]:
        self._refresh()
        return super().snapshot()


@dataclass(frozen=True, kw_only=True)
class FileChannelSettings(Settings):
    checkpoint_dir: str = prop(
        "checkpointDir",
        "str",
        "",
        "Directory of the checkpoint (and its lock). Empty: "
        f"{DEFAULT_DIRS}/checkpoint (Flume: ~/.flume/file-channel/checkpoint).",
    )
    data_dirs: str = prop(
        "dataDirs",
        "str",
        "",
        "Comma-separated directories of the log segments (segment N in dataDirs[N % k]). "
        f"Empty: {DEFAULT_DIRS}/data.",
    )
    capacity: int = prop(
        "capacity",
        "int",
        defaults.DEFAULT_CAPACITY,
        "Most events stored (taken-but-uncommitted included).",
        minimum=1,
    )
    transaction_capacity: int = prop(
        "transactionCapacity",
        "int",
        defaults.DEFAULT_TRANSACTION_CAPACITY,
        "Most events one put or take transaction holds.",
        minimum=1,
    )
    checkpoint_interval: int = prop(
        "checkpointInterval",
        "int",
        defaults.DEFAULT_CHECKPOINT_INTERVAL_MS,
        "Milliseconds between checkpoints (when the log moved); spent segments go then.",
        minimum=1,
    )
    max_file_size: int = prop(
        "maxFileSize",
        "bytes",
        defaults.DEFAULT_MAX_FILE_SIZE,
        "A segment is sealed and a new one started past this many bytes.",
    )
    minimum_required_space: int = prop(
        "minimumRequiredSpace",
        "bytes",
        defaults.DEFAULT_MINIMUM_REQUIRED_SPACE,
        "Puts are refused when one would leave less free space on the data disk "
        "(at least 1 MiB, as Flume).",
    )
    keep_alive: float = prop(
        "keep-alive",
        "float",
        defaults.DEFAULT_KEEP_ALIVE,
        "Seconds a put waits for room before it is refused.",
        minimum=0,
    )
    use_dual_checkpoints: bool = prop(
        "useDualCheckpoints", "bool", False, "Write every checkpoint twice."
    )
    backup_checkpoint_dir: str = prop(
        "backupCheckpointDir", "str", "", "Where the second checkpoint goes."
    )
    checkpoint_on_close: bool = prop(
        "checkpointOnClose",
        "bool",
        True,
        "Checkpoint at stop, so the next start replays nothing.",
    )
    fsync_per_transaction: bool = prop(
        "fsyncPerTransaction",
        "bool",
        True,
        "true: a commit returns once on stable storage (group commit); false: once "
        "written (safe against a killed process, not a power loss), fsynced every "
        "fsyncInterval.",
    )
    fsync_interval: float = prop(
        "fsyncInterval",
        "float",
        defaults.DEFAULT_FSYNC_INTERVAL,
        "Seconds between fsyncs when fsyncPerTransaction = false.",
        minimum=0.001,
    )
    use_log_replay_v1: bool = prop(
        "use-log-replay-v1", "bool", False, "Accepted for compatibility; no effect here."
    )
    use_fast_replay: bool = prop(
        "use-fast-replay", "bool", False, "Accepted for compatibility; no effect here."
    )
    compress_backup_checkpoint: bool = prop(
        "compressBackupCheckpoint",
        "bool",
        False,
        "Accepted for compatibility; the backup is not compressed.",
    )
    encryption: dict[str, str] = prop(
        "encryption.",
        "prefix",
        doc="Flume's encryption settings: not provided; setting any is an error (data "
        "would be written in clear).",
    )


class FileChannel(Channel):
    TYPE = "file"
    DURABLE = True
    SETTINGS = FileChannelSettings
    PROPERTIES = FileChannelSettings.props()
    settings: FileChannelSettings

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.counters = _StoreCounters(self)
        self.store: FileChannelStore | None = None
        self.replay: ReplayReport | None = None
        self.refusing: str | None = None  # why puts are refused (disk space), while they are

    def setup(self, context: Context) -> None:
        for key, message in self.config(Path("/<state dir>")).problems():
            context.problem(key, message)
        s = self.settings
        for key, where in (("checkpointDir", s.checkpoint_dir),
                           ("backupCheckpointDir", s.backup_checkpoint_dir)):  # fmt: skip
            if where:
                context.check_dir(key, Path(where))
        for d in self._data_dirs():
            context.check_dir("dataDirs", Path(d))
        if self.settings.encryption:
            first = sorted(self.settings.encryption)[0]
            context.problem(f"encryption.{first}", "file-channel encryption is not provided",
                            "remove the encryption.* settings")  # fmt: skip
        self.counters.set("ChannelCapacity", self.settings.capacity)

    def _data_dirs(self) -> list[str]:
        return [d.strip() for d in self.settings.data_dirs.split(",") if d.strip()]

    def config(self, state_dir: Path) -> FileChannelConfig:
        """The engine's settings, default directories under *state_dir*."""
        s = self.settings
        home = state_dir / "file-channel" / self.name
        return FileChannelConfig(
            checkpoint_dir=Path(s.checkpoint_dir or home / "checkpoint"),
            data_dirs=tuple(Path(d) for d in self._data_dirs() or [str(home / "data")]),
            capacity=s.capacity,
            transaction_capacity=s.transaction_capacity,
            checkpoint_interval=s.checkpoint_interval / 1000,
            max_file_size=s.max_file_size,
            minimum_required_space=max(
                defaults.FLOOR_MINIMUM_REQUIRED_SPACE, s.minimum_required_space
            ),
            keep_alive=s.keep_alive,
            use_dual_checkpoints=s.use_dual_checkpoints,
            backup_checkpoint_dir=Path(s.backup_checkpoint_dir)
            if s.backup_checkpoint_dir
            else None,
            checkpoint_on_close=s.checkpoint_on_close,
            fsync_per_transaction=s.fsync_per_transaction,
            fsync_interval=s.fsync_interval,
        )

    @property
    def transaction_capacity(self) -> int:
        return self.settings.transaction_capacity

    def start(self) -> None:
        """Lock the directories and replay them (raises FileChannelIOError if it cannot)."""
        assert self.state_dir is not None, "the runtime sets state_dir before start()"
        store = FileChannelStore(self.config(self.state_dir), self.name)
        self.replay = store.open()
        self.store = store
        self.refusing = None
        super().start()

    def stop(self) -> None:
        if self.store is not None:
            self.store.close()
        super().stop()

    def transaction(self) -> FileChannelTransaction:
        if self.store is None:
            raise ChannelClosedError(f"channel {self.name} is not started")
        return FileChannelTransaction(self, self.store)

    def size(self) -> int:
        return self.store.size() if self.store is not None else 0

    def wait_drained(self, timeout: float) -> bool:
        return self.store is None or self.store.wait_empty(timeout)

    def interrupt_takes(self) -> None:
        if self.store is not None:
            self.store.interrupt_takes()

    def health(self) -> str:
        if self.refusing is not None:
            return f"blocked: {self.refusing}"
        return super().health()

    def _refused(self, exc: DiskSpaceError) -> None:
        if self.refusing is None:
            self.log.warning("channel %s refuses puts: %s", self.name, exc)
        self.refusing = str(exc)

    def _accepted(self) -> None:
        if self.refusing is not None:
            self.log.info("channel %s: disk space is back; puts are accepted again", self.name)
            self.refusing = None


class FileChannelTransaction(FileTransaction):
    """A store transaction that tells its channel when the disk refuses puts, and when it
    takes them again."""

    __slots__ = ("_channel",)

    def __init__(self, channel: FileChannel, store: FileChannelStore) -> None:
        super().__init__(store)
        self._channel = channel

    def _commit(self) -> None:
        try:
            super()._commit()
        except DiskSpaceError as exc:
            self._channel._refused(exc)
            raise
        if self._puts:
            self._channel._accepted()
