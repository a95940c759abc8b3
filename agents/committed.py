"""Read positions committed in Kafka, in the same transaction as the events read (exactly-once).

An exactly-once Kafka sink (``agents.sinks.kafka_txn``) writes, in each transaction, one record
per stream its batch came from to the *positions topic* (compacted; created if missing):

- key: ``<transactional.id>|<origin>``, the origin being ``<agent>/<source>/<stream>``
  (``EventBatch.marks``);
- value: ``{"position": P}``, the byte offset the last event written of that stream starts at.

Every event of that stream which reached this sink and starts at or before ``P`` is in Kafka
(a channel is a queue, one sink drains it, in order). So the sink drops what it takes again at
or below ``P`` (a source that read it again after a crash, a file channel's replay, a collector
that sent it again), and a source resumes reading at the line that holds ``P``.

``Committed`` is what one transactional id committed, per origin: read from the topic with
``read_committed`` after the sink's producer fenced its predecessors (their open transaction is
then aborted, or committed, and nothing of theirs can come later), and then kept current by the
sink's own commits. Sources wait for it before reading (``wait_loaded``); an avro source that
answers only once its batch is in Kafka waits on it too (``wait_for``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

KEY_SEP = "|"
DEFAULT_TOPIC = "agent-positions"
PARTITIONS = 1  # positions are few and small; one partition keeps them in one order


def record_key(tid: str, origin: str) -> bytes:
    return f"{tid}{KEY_SEP}{origin}".encode()


def record_value(position: int) -> bytes:
    return json.dumps({"position": position}, separators=(",", ":")).encode()


def parse_record(key: bytes | None, value: bytes | None) -> tuple[str, str, int | None] | None:
    """(tid, origin, position) of a positions record (position None: a tombstone); None if the
    record is not one of ours."""
    if not key:
        return None
    tid, sep, origin = key.decode("utf-8", "replace").partition(KEY_SEP)
    if not sep:
        return None
    if value is None:
        return tid, origin, None
    try:
        position = int(json.loads(value)["position"])
    except (ValueError, KeyError, TypeError):
        return None
    return tid, origin, position


class Committed:
    """Positions one transactional id committed, by origin (see the module's doc)."""

    def __init__(self, tid: str) -> None:
        self.tid = tid
        self._positions: dict[str, int] = {}
        self._cond = threading.Condition()
        self.loaded = False
        self.failure: str | None = None  # the sink stopped for good: waiting is in vain

    def get(self, origin: str) -> int | None:
        return self._positions.get(origin)

    def under(self, prefix: str) -> dict[str, int]:
        """Origins starting with *prefix* (one source's streams) and their positions."""
        with self._cond:
            return {o: p for o, p in self._positions.items() if o.startswith(prefix)}

    def __len__(self) -> int:
        return len(self._positions)

    def load(self, positions: Mapping[str, int]) -> None:
        with self._cond:
            self._positions = dict(positions)
            self.loaded = True
            self.failure = None
            self._cond.notify_all()

    def unload(self) -> None:
        """The sink's producer is gone: what it knew is only good after fencing again."""
        with self._cond:
            self.loaded = False

    def update(self, positions: Mapping[str, int]) -> None:
        """A transaction that wrote *positions* committed."""
        with self._cond:
            self._positions.update(positions)
            self._cond.notify_all()

    def fail(self, why: str) -> None:
        with self._cond:
            self.failure = why
            self._cond.notify_all()

    def wait_loaded(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.loaded or self.failure is not None, timeout)

    def wait_for(self, targets: Mapping[str, int], timeout: float) -> bool:
        """Until every origin in *targets* is committed at or past its position; False after
        *timeout* s or when the sink failed for good."""

        def reached() -> bool:
            get = self._positions.get
            return all(get(o, -1) >= p for o, p in targets.items())

        with self._cond:
            self._cond.wait_for(lambda: reached() or self.failure is not None, timeout)
            return reached()


def ensure_topic(conf: Mapping[str, Any], topic: str, timeout: float) -> str | None:
    """Create the positions topic if it is missing: compacted, replicated on up to 3 brokers
    (as many as the cluster has), ``min.insync.replicas`` one less (at least 1). Returns what
    was done, for the log, or None if it existed."""
    admin = AdminClient({k: v for k, v in conf.items() if k in CLIENT_KEYS})
    meta = admin.list_topics(timeout=timeout)
    if topic in meta.topics and meta.topics[topic].error is None:
        return None
    rf = max(1, min(3, len(meta.brokers)))
    config = {"cleanup.policy": "compact", "min.insync.replicas": str(max(1, rf - 1))}
    future = admin.create_topics([NewTopic(topic, PARTITIONS, rf, config=config)],
                                 request_timeout=timeout)[topic]  # fmt: skip
    try:
        future.result(timeout)
    except ck.KafkaException as exc:
        if exc.args[0].code() != ck.KafkaError.TOPIC_ALREADY_EXISTS:
            raise
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # until its partitions have leaders everywhere
        found = admin.list_topics(topic, timeout=timeout).topics.get(topic)
        if (
            found is not None
            and found.error is None
            and found.partitions
            and all(p.leader >= 0 for p in found.partitions.values())
        ):
            break
        time.sleep(0.1)
    return f"created positions topic {topic} (compacted, replication factor {rf})"


# client settings a consumer or admin client may share with the sink's producer
CLIENT_KEYS = frozenset(
    ("bootstrap.servers", "security.protocol", "sasl.mechanism", "sasl.mechanisms",
     "sasl.username", "sasl.password", "ssl.ca.location", "ssl.certificate.location",
     "ssl.key.location", "ssl.key.password", "client.dns.lookup", "socket.timeout.ms",
     "broker.address.family")
)  # fmt: skip


def read_positions(
    conf: Mapping[str, Any],
    topic: str,
    tid: str,
    timeout: float,
    waiting: Callable[[str], None] = lambda _: None,
) -> dict[str, int]:
    """Every origin's position *tid* committed, read with ``read_committed`` up to where the
    topic ended when this was called (so every transaction open then has ended first: one
    another producer left open may hold the read until its timeout; *waiting* hears why).
    Raises TimeoutError after *timeout* s."""
    deadline = time.monotonic() + timeout
    client = {k: v for k, v in conf.items() if k in CLIENT_KEYS}
    consumer = ck.Consumer({**client, "group.id": f"positions-{uuid.uuid4().hex}",
                            "isolation.level": "read_committed", "enable.auto.commit": False,
                            "enable.partition.eof": True, "log_level": 3})  # fmt: skip
    try:
        meta = consumer.list_topics(topic, timeout=max(0.1, deadline - time.monotonic()))
        parts = sorted(meta.topics[topic].partitions)
        ends = _uncommitted_ends(client, topic, parts, deadline)
        todo = {p: end for p, end in ends.items() if end > 0}
        consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in todo])
        positions: dict[str, int] = {}
        told = time.monotonic()
        while todo:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"positions topic {topic} not read to its end in "
                                   f"{timeout:.0f} s (partitions {sorted(todo)})")  # fmt: skip
            for m in consumer.consume(1000, min(left, 0.5)):
                err = m.error()
                if err is not None:
                    if err.code() != ck.KafkaError._PARTITION_EOF:
                        raise ck.KafkaException(err)
                elif m.topic() == topic:
                    parsed = parse_record(m.key(), m.value())
                    if parsed is not None and parsed[0] == tid:
                        if parsed[2] is None:
                            positions.pop(parsed[1], None)
                        else:
                            positions[parsed[1]] = parsed[2]
                part = m.partition()
                if part is not None and (m.offset() or 0) + (err is None) >= todo.get(part, 0):
                    todo.pop(part, None)
            if todo and time.monotonic() - told > 5:
                told = time.monotonic()
                at = consumer.position([ck.TopicPartition(topic, p) for p in todo])
                waiting(", ".join(f"partition {tp.partition} at {tp.offset} of {todo[tp.partition]}"
                                  for tp in at))  # fmt: skip
        return positions
    finally:
        consumer.close()


def _uncommitted_ends(
    client: Mapping[str, Any], topic: str, parts: list[int], deadline: float
) -> dict[int, int]:
    """Each partition's end offset, transactions still open included (read_uncommitted)."""
    probe = ck.Consumer({**client, "group.id": f"positions-{uuid.uuid4().hex}",
                         "isolation.level": "read_uncommitted", "log_level": 3})  # fmt: skip
    try:
        return {p: probe.get_watermark_offsets(ck.TopicPartition(topic, p),
                                               max(0.1, deadline - time.monotonic()),
                                               cached=False)[1] for p in parts}  # fmt: skip
    finally:
        probe.close()
