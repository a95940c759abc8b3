"""Sink contract: take a batch from the channel, deliver it, commit or roll back.

The runtime's sink runner calls ``process`` in a loop on the sink's own thread.
"""

from __future__ import annotations

import enum

from agents.channels.base import Channel
from agents.component import Component


class Status(enum.Enum):
    READY = "ready"  # made progress; call again at once
    BACKOFF = "backoff"  # nothing to do or the destination failed; the runner backs off


class Sink(Component):
    KIND = "SINK"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.channel: Channel | None = None  # set by the runtime before start()

    def process(self) -> Status:
        raise NotImplementedError
