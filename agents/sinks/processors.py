"""Sink processors: what a sink runner drives (Flume's SinkProcessor).

``DefaultSinkProcessor`` drives one sink. A processor that drives several sinks over one
channel (Flume's failover and load_balance sink groups) has the same shape: ``start``,
``stop``, ``process`` and ``backoff_pause``, and decides itself which sink processes next.
"""

from __future__ import annotations

import threading

from agents.component import Status
from agents.sinks.base import Sink


class DefaultSinkProcessor:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.name = sink.name
        self.KIND = sink.KIND
        self.counters = sink.counters
        self.log = sink.log
        self.wake = threading.Event()

    @property
    def sinks(self) -> list[Sink]:
        return [self.sink]

    def start(self) -> None:
        self.sink.start()

    def stop(self) -> None:
        self.sink.stop()

    def process(self) -> Status:
        return self.sink.process()

    def backoff_pause(self, attempt: int) -> float:
        return self.sink.backoff_pause(attempt)

    def interrupt(self) -> None:
        self.sink.interrupt()
