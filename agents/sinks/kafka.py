"""Flume's Kafka sink on confluent-kafka: at-least-once, several batches in flight.

A batch is taken from the channel in its own transaction and produced; the transaction is
committed only when Kafka acknowledged every record of it (every record's delivery report was
served and none failed: ``agents.sinks.kafka_producer``), and transactions are settled in the
order they were opened. The records are produced in a process of the sink's own
(``producerProcess``, ``agents.sinks.kafka_process``) or in the sink's thread; the sink's
transactions and settling are the same either way; if the process dies, every batch in flight
is rolled back and the next ``process`` starts a new one. A record that failed for a reason that
may pass (a broker away, a timeout) rolls back its batch and every later one still open
(newest first, so the channel keeps its order); they are taken and produced again after a
growing pause (0.1 s up to 5 s): duplicates are possible, loss is not. A record Kafka refuses
for good (too large, an invalid topic, not authorised) goes to the dead-letter file
(``agents.sinks.deadletter``) and the rest of its batch is committed: one poison record never
stalls the flow. While the broker is away librdkafka retries; the in-flight limit then stops
new takes, the channel fills, and the sources wait. A rollback is reported by ``process``
raising ``DeliveryError`` (so a failover group moves on); ``settle`` waits for what is in flight.

``exactlyOnce = true`` switches to one Kafka transaction a batch, with the read positions the
batch completes (``agents.sinks.kafka_txn``, docs/exactly-once.md).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import deque
from typing import Any, NoReturn

import confluent_kafka as ck

from agents.channels.base import Transaction
from agents.committed import KEY_SEP
from agents.component import Status, growing_pause
from agents.config.context import Context
from agents.errors import DeliveryError
from agents.sinks.base import Sink
from agents.sinks.deadletter import DeadLetters
from agents.sinks.kafka_process import ProducerGone, ProducerProcess
from agents.sinks.kafka_producer import CONNECTION, BatchProducer, Tracker
from agents.sinks.kafka_settings import KafkaSinkSettings
from agents.sinks.kafka_txn import TransactionalWriter

# How long a take waits for events (a put wakes it at once): briefly while batches are in
# flight (their reports are heard between takes), long when there is nothing to hear.
TAKE_WAIT = 0.05
IDLE_WAIT = 0.5
FULL_WAIT = 0.05  # s to wait for a report when maxInFlightBatches are out
# Java producer settings librdkafka does not know; dropped with a warning.
JAVA_ONLY = {
    "key.serializer",
    "value.serializer",
    "buffer.memory",
    "max.block.ms",
    "partitioner.class",
    "interceptor.classes",
}


_BOOTSTRAP = re.compile(r"^\[?[\w.:-]+\]?:\d{1,5}$")


class KafkaSink(Sink):
    TYPE = "kafka"
    SETTINGS = KafkaSinkSettings
    PROPERTIES = KafkaSinkSettings.props()
    settings: KafkaSinkSettings

    def setup(self, context: Context) -> None:
        for server in self.settings.kafka_bootstrap_servers.split(","):
            if not _BOOTSTRAP.match(server.strip()):
                context.problem("kafka.bootstrap.servers",
                                f"{server.strip()!r} is not host:port")  # fmt: skip
        conf: dict[str, Any] = {
            "bootstrap.servers": self.settings.kafka_bootstrap_servers,
            "acks": self.settings.kafka_producer_acks,
            # The sink hands librdkafka whole batches: a long linger would only add to every
            # record's latency (5 ms, librdkafka's default, was half the live path's p50);
            # 1 ms still sends a batch in one request (docs/performance.md).
            "linger.ms": 1,
            "queue.buffering.max.messages": 1_000_000,
            "log_level": 3,
        }
        for key, value in self.settings.kafka_producer.items():
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
        self.producer_conf = conf
        # librdkafka checks the settings; without bootstrap servers it connects nowhere and
        # looks nothing up (--check has no side effects).
        try:
            check = {k: v for k, v in conf.items() if k != "bootstrap.servers"}
            ck.Producer({**check, "log_level": 0}).flush(0)
        except ck.KafkaException as exc:
            context.problem("kafka.producer.", f"librdkafka rejects the settings: {exc}")
        self.max_record_bytes = int(conf.get("message.max.bytes", 1_000_000))
        self.writer: TransactionalWriter | None = None
        if self.settings.exactly_once:
            self.writer = self._transactional(context)
        elif "transactional.id" in self.settings.kafka_producer:
            context.problem("kafka.producer.transactional.id",
                            "makes a transactional producer, which this sink drives only with "
                            "exactlyOnce = true", "set exactlyOnce = true (and transactionalId)",
                            )  # fmt: skip
        self._producer: BatchProducer | ProducerProcess | None = None
        # taken, produced, not yet settled: transaction, tracker, events, when produced
        self._inflight: deque[tuple[Transaction, Tracker, int, float]] = deque()
        self._dead: DeadLetters | None = None
        for key in ("KafkaEventSendTimer", "DeadLetterCount"):
            self.counters.values.setdefault(key, 0)

    def _transactional(self, context: Context) -> TransactionalWriter:
        """The exactly-once mode's writer; problems with settings it overrides or ignores."""
        agent = context.where.split(".", 1)[0]
        tid = self.settings.transactional_id or f"{agent}-{self.name}"
        extra = self.settings.kafka_producer
        if "transactional.id" in extra:
            context.problem(
                "kafka.producer.transactional.id",
                "is set by the sink with exactlyOnce",
                f"use transactionalId = {extra['transactional.id']}",
            )
        if KEY_SEP in tid:
            context.problem("transactionalId", f"must not contain {KEY_SEP!r}")
        acks = next((k for k in ("kafka.producer.acks", "requiredAcks") if k in context.raw), None)
        if acks is not None and str(self.producer_conf["acks"]) not in ("all", "-1"):
            context.problem(acks, f"is {self.producer_conf['acks']}; exactly-once writes with "
                            "acks = all (a transactional producer is idempotent)",
                            "remove it, or set it to all", severity="warning")  # fmt: skip
        for key in ("enable.idempotence", "max.in.flight.requests.per.connection"):
            if key in extra:
                context.problem(f"kafka.producer.{key}", "is set by the sink with exactlyOnce; "
                                "ignored", severity="warning")  # fmt: skip
                self.producer_conf.pop(key, None)
        if self.settings.producer_process:
            context.problem("producerProcess", "is not used with exactlyOnce: transactions "
                            "run in the sink's thread", severity="warning")  # fmt: skip
        return TransactionalWriter(self, tid, self.settings.positions_topic)

    def _new_producer(self) -> BatchProducer | ProducerProcess:
        make = ProducerProcess if self.settings.producer_process else BatchProducer
        return make(self.producer_conf, self.settings, self.on_error)

    def start(self) -> None:
        if self.writer is not None:
            self.writer.start()
            super().start()
            return
        self._producer = self._new_producer()
        self._failures = 0
        self._cooldown_until = 0.0
        self._failed: str | None = None  # why batches were rolled back since process() began
        self.counters.add("ConnectionCreatedCount")
        super().start()

    def backoff_pause(self, attempt: int) -> float:
        wait = (self._cooldown_until - time.monotonic() if self.writer is None
                else self.writer.backoff_pause())  # fmt: skip
        return wait if wait > 0 else super().backoff_pause(attempt)

    def dead_letters(self) -> DeadLetters:
        if self._dead is None:
            assert self.state_dir is not None, "the runtime sets state_dir before start()"
            path = self.state_dir / "dead-letter" / f"{self.name}.jsonl"
            self._dead = DeadLetters(path, self.counters, self.log)
        return self._dead

    def on_error(self, code: int, text: str) -> None:
        if code in CONNECTION:
            self.counters.add("ConnectionFailedCount")
        self.counters.error(text)
        self.log.warning("kafka: %s", text)

    def interrupt(self) -> None:
        if self.writer is not None:
            self.writer.interrupt()
        if self.channel is not None:
            self.channel.interrupt_takes()  # a take waiting IDLE_WAIT returns now

    def _poll(self, timeout: float) -> None:
        """Hear what the producer reported (up to *timeout* s), then settle what is done."""
        assert self._producer is not None
        try:
            self._producer.poll(timeout)
        except ProducerGone as exc:
            self._producer_gone(exc)
        self._settle()

    def _producer_gone(self, exc: ProducerGone) -> NoReturn:
        """The producer process died: nothing it held counts as acknowledged. Roll back every
        batch in flight (the channel keeps them), drop it (the next ``process`` starts a new
        one) and raise: the runner restarts the sink, a sink group fails over."""
        if self._inflight:
            self._rollback_all(str(exc))
        dead, self._producer = self._producer, None
        if dead is not None:
            dead.close(0)
        self._failed = None  # the ProducerGone raised says it
        raise exc

    def process(self) -> Status:
        if self.writer is not None:
            return self.writer.process()
        status = self._process()
        if self._failed is not None:
            reason, self._failed = self._failed, None
            raise DeliveryError(f"sink {self.name}: {reason}")
        return status

    def _process(self) -> Status:
        if self._producer is None:  # the last one died (a sink group tries the sink again)
            self._producer = self._new_producer()
        producer = self._producer
        assert self.channel is not None
        self._poll(0)
        if len(self._inflight) >= self.settings.max_in_flight_batches:
            self._poll(FULL_WAIT)  # returns as soon as a report is there
            return Status.READY
        if time.monotonic() < self._cooldown_until:  # after a failure: no new takes yet
            if self._inflight:
                self._poll(0.01)
            return Status.BACKOFF
        tx = self.channel.transaction()
        wait = TAKE_WAIT if self._inflight else IDLE_WAIT
        began = time.monotonic()
        try:
            batch = tx.take(self.settings.flume_batch_size, wait)
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
            # The take waited its time in vain: take again at once (a put wakes it). A take
            # that came back early (a stopping channel) backs off instead.
            return Status.READY if time.monotonic() - began >= wait * 0.9 else Status.BACKOFF
        self.counters.add("EventDrainAttemptCount", n)
        tracker = Tracker()
        self._inflight.append((tx, tracker, n, time.monotonic()))
        try:
            producer.send(batch, tracker)
        except ProducerGone as exc:
            self._producer_gone(exc)
        self.counters.add(
            "BatchCompleteCount" if n == self.settings.flume_batch_size else "BatchUnderflowCount"
        )
        return Status.READY

    def _settle(self) -> None:
        """Commit finished batches in order; on a failure roll back it and all after it."""
        inflight = self._inflight
        c = self.counters
        while inflight and inflight[0][1].reported:
            tx, tracker, n, started = inflight[0]
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
            c.add("KafkaEventSendTimer", int((time.monotonic() - started) * 1000))

    def _rollback_all(self, reason: str) -> None:
        c = self.counters
        c.add("EventWriteFail")
        c.error(reason)
        self._failed = reason
        self._failures += 1
        pause = growing_pause(0.1, 5.0, self._failures - 1)
        self._cooldown_until = time.monotonic() + pause
        self.log.error(
            "kafka did not acknowledge a batch (%s); rolling back %d batch(es) to send again "
            "in %.1f s",
            reason,
            len(self._inflight),
            pause,
        )
        while self._inflight:
            tx = self._inflight.pop()[0]
            tx.rollback()
            tx.close()
            c.add("RollbackCount")

    def settle(self, timeout: float = 30.0) -> None:
        """Wait for in-flight batches (up to *timeout*), then roll back what is left."""
        if self._producer is None:  # (exactly-once: each batch settles in ``process``)
            return
        deadline = time.monotonic() + timeout
        while self._inflight and time.monotonic() < deadline:
            self._poll(0.1)
        if self._inflight:
            self._rollback_all("not acknowledged in time")
        if self._failed is not None:
            reason, self._failed = self._failed, None
            raise DeliveryError(f"sink {self.name}: {reason}")

    def stop(self, timeout: float = 30.0) -> None:
        """Wait for in-flight batches (up to *timeout*), then roll back what is left."""
        if self.writer is not None:
            self.writer.stop()
        if self._producer is not None:
            try:
                with contextlib.suppress(DeliveryError):  # rolled back: the channel keeps them
                    self.settle(timeout)
            except ProducerGone as exc:  # what it held is rolled back
                self.log.error("%s", exc)
            producer, self._producer = self._producer, None
            if producer is not None:
                producer.close(1)
            self.counters.add("ConnectionClosedCount")
        super().stop()
