"""Producing a Kafka sink's batches with confluent-kafka, and hearing back per batch.

``BatchProducer`` produces each record of a batch and tells the batch's ``Tracker`` when
librdkafka has reported on every record: which failed for a reason that may pass (the batch
is sent again), which were refused for good (set aside), the rest acknowledged. It runs in the
sink's thread, or in a process of its own (``agents.sinks.kafka_process``), with the same code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import confluent_kafka as ck

from agents.avro import encode_event
from agents.event import EventBatch
from agents.sinks.kafka_settings import KafkaSinkSettings

# Errors that sending again cannot cure: the record goes to the dead-letter file.
PERMANENT = frozenset(
    getattr(ck.KafkaError, name)
    for name in ("MSG_SIZE_TOO_LARGE", "INVALID_MSG_SIZE", "RECORD_LIST_TOO_LARGE",
                 "INVALID_RECORD", "INVALID_MSG", "INVALID_TIMESTAMP", "TOPIC_EXCEPTION",
                 "TOPIC_AUTHORIZATION_FAILED", "_INVALID_ARG", "_UNKNOWN_PARTITION")
    if hasattr(ck.KafkaError, name)
)  # fmt: skip
# librdkafka errors that mean the brokers cannot be reached (ConnectionFailedCount)
CONNECTION = frozenset((ck.KafkaError._ALL_BROKERS_DOWN, ck.KafkaError._TRANSPORT))

OnError = Callable[[int, str], None]  # (librdkafka error code, text)
WARM_UP = 2.0  # s a new producer waits for its topic's metadata (no broker: it goes on)


class Tracker:
    """What Kafka said about one batch: the first error that sending again may cure, the
    records refused for good, and whether every record has been reported."""

    __slots__ = ("error", "failed", "on_reported", "reported")

    def __init__(self, on_reported: Callable[[Tracker], None] | None = None) -> None:
        self.error: str | None = None
        self.failed: list[tuple[str, bytes, str]] = []  # refused for good: topic, value, why
        self.reported = False
        self.on_reported = on_reported

    def fail(self, err: Any, topic: str, value: bytes) -> None:
        code = err.code() if hasattr(err, "code") else None
        if code in PERMANENT:
            self.failed.append((topic, value, f"{err.name()}: {err.str()}"))
        elif self.error is None:
            self.error = str(err)

    def done(self) -> None:
        self.reported = True
        if self.on_reported is not None:
            self.on_reported(self)


class _Report:
    """The delivery callback every record of one batch is produced with.

    The producer runs with ``delivery.report.only.error``: confluent-kafka calls this only for
    a record that failed, and holds one reference to it per record until that record's report
    has been served (by ``poll``), success or failure. So when the last reference goes, every
    record of the batch has been reported, and those not failed were acknowledged: the batch
    is settled by that count, with no Python call per acknowledged record.
    """

    __slots__ = ("tracker",)

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def __call__(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.tracker.fail(err, msg.topic(), msg.value())

    def __del__(self) -> None:
        self.tracker.done()


class BatchProducer:
    """One confluent-kafka producer that sends a Kafka sink's batches (*settings*: the sink's,
    for topic, key, partition, timestamp and header handling)."""

    def __init__(
        self, producer_conf: Mapping[str, Any], settings: KafkaSinkSettings, on_error: OnError
    ) -> None:
        self.settings = settings
        self._on_error = on_error
        conf = dict(producer_conf)
        # Acknowledged records are counted, not called back (see _Report).
        conf.setdefault("delivery.report.only.error", True)
        conf["error_cb"] = self._error
        self._fatal: int | None = None
        self._producer = ck.Producer(conf)
        # the topic's metadata now, not when the first record waits for it (no broker yet:
        # the first records wait, as they would anyway)
        with contextlib.suppress(ck.KafkaException):
            self._producer.list_topics(settings.kafka_topic, timeout=WARM_UP)

    @property
    def producer(self) -> ck.Producer:
        """The confluent-kafka producer (the exactly-once mode drives its transactions)."""
        return self._producer

    def _error(self, err: ck.KafkaError) -> None:
        if err.fatal():
            self._fatal = err.code()
        self._on_error(err.code(), str(err))

    def fatal_code(self) -> int | None:
        """The code of the fatal error the producer reported, if any (e.g. fenced)."""
        return self._fatal

    def produce_raw(self, topic: str, value: bytes, key: bytes) -> None:
        """One record outside any batch (a read position), reported through errors only."""
        self._produce_one(topic, value, {"key": key})

    def topic_and_value(self, batch: EventBatch, i: int) -> tuple[str, bytes]:
        """Where event *i* of *batch* goes, and the record's value (as ``send`` makes them)."""
        s = self.settings
        headers = batch.event_headers(i)
        topic = s.kafka_topic
        if s.allow_topic_override and s.topic_header in headers:
            topic = headers[s.topic_header]
        body = batch.bodies[i]
        return topic, encode_event(body, headers) if s.use_flume_event_format else body

    def poll(self, timeout: float) -> None:
        """Serve delivery reports, waiting up to *timeout* s for the first."""
        self._producer.poll(timeout)

    def close(self, timeout: float) -> int:
        """Wait up to *timeout* s for what is queued; the records still unsent."""
        left: int = self._producer.flush(timeout)
        return left

    def send(self, batch: EventBatch, tracker: Tracker) -> None:
        """Produce every record of *batch*; *tracker* hears when all are reported."""
        producer = self._producer
        produce = producer.produce
        s = self.settings
        topic = s.kafka_topic
        report = _Report(tracker)  # held by librdkafka per record until reported
        plain = (
            batch.headers is None
            and not s.timestamp_header
            and not s.header
            and not s.use_flume_event_format
            and "key" not in batch.common
            and not (s.allow_topic_override and s.topic_header in batch.common)
            and not (s.partition_id_header and s.partition_id_header in batch.common)
            and s.default_partition_id < 0
        )
        if plain:
            # The hot path: one topic, no key, no headers to read per event.
            bodies = batch.bodies
            i = 0
            while i < len(bodies):
                try:
                    for body in bodies[i:] if i else bodies:
                        # Positional (value, key, partition, on_delivery): keyword parsing alone
                        # costs about a fifth of the produce call.
                        produce(topic, body, None, -1, report)
                        i += 1
                except BufferError:  # librdkafka's queue is full: serve delivery reports
                    producer.poll(0.05)
                except ck.KafkaException as exc:  # refused at once (e.g. too large)
                    tracker.fail(exc.args[0], topic, bodies[i])
                    i += 1
            return
        for i, body in enumerate(batch.bodies):
            headers = batch.event_headers(i)
            t = topic
            if s.allow_topic_override and s.topic_header in headers:
                t = headers[s.topic_header]
            kwargs: dict[str, Any] = {"on_delivery": report}
            if "key" in headers:
                kwargs["key"] = headers["key"].encode()
            part = headers.get(s.partition_id_header) if s.partition_id_header else None
            if part is not None:
                kwargs["partition"] = int(part)
            elif s.default_partition_id >= 0:
                kwargs["partition"] = s.default_partition_id
            stamp = headers.get(s.timestamp_header) if s.timestamp_header else None
            if stamp is not None and stamp.isdigit():
                kwargs["timestamp"] = int(stamp)
            if s.header:
                kwargs["headers"] = [(k, headers[f].encode()) for f, k in s.header.items()
                                     if f in headers]  # fmt: skip
            value = encode_event(body, headers) if s.use_flume_event_format else body
            try:
                self._produce_one(t, value, kwargs)
            except (ck.KafkaException, ValueError, TypeError) as exc:
                err = exc.args[0] if isinstance(exc, ck.KafkaException) else ck.KafkaError(
                    ck.KafkaError._INVALID_ARG, str(exc))  # fmt: skip
                tracker.fail(err, t, value)

    def _produce_one(self, topic: str, value: bytes, kwargs: dict[str, Any]) -> None:
        while True:
            try:
                self._producer.produce(topic, value, **kwargs)
                return
            except BufferError:  # librdkafka's queue is full: serve delivery reports
                self._producer.poll(0.05)
