"""The bench's own lab: real ZooKeeper + Kafka brokers on free ports in a temporary home.

Never the user's lab nor the book's ports. Topics are made per measurement and deleted after
it, so a long run does not fill the disk; records are counted by the topics' end offsets.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

from labctl.cluster import Cluster, ClusterSpec, TopicSpec, free_port_block
from labctl.paths import LabPaths

POLL = 0.01  # seconds between end-offset looks: the clock's resolution
STALL = 60.0  # a system that adds no record for this long has failed
READY = 30.0  # s for a new topic to have a leader per partition, seen by every client used


# Errors a watermark query gives while a topic's leaders or metadata move: wait them out.
_TRANSIENT = frozenset({
    ck.KafkaError._UNKNOWN_PARTITION, ck.KafkaError._TIMED_OUT, ck.KafkaError._TRANSPORT,
    ck.KafkaError.LEADER_NOT_AVAILABLE, ck.KafkaError.NOT_LEADER_FOR_PARTITION,
    ck.KafkaError.UNKNOWN_TOPIC_OR_PART,
})  # fmt: skip


class Stalled(RuntimeError):
    """A system stopped making progress (or died) before all records were in the topic."""


@contextmanager
def bench_lab(work: Path, brokers: int = 1) -> Iterator[Cluster]:
    """A ready lab of *brokers* brokers under *work*; stopped and purged afterwards."""
    base = free_port_block(brokers + 1)
    cluster = Cluster(LabPaths(work / "lab"), ClusterSpec(brokers, base, base + 1, TopicSpec()))
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down(purge=True, timeout=10)


def _leaderless(client: ck.Consumer | AdminClient, topic: str, partitions: int) -> str:
    """What *client*'s fresh metadata lacks for *topic* to be used, or "" if nothing."""
    found = client.list_topics(topic, timeout=5).topics.get(topic)
    if found is None or found.error is not None:
        return f"{topic}: {found.error if found is not None else 'not in the metadata'}"
    parts = found.partitions
    if len(parts) < partitions:
        return f"{topic}: {len(parts)} of {partitions} partitions in the metadata"
    missing = sorted(p for p, meta in parts.items() if meta.leader < 0)
    return f"{topic}: no leader for partition(s) {missing}" if missing else ""


class Topics:
    """Throw-away topics of one lab and their end offsets."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.admin = cluster.admin()
        self._consumer = ck.Consumer({**cluster.client_config(), "group.id": "bench"})
        self._partitions: dict[str, int] = {}

    def create(
        self,
        prefix: str,
        partitions: int = 1,
        replication: int = 1,
        configs: dict[str, str] | None = None,
    ) -> str:
        """A new topic (min ISR 1, so acks=1 and acks=all both work on one broker, plus
        *configs*), returned once its end offsets can be read.

        Created is not readable yet: the brokers learn of a new topic and its leaders from the
        controller one by one, and a client whose metadata came from a broker that had not
        heard of it yet fails with ``_UNKNOWN_PARTITION`` (``make bench`` crashed on that in its
        3-broker ``scale`` part). So this waits until the admin client *and* the consumer that
        reads the end offsets both see a leader for every partition, and one read of the end
        offsets answers."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        config = {"min.insync.replicas": "1", **(configs or {})}
        new = NewTopic(name, partitions, replication, config=config)
        self.admin.create_topics([new], operation_timeout=30)[name].result()
        self._partitions[name] = partitions
        deadline = time.monotonic() + READY
        seen = "no metadata"
        while time.monotonic() < deadline:
            try:
                seen = _leaderless(self.admin, name, partitions) or _leaderless(
                    self._consumer, name, partitions
                )
                if not seen:
                    self.end_offset(name)
                    return name
            except ck.KafkaException as exc:
                seen = str(exc)
            time.sleep(0.1)
        raise Stalled(f"topic {name} not readable in {READY:.0f} s: {seen}")

    def delete(self, name: str) -> None:
        self.admin.delete_topics([name], operation_timeout=30)[name].result()
        self._partitions.pop(name, None)

    def end_offset(self, name: str) -> int:
        """Records in *name*: the sum of its partitions' end offsets (all start at 0)."""
        return sum(
            self._consumer.get_watermark_offsets(ck.TopicPartition(name, p), 10, False)[1]
            for p in range(self._partitions[name])
        )

    def _end_offset_now(self, name: str, last: int) -> int:
        """``end_offset``, or *last* while the cluster cannot answer for a moment (a leader
        moving, metadata being refreshed: ``_UNKNOWN_PARTITION`` on a loaded machine); such a
        moment counts towards the stall timeout like any reading that did not move."""
        try:
            return self.end_offset(name)
        except ck.KafkaException as exc:
            if not exc.args[0].retriable() and exc.args[0].code() not in _TRANSIENT:
                raise
            return last

    def wait_for(self, name: str, records: int, alive: Callable[[], str | None]) -> float:
        """Until *name* holds *records*; the perf_counter() moment it did. ``alive()``
        returns why the system is dead, or None; a dead or stalled system raises Stalled."""
        last, moved = -1, time.monotonic()
        while True:
            now = self._end_offset_now(name, last)
            if now >= records:
                return time.perf_counter()
            if now != last:
                last, moved = now, time.monotonic()
            elif time.monotonic() - moved > STALL:
                raise Stalled(f"{now:,} of {records:,} records, none for {STALL:.0f} s")
            reason = alive()
            if reason is not None:
                now = self._end_offset_now(name, last)  # it may have finished as it exited
                if now >= records:
                    return time.perf_counter()
                raise Stalled(f"{reason} after {now:,} of {records:,} records")
            time.sleep(POLL)

    def last_value(self, name: str, partition: int = 0) -> bytes | None:
        """The newest record's value in one partition (a check of what was sent)."""
        end = self._consumer.get_watermark_offsets(ck.TopicPartition(name, partition), 10)[1]
        if end == 0:
            return None
        consumer = ck.Consumer(
            {
                **self.cluster.client_config(),
                "group.id": uuid.uuid4().hex,
                "enable.auto.commit": False,
            }
        )
        try:
            consumer.assign([ck.TopicPartition(name, partition, end - 1)])
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is not None and msg.error() is None:
                    value: bytes | None = msg.value()
                    return value
            return None
        finally:
            consumer.close()

    def close(self) -> None:
        self._consumer.close()
