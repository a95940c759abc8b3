"""Exactly-once across Avro tiers (the seed's architecture 4, small): a collector sends, with
each event's origin and position (originHeaders), to aggregator A, or to standby B behind a
failover group; both aggregators write to Kafka exactly once under one transactional.id.

A is SIGKILLed with a transaction open (the test hook holds it there) and a batch of the
collector unanswered; the collector fails over to B, which fences A's producer (its open
transaction is aborted), reads the committed positions and writes; A started again replays its
file channel and fences B in turn. A read_committed reader finds every line exactly once."""

from __future__ import annotations

import contextlib
import socket
from collections import Counter
from pathlib import Path

import confluent_kafka as ck

from labctl.cluster import Cluster
from labctl.ports import free_port_block
from tests.agents.agent_helpers import wait_for
from tests.agents.eos_helpers import (
    KilledAgent,
    consumed,
    once_each,
    read_all,
    unique,
    write_spool_files,
)


def collector_conf(spool: Path, port_a: int, port_b: int) -> str:
    sinks = "".join(
        f"c.sinks.{n}.type = avro\nc.sinks.{n}.hostname = 127.0.0.1\nc.sinks.{n}.port = {p}\n"
        f"c.sinks.{n}.batch-size = 200\nc.sinks.{n}.connect-timeout = 1000\n"
        f"c.sinks.{n}.request-timeout = 20000\nc.sinks.{n}.originHeaders = true\n"
        f"c.sinks.{n}.channel = fc\n"
        for n, p in (("toA", port_a), ("toB", port_b))
    )
    return (
        "c.sources = spool\nc.channels = fc\nc.sinks = toA toB\nc.sinkgroups = g\n"
        "c.sinkgroups.g.sinks = toA toB\nc.sinkgroups.g.processor.type = failover\n"
        "c.sinkgroups.g.processor.priority.toA = 10\nc.sinkgroups.g.processor.priority.toB = 5\n"
        "c.sinkgroups.g.processor.maxpenalty = 2000\n"
        f"c.sources.spool.type = spooldir\nc.sources.spool.spoolDir = {spool}\n"
        "c.sources.spool.readyAfter = 0\nc.sources.spool.batchSize = 200\n"
        "c.sources.spool.channels = fc\nc.channels.fc.type = file\n"
        "c.channels.fc.transactionCapacity = 1000\n" + sinks
    )


def aggregator_conf(
    name: str, port: int, bootstrap: str, topic: str, tid: str, positions: str
) -> str:
    return (
        "agg.sources = avroIn\nagg.channels = fc\nagg.sinks = kafka\n"
        f"agg.sources.avroIn.type = avro\nagg.sources.avroIn.port = {port}\n"
        "agg.sources.avroIn.interceptors = tag\n"
        "agg.sources.avroIn.interceptors.tag.type = static\n"
        "agg.sources.avroIn.interceptors.tag.key = via\n"
        f"agg.sources.avroIn.interceptors.tag.value = {name}\n"
        "agg.sinks.kafka.header.via = via\n"
        "agg.sources.avroIn.channels = fc\nagg.channels.fc.type = file\n"
        "agg.channels.fc.transactionCapacity = 1000\n"
        f"agg.sinks.kafka.type = kafka\nagg.sinks.kafka.kafka.bootstrap.servers = {bootstrap}\n"
        f"agg.sinks.kafka.kafka.topic = {topic}\nagg.sinks.kafka.flumeBatchSize = 200\n"
        f"agg.sinks.kafka.exactlyOnce = true\nagg.sinks.kafka.transactionalId = {tid}\n"
        f"agg.sinks.kafka.positionsTopic = {positions}\nagg.sinks.kafka.channel = fc\n"
    )


def test_a_killed_aggregator_and_its_standby_write_every_line_once(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    bootstrap = kafka_cluster.spec.bootstrap
    topic, tid, positions = unique("eos"), unique("aggregators"), unique("positions")
    port_a = free_port_block(2)
    port_b = port_a + 1
    spool = tmp_path / "spool"
    spool.mkdir()
    for d in ("a", "b", "c"):
        (tmp_path / d).mkdir()
    hold = tmp_path / "hold"
    hold.touch()
    agg_a = KilledAgent(aggregator_conf("A", port_a, bootstrap, topic, tid, positions),
                        tmp_path / "a", "agg", hold=hold)  # fmt: skip
    agg_b = KilledAgent(aggregator_conf("B", port_b, bootstrap, topic, tid, positions),
                        tmp_path / "b", "agg")  # fmt: skip
    collector = KilledAgent(collector_conf(spool, port_a, port_b), tmp_path / "c", "c")
    agg_a.start()
    agg_b.start()
    assert wait_for(lambda: listening(port_a) and listening(port_b), 60), agg_a.tail()
    collector.start()
    try:
        records = write_spool_files(spool, files=2, lines=2000)
        assert agg_a.wait_held(), agg_a.tail()  # A: records produced, not committed
        held = len(read_all(bootstrap, topic, "read_uncommitted"))
        assert held > 0
        agg_a.kill()  # with its transaction open and the collector's batch unanswered
        hold.unlink()
        assert wait_for(lambda: agg_b.log_count("fenced its predecessors") == 1, 60), (
            agg_b.tail())  # fmt: skip
        agg_a.start()  # replays its file channel, fences B
        assert wait_for(lambda: consumed(spool), timeout=120), collector.tail()
        read_all(bootstrap, topic, timeout=120, at_least=len(records))
    finally:
        assert collector.stop() == 0, collector.tail()
        agg_b.stop()
        assert agg_a.stop() == 0, agg_a.tail()
    problem = once_each(read_all(bootstrap, topic), records)
    assert not problem, f"{problem}\nA:\n{agg_a.tail()}\nB:\n{agg_b.tail()}"
    assert len(read_all(bootstrap, topic, "read_uncommitted")) > len(records), (
        "the transaction A left open should be in the log, aborted")  # fmt: skip
    assert {"A", "B"} <= set(writers(bootstrap, topic)), "B took over, then A again"


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def writers(bootstrap: str, topic: str) -> Counter[str]:
    """How many committed records each aggregator wrote (its ``via`` header)."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": unique("g"),
                            "isolation.level": "read_committed",
                            "enable.partition.eof": True})  # fmt: skip
    consumer.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    seen: Counter[str] = Counter()
    try:
        while True:
            m = consumer.poll(10)
            assert m is not None, "no end of partition in 10 s"
            if m.error():
                return seen
            headers = m.headers() or []
            assert isinstance(headers, list)  # a consumed record's headers: (key, value) pairs
            seen.update(v.decode() for k, v in headers if k == "via" and isinstance(v, bytes))
    finally:
        consumer.close()
