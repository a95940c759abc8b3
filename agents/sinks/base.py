"""Sink contract: take a batch from the channel, deliver it, commit or roll back.

A sink runner (``agents.runners``) calls its sink processor's ``process`` in a loop on a thread
it owns; the default processor drives one sink (``agents.sinks.processors``).
"""

from __future__ import annotations

from agents.channels.base import Channel
from agents.component import Component, Status

__all__ = ["Sink", "Status"]


class Sink(Component):
    KIND = "SINK"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.channel: Channel | None = None  # set by the runtime before start()
        for key in ("RollbackCount", "RestartCount"):
            self.counters.values.setdefault(key, 0)

    def process(self) -> Status:
        raise NotImplementedError

    def interrupt(self) -> None:
        """Called from another thread when the agent stops, to end a blocking call."""
