"""Flume's file channel, as a storage engine: a durable, CRC-checked log of event batches.

``FileChannelStore(FileChannelConfig(...))``: ``open()`` replays the disk and returns a
``ReplayReport``; ``transaction()`` puts or takes batches; ``close()`` checkpoints. See
docs/file-channel.md for the on-disk format, the fsync policy and recovery.
"""

from agents.channels.filelog._config import FileChannelConfig
from agents.channels.filelog._replay import ReplayReport
from agents.channels.filelog._store import FileChannelStore
from agents.channels.filelog._transaction import FileTransaction
from agents.channels.filelog.errors import (
    DiskSpaceError,
    FileChannelIOError,
    FileChannelLockedError,
)

__all__ = [
    "DiskSpaceError",
    "FileChannelConfig",
    "FileChannelIOError",
    "FileChannelLockedError",
    "FileChannelStore",
    "FileTransaction",
    "ReplayReport",
]
