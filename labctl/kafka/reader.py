"""Reading a topic back, as the checks of `verify` and of the examples do: from given offsets,
until the records that count reached a number (then on to the end offsets of that moment, so
whatever came with them, duplicates or strays, is read too), or until nothing came for a while.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

Config = dict[str, Any]  # confluent-kafka settings (bootstrap.servers, ...)


@dataclass(frozen=True, slots=True)
class Record:
    partition: int
    offset: int
    value: bytes
    timestamp_ms: int  # the topic's (LogAppendTime in the lab's topic)
    raw_headers: Any = None

    @property
    def headers(self) -> dict[str, str]:
        """The record's headers (a list of (key, bytes) pairs) as text."""
        raw = self.raw_headers
        pairs: Iterable[tuple[object, object]] = (
            raw.items() if isinstance(raw, dict) else raw if isinstance(raw, list) else []
        )
        return {str(k): v.decode() if isinstance(v, bytes) else str(v or "") for k, v in pairs}


def each_record(record: Record) -> Hashable:
    """Every record counts once (by its place in the topic)."""
    return (record.partition, record.offset)


def end_offsets(config: Config, topic: str) -> dict[int, int]:
    """Each partition's end offset now."""
    c = Consumer({**config, "group.id": "labctl-verify"})
    try:
        md = c.list_topics(topic, timeout=10)
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in md.topics[topic].partitions}  # fmt: skip
    finally:
        c.close()


def read_records(
    config: Config,
    topic: str,
    starts: dict[int, int],
    expect: int,
    counts: Callable[[Record], Hashable | None] = each_record,
    idle: float = 10.0,
    batch: int = 5000,
    progress: Callable[[int, int], None] | None = None,
    committed: bool = False,
) -> list[Record]:
    """The records of *topic* after *starts* (partition -> offset): until *expect* distinct
    ``counts`` keys came (a record whose key is None does not count), then up to the end
    offsets of that moment; or until nothing came for *idle* s. ``progress(counted, read)``
    hears of every batch. *committed*: read as a read_committed reader (an exactly-once
    sink's aborted batches are not records of the topic)."""
    isolation = "read_committed" if committed else "read_uncommitted"
    c = Consumer({**config, "group.id": uuid.uuid4().hex, "enable.auto.commit": False,
                  "isolation.level": isolation})  # fmt: skip
    c.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
    out: list[Record] = []
    counted: set[Hashable] = set()
    ends: dict[int, int] | None = None
    reached: dict[int, int] = dict(starts)
    last = time.monotonic()
    try:
        while time.monotonic() - last < idle:
            if ends is None and len(counted) >= expect:
                ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                        for p in starts}  # fmt: skip
            if ends is not None and _reached(c, topic, reached, ends):
                break
            got = c.consume(batch, 0.5)
            for m in got:
                part, value, offset = m.partition(), m.value(), m.offset()
                if m.error() or part is None or value is None or offset is None:
                    continue
                record = Record(part, offset, value, m.timestamp()[1], m.headers())
                out.append(record)
                reached[part] = offset + 1
                key = counts(record)
                if key is not None:
                    counted.add(key)
            if got:
                last = time.monotonic()
                if progress is not None:
                    progress(len(counted), len(out))
    finally:
        c.close()
    return out


def _reached(c: Consumer, topic: str, reached: dict[int, int], ends: dict[int, int]) -> bool:
    """Has every partition been read to its end? (The consumer's position also passes the
    offsets a transaction's markers take, which no record of ours shows.)"""
    if all(reached[p] >= end for p, end in ends.items()):
        return True
    positions = c.position([TopicPartition(topic, p) for p in ends])
    return all(max(reached[tp.partition], tp.offset) >= ends[tp.partition] for tp in positions)
