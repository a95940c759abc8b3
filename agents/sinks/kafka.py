"""Flume's Kafka sink on confluent-kafka: at-least-once, several batches in flight.

A batch is taken from the channel in its own transaction and produced; the transaction is
committed only when Kafka acknowledged every record of it (every record's delivery report was
served, none failed: see ``_Report``), and transactions are settled in the order they were
opened. A record that failed for a reason that
may pass (a broker away, a timeout) rolls back its batch and every later one still open
(newest first, so the channel keeps its order); they are taken and produced again after a
growing pause (0.1 s up to 5 s): duplicates are possible, loss is not. A record Kafka refuses
for good (too large, an invalid topic, not authorised) goes to the dead-letter file
(``agents.sinks.deadletter``) and the rest of its batch is committed: one poison record never
stalls the flow. While the broker is away librdkafka retries; the in-flight limit then stops
new takes, the channel fills, and the sources wait. A rollback is reported by ``process``
raising ``DeliveryError`` (so a failover group moves on); ``settle`` waits for what is in flight.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import deque
from typing import Any

import confluent_kafka as ck

from agents.channels.base import Transaction
from agents.component import Status
from agents.config.spec import Prop
from agents.errors import DeliveryError
from agents.event import EventBatch
from agents.sinks.base import Sink
from agents.sinks.deadletter import DeadLetters

TAKE_WAIT = 0.05
# Java producer settings librdkafka does not know; dropped with a warning.
JAVA_ONLY = {
    "key.serializer",
    "value.serializer",
    "buffer.memory",
    "max.block.ms",
    "partitioner.class",
    "interceptor.classes",
}


# Errors that sending again cannot cure: the record goes to the dead-letter file.
PERMANENT = frozenset(
    getattr(ck.KafkaError, name)
    for name in ("MSG_SIZE_TOO_LARGE", "INVALID_MSG_SIZE", "RECORD_LIST_TOO_LARGE",
                 "INVALID_RECORD", "INVALID_MSG", "INVALID_TIMESTAMP", "TOPIC_EXCEPTION",
                 "TOPIC_AUTHORIZATION_FAILED", "_INVALID_ARG", "_UNKNOWN_PARTITION")
    if hasattr(ck.KafkaError, name)
)  # fmt: skip
_BOOTSTRAP = re.compile(r"^\[?[\w.:-]+\]?:\d{1,5}$")


class _Tracker:
    """What Kafka said about one batch: the first error that sending again may cure, the
    records refused for good, and whether every record has been reported."""

    __slots__ = ("error", "failed", "reported", "started")

    def __init__(self) -> None:
        self.error: str | None = None
        self.failed: list[tuple[str, bytes, str]] = []  # refused for good: topic, value, why
        self.reported = False
        self.started = time.monotonic()

    def fail(self, err: Any, topic: str, value: bytes) -> None:
        code = err.code() if hasattr(err, "code") else None
        if code in PERMANENT:
            self.failed.append((topic, value, f"{err.name()}: {err.str()}"))
        elif self.error is None:
            self.error = str(err)


class _Report:
    """The delivery callback every record of one batch is produced with.

    The producer runs with ``delivery.report.only.error``: confluent-kafka calls this only for
    a record that failed, and holds one reference to it per record until that record's report
    has been served (by ``poll``), success or failure. So when the last reference goes, every
    record of the batch has been reported, and those not failed were acknowledged: the batch
    is settled by that count, with no Python call per acknowledged record.
    """

    __slots__ = ("tracker",)

    def __init__(self, tracker: _Tracker) -> None:
        self.tracker = tracker

    def __call__(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.tracker.fail(err, msg.topic(), msg.value())

    def __del__(self) -> None:
        self.tracker.reported = True


def avro_event(body: bytes, headers: dict[str, str]) -> bytes:
    """Flume's AvroFlumeEvent in Avro binary (``useFlumeEventFormat``): a map, then bytes.

    Written by hand: the schema is two fields, and an Avro library would cost more per event.
    """
    out = bytearray()
    if headers:
        out += _zigzag(len(headers))
        for k, v in headers.items():
            kb, vb = k.encode(), v.encode()
            out += _zigzag(len(kb)) + kb + _zigzag(len(vb)) + vb
    out += b"\x00"
    out += _zigzag(len(body)) + body
    return bytes(out)


def _zigzag(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class KafkaSink(Sink):
    TYPE = "kafka"
    PROPERTIES = (
        Prop(
            "kafka.bootstrap.servers",
            "str",
            doc="Brokers to bootstrap from (host:port,...).",
            aliases=("brokerList",),
        ),
        Prop(
            "kafka.topic", "str", "default-flume-topic", "Topic to publish to.", aliases=("topic",)
        ),
        Prop(
            "flumeBatchSize",
            "int",
            100,
            "Most events taken and produced per transaction.",
            aliases=("batchSize",),
            minimum=1,
        ),
        Prop(
            "kafka.producer.acks",
            "str",
            "1",
            "Acks a record needs: 0, 1 or -1/all.",
            aliases=("requiredAcks",),
        ),
        Prop(
            "useFlumeEventFormat",
            "bool",
            False,
            "Publish Flume's Avro event (headers + body) instead of the bare body.",
        ),
        Prop("allowTopicOverride", "bool", True, "Let the topicHeader header pick the topic."),
        Prop("topicHeader", "str", "topic", "Header naming an event's topic."),
        Prop("partitionIdHeader", "str", "", "Header naming an event's partition."),
        Prop("defaultPartitionId", "int", -1, "Partition for every event (-1: the partitioner)."),
        Prop(
            "maxInFlightBatches",
            "int",
            32,
            "Batches produced and awaiting acknowledgement at once (ours, not Flume's); they "
            "keep their channel slots until acknowledged.",
            minimum=1,
        ),
        Prop("timestampHeader", "str", "", "Header whose value (epoch ms) is the record's time."),
        Prop("header.", "prefix", doc="header.<flume header> = <kafka header>: copy it over."),
        Prop("serializer.class", "str", "", "Flume 1.6's setting; accepted and unused."),
        Prop("key.serializer.class", "str", "", "Flume 1.6's setting; accepted and unused."),
        Prop(
            "kafka.producer.",
            "prefix",
            doc="Any producer setting, passed to librdkafka (e.g. linger.ms, compression.type).",
        ),
    )

    def setup(self, context) -> None:  # type: ignore[no-untyped-def]
        for server in self.conf["kafka.bootstrap.servers"].split(","):
            if not _BOOTSTRAP.match(server.strip()):
                context.problem("kafka.bootstrap.servers",
                                f"{server.strip()!r} is not host:port")  # fmt: skip
        conf: dict[str, Any] = {
            "bootstrap.servers": self.conf["kafka.bootstrap.servers"],
            "acks": self.conf["kafka.producer.acks"],
            "linger.ms": 5,
            "queue.buffering.max.messages": 1_000_000,
            "log_level": 3,
            # Acknowledged records are counted, not called back (see _Report).
            "delivery.report.only.error": True,
        }
        for key, value in self.conf["kafka.producer."].items():
            if key == "acks":
                continue
            if key in JAVA_ONLY:
                context.problem(
                    f"kafka.producer.{key}",
                    "is a Java client setting that librdkafka does not use; ignored",
                    severity="warning",
                )
                continue
            conf[key] = value
        if str(conf["acks"]) == "-1":
            conf["acks"] = "all"
        self._producer_conf = conf
        # librdkafka checks the settings; without bootstrap servers it connects nowhere and
        # looks nothing up (--check has no side effects).
        try:
            check = {k: v for k, v in conf.items() if k != "bootstrap.servers"}
            ck.Producer({**check, "log_level": 0}).flush(0)
        except ck.KafkaException as exc:
            context.problem("kafka.producer.", f"librdkafka rejects the settings: {exc}")
        self.max_record_bytes = int(conf.get("message.max.bytes", 1_000_000))
        self._producer: ck.Producer | None = None
        self._inflight: deque[tuple[Transaction, _Tracker, int]] = deque()
        self._dead: DeadLetters | None = None
        for key in ("KafkaEventSendTimer", "DeadLetterCount"):
            self.counters.values.setdefault(key, 0)

    def start(self) -> None:
        conf = dict(self._producer_conf)
        conf["error_cb"] = self._on_error
        self._producer = ck.Producer(conf)
        self._failures = 0
        self._cooldown_until = 0.0
        self._failed: str | None = None  # why batches were rolled back since process() began
        self.counters.add("ConnectionCreatedCount")
        super().start()

    def backoff_pause(self, attempt: int) -> float:
        wait = self._cooldown_until - time.monotonic()
        return wait if wait > 0 else super().backoff_pause(attempt)

    def dead_letters(self) -> DeadLetters:
        if self._dead is None:
            assert self.state_dir is not None, "the runtime sets state_dir before start()"
            path = self.state_dir / "dead-letter" / f"{self.name}.jsonl"
            self._dead = DeadLetters(path, self.counters, self.log)
        return self._dead

    def _on_error(self, err: ck.KafkaError) -> None:
        if err.code() in (ck.KafkaError._ALL_BROKERS_DOWN, ck.KafkaError._TRANSPORT):
            self.counters.add("ConnectionFailedCount")
        self.counters.error(str(err))
        self.log.warning("kafka: %s", err)

    def process(self) -> Status:
        status = self._process()
        if self._failed is not None:
            reason, self._failed = self._failed, None
            raise DeliveryError(f"sink {self.name}: {reason}")
        return status

    def _process(self) -> Status:
        producer = self._producer
        assert producer is not None and self.channel is not None
        producer.poll(0)
        self._settle()
        if len(self._inflight) >= self.conf["maxInFlightBatches"]:
            producer.poll(0.01)
            self._settle()
            return Status.READY
        if time.monotonic() < self._cooldown_until:  # after a failure: no new takes yet
            if self._inflight:
                producer.poll(0.01)
                self._settle()
            return Status.BACKOFF
        tx = self.channel.transaction()
        try:
            batch = tx.take(self.conf["flumeBatchSize"], TAKE_WAIT)
        except Exception as exc:
            tx.close()
            self.counters.add("ChannelReadFail")
            self.counters.error(str(exc))
            self.log.error("cannot take from channel %s: %s", self.channel.name, exc)
            return Status.BACKOFF
        n = len(batch)
        if not n:
            tx.commit()
            tx.close()
            self.counters.add("BatchEmptyCount")
            if self._inflight:
                producer.poll(0.005)
                self._settle()
                return Status.READY
            return Status.BACKOFF
        self.counters.add("EventDrainAttemptCount", n)
        tracker = _Tracker()
        self._produce(batch, tracker)
        self._inflight.append((tx, tracker, n))
        self.counters.add(
            "BatchCompleteCount" if n == self.conf["flumeBatchSize"] else "BatchUnderflowCount"
        )
        return Status.READY

    def _produce(self, batch: EventBatch, tracker: _Tracker) -> None:
        producer = self._producer
        assert producer is not None
        produce = producer.produce
        topic = self.conf["kafka.topic"]
        report = _Report(tracker)  # held by librdkafka per record until reported
        conf = self.conf
        plain = (
            batch.headers is None
            and not conf["timestampHeader"]
            and not conf["header."]
            and not conf["useFlumeEventFormat"]
            and "key" not in batch.common
            and not (conf["allowTopicOverride"] and conf["topicHeader"] in batch.common)
            and not (conf["partitionIdHeader"] and conf["partitionIdHeader"] in batch.common)
            and conf["defaultPartitionId"] < 0
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
            if conf["allowTopicOverride"] and conf["topicHeader"] in headers:
                t = headers[conf["topicHeader"]]
            kwargs: dict[str, Any] = {"on_delivery": report}
            if "key" in headers:
                kwargs["key"] = headers["key"].encode()
            part = headers.get(conf["partitionIdHeader"]) if conf["partitionIdHeader"] else None
            if part is not None:
                kwargs["partition"] = int(part)
            elif conf["defaultPartitionId"] >= 0:
                kwargs["partition"] = conf["defaultPartitionId"]
            stamp = headers.get(conf["timestampHeader"]) if conf["timestampHeader"] else None
            if stamp is not None and stamp.isdigit():
                kwargs["timestamp"] = int(stamp)
            if conf["header."]:
                kwargs["headers"] = [(k, headers[f].encode()) for f, k in conf["header."].items()
                                     if f in headers]  # fmt: skip
            value = avro_event(body, headers) if conf["useFlumeEventFormat"] else body
            try:
                self._produce_one(t, value, kwargs)
            except (ck.KafkaException, ValueError, TypeError) as exc:
                err = exc.args[0] if isinstance(exc, ck.KafkaException) else ck.KafkaError(
                    ck.KafkaError._INVALID_ARG, str(exc))  # fmt: skip
                tracker.fail(err, t, value)

    def _produce_one(self, topic: str, value: bytes, kwargs: dict[str, Any]) -> None:
        producer = self._producer
        assert producer is not None
        while True:
            try:
                producer.produce(topic, value, **kwargs)
                return
            except BufferError:  # librdkafka's queue is full: serve delivery reports
                producer.poll(0.05)

    def _settle(self) -> None:
        """Commit finished batches in order; on a failure roll back it and all after it."""
        inflight = self._inflight
        c = self.counters
        while inflight and inflight[0][1].reported:
            tx, tracker, n = inflight[0]
            if tracker.error is not None:
                self._rollback_all(tracker.error)
                return
            for topic, value, why in tracker.failed:  # refused for good: set aside
                self.dead_letters().put(topic, value, why)
            inflight.popleft()
            tx.commit()
            tx.close()
            self._failures = 0
            c.add("EventDrainSuccessCount", n - len(tracker.failed))
            c.add("KafkaEventSendTimer", int((time.monotonic() - tracker.started) * 1000))

    def _rollback_all(self, reason: str) -> None:
        c = self.counters
        c.add("EventWriteFail")
        c.error(reason)
        self._failed = reason
        self._failures += 1
        pause = min(0.1 * 2 ** (self._failures - 1), 5.0)
        self._cooldown_until = time.monotonic() + pause
        self.log.error(
            "kafka did not acknowledge a batch (%s); rolling back %d batch(es) to send again "
            "in %.1f s",
            reason,
            len(self._inflight),
            pause,
        )
        while self._inflight:
            tx, _tracker, _n = self._inflight.pop()
            tx.rollback()
            tx.close()
            c.add("RollbackCount")

    def settle(self, timeout: float = 30.0) -> None:
        """Wait for in-flight batches (up to *timeout*), then roll back what is left."""
        if self._producer is None:
            return
        deadline = time.monotonic() + timeout
        while self._inflight and time.monotonic() < deadline:
            self._producer.poll(0.1)
            self._settle()
        if self._inflight:
            self._rollback_all("not acknowledged in time")
        if self._failed is not None:
            reason, self._failed = self._failed, None
            raise DeliveryError(f"sink {self.name}: {reason}")

    def stop(self, timeout: float = 30.0) -> None:
        """Wait for in-flight batches (up to *timeout*), then roll back what is left."""
        if self._producer is not None:
            with contextlib.suppress(DeliveryError):  # rolled back: the channel keeps them
                self.settle(timeout)
            self._producer.flush(1)
            self.counters.add("ConnectionClosedCount")
        super().stop()
