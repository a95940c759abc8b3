"""What the file channel raises. A source backs off on any ``ChannelFullError``."""

from __future__ import annotations

from agents.errors import AgentError, ChannelFullError


class DiskSpaceError(ChannelFullError):
    """A put was refused: the disk is (nearly) full. Retry once space returns."""


class FileChannelIOError(AgentError):
    """The channel's files cannot be written or read; the message says which and why."""


class FileChannelLockedError(FileChannelIOError):
    """Another process (or channel) already uses one of the directories."""
