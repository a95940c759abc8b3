"""Flume-shaped component counters, read by the monitoring endpoint.

Names follow Flume's SourceCounter / ChannelCounter / SinkCounter (and KafkaSinkCounter) with
Flume's meanings, so dashboards built for Flume's JSON reporting read ours unchanged; e.g. a
source's ``EventAcceptedCount`` counts events before its interceptors, as Flume's does. What
Flume does not count is added under names of our own (``OWN``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

SOURCE_COUNTERS = (
    "EventReceivedCount",
    "EventAcceptedCount",
    "AppendReceivedCount",
    "AppendAcceptedCount",
    "AppendBatchReceivedCount",
    "AppendBatchAcceptedCount",
    "OpenConnectionCount",
    "ChannelWriteFail",
    "EventReadFail",
    "GenericProcessingFail",
)
CHANNEL_COUNTERS = (
    "ChannelSize",
    "ChannelCapacity",
    "EventPutAttemptCount",
    "EventPutSuccessCount",
    "EventTakeAttemptCount",
    "EventTakeSuccessCount",
)
SINK_COUNTERS = (
    "BatchCompleteCount",
    "BatchEmptyCount",
    "BatchUnderflowCount",
    "ConnectionCreatedCount",
    "ConnectionClosedCount",
    "ConnectionFailedCount",
    "EventDrainAttemptCount",
    "EventDrainSuccessCount",
    "EventWriteFail",
    "ChannelReadFail",
)
KINDS = {"SOURCE": SOURCE_COUNTERS, "CHANNEL": CHANNEL_COUNTERS, "SINK": SINK_COUNTERS}
# Ours, beside Flume's (added by the components that count them).
OWN = {
    "EventForwardedCount": "events a source put into its channels, after its interceptors",
    "EventUnroutedCount": "events a multiplexing selector sent to no channel (no mapping, no "
    "default)",
    "OptionalChannelWriteFail": "events an optional channel refused (not retried, as in Flume)",
    "LineSplitCount": "lines longer than maxLineLength, each split into several events",
    "RestartCount": "times the runner restarted the component after a failure (any exception, "
    "or its thread ended; a sink group's failure counts on each of its sinks)",
    "RollbackCount": "batches rolled back (Flume counts it for its Kafka sink only)",
    "DeadLetterCount": "records set aside in the dead-letter file",
    "KafkaEventSendTimer": "ms from producing a batch to Kafka acknowledging it (Flume's)",
    "TransactionCommitCount": "Kafka transactions committed (exactlyOnce)",
    "TransactionAbortCount": "Kafka transactions aborted, their batch written again (exactlyOnce)",
    "DuplicateDropCount": "events taken again that Kafka already had, dropped (exactlyOnce)",
}


class Counters:
    """Integer counters of one component. Increments come from its own thread(s)."""

    def __init__(self, kind: str, name: str, extra: Iterable[str] = ()) -> None:
        self.kind = kind  # SOURCE | CHANNEL | SINK | INTERCEPTOR
        self.name = name
        self.values: dict[str, int] = dict.fromkeys((*KINDS.get(kind, ()), *extra), 0)
        self.start_time = 0
        self.stop_time = 0
        self.errors: list[str] = []  # recent error messages, newest last (bounded)

    def add(self, key: str, n: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + n

    def set(self, key: str, value: int) -> None:
        self.values[key] = value

    def get(self, key: str) -> int:
        return self.values.get(key, 0)

    def started(self) -> None:
        self.start_time = int(time.time() * 1000)
        self.stop_time = 0

    def stopped(self) -> None:
        self.stop_time = int(time.time() * 1000)

    def error(self, message: str) -> None:
        self.errors.append(message)
        del self.errors[:-20]

    def snapshot(self) -> dict[str, object]:
        """Flume's JSON shape: every value as a string, plus Type, StartTime, StopTime."""
        out: dict[str, object] = {k: str(v) for k, v in self.values.items()}
        out["Type"] = self.kind
        out["StartTime"] = str(self.start_time)
        out["StopTime"] = str(self.stop_time)
        return out
