"""The file channel's engine settings (``FileChannel.config`` makes them from the channel's
typed settings, Flume's property names and units, e.g. ``checkpointInterval`` in ms)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Flume's defaults (FileChannelConfiguration).
DEFAULT_CAPACITY = 1_000_000
DEFAULT_TRANSACTION_CAPACITY = 10_000
DEFAULT_CHECKPOINT_INTERVAL_MS = 30_000
DEFAULT_MAX_FILE_SIZE = 2_146_435_071
DEFAULT_MINIMUM_REQUIRED_SPACE = 524_288_000
FLOOR_MINIMUM_REQUIRED_SPACE = 1_048_576  # Flume raises smaller values to this
DEFAULT_KEEP_ALIVE = 3.0
DEFAULT_FSYNC_INTERVAL = 5.0
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class FileChannelConfig:
    """One channel's directories and limits.

    ``fsync_per_transaction`` (Flume's ``fsyncPerTransaction``, default true): every commit
    returns only once its records are on stable storage, one ``fdatasync`` shared by every
    transaction committing at that moment. False: commits return once written to the page
    cache (safe against a killed process, not against power loss) and the log is fsynced
    every ``fsync_interval`` seconds and before every checkpoint.
    ``cache_bytes`` (ours): payload bytes of recent puts kept decoded in memory, so a sink
    keeping up never reads them back from disk; older events are read on take.
    """

    checkpoint_dir: Path
    data_dirs: tuple[Path, ...]
    capacity: int = DEFAULT_CAPACITY
    transaction_capacity: int = DEFAULT_TRANSACTION_CAPACITY
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL_MS / 1000  # seconds
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    minimum_required_space: int = DEFAULT_MINIMUM_REQUIRED_SPACE
    keep_alive: float = DEFAULT_KEEP_ALIVE
    use_dual_checkpoints: bool = False
    backup_checkpoint_dir: Path | None = None
    checkpoint_on_close: bool = True
    fsync_per_transaction: bool = True
    fsync_interval: float = DEFAULT_FSYNC_INTERVAL
    cache_bytes: int = DEFAULT_CACHE_BYTES

    def problems(self) -> list[tuple[str, str]]:
        """(Flume property name, what is wrong) for every setting that cannot work."""
        out: list[tuple[str, str]] = []
        if not self.data_dirs:
            out.append(("dataDirs", "names no directory"))
        if self.capacity < 1:
            out.append(("capacity", "must be at least 1"))
        if not 1 <= self.transaction_capacity <= self.capacity:
            out.append(("transactionCapacity", f"must be between 1 and capacity ({self.capacity})"))
        if self.checkpoint_interval <= 0:
            out.append(("checkpointInterval", "must be positive"))
        if self.max_file_size < 4096:
            out.append(("maxFileSize", "must be at least 4096 bytes"))
        if self.use_dual_checkpoints:
            if self.backup_checkpoint_dir is None:
                out.append(("backupCheckpointDir", "is required when useDualCheckpoints = true"))
            elif _same(self.backup_checkpoint_dir, self.checkpoint_dir):
                out.append(("backupCheckpointDir", "must differ from checkpointDir"))
        dirs = [self.checkpoint_dir, *self.data_dirs]
        if len({p.resolve() for p in dirs}) != len(dirs):
            out.append(("dataDirs", "each data directory must differ from checkpointDir"))
        return out


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()
