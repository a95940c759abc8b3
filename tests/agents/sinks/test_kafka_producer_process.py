"""The Kafka sink's producer process against real brokers: the same records as the in-thread
producer (the reference), nothing lost when the child dies, no child left when the agent does."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import psutil
from confluent_kafka import Consumer, TopicPartition

from agents.event import EventBatch
from agents.sinks.kafka import KafkaSink
from agents.sinks.kafka_process import ProducerProcess
from labctl.cluster import Cluster
from tests.agents.agent_helpers import agent_from_text, of_type, run_agent_process, wait_for


def producer_children(pid: int | None = None) -> list[psutil.Process]:
    """The Kafka producer processes started by *pid* (default: this test process)."""
    found = []
    for child in psutil.Process(pid).children():
        try:
            if "agents.sinks.kafka_process" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def records(
    cluster: Cluster, topic: str, count: int = 0, values: set[bytes] | None = None
) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of partition 0's records, once there are *count* of them or once they
    hold every one of *values*."""
    consumer = Consumer({**cluster.client_config(), "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    got: list[tuple[bytes | None, bytes]] = []
    seen: set[bytes] = set()

    def enough() -> bool:
        for m in consumer.consume(1000, 0.2):
            if not m.error():
                value = m.value() or b""
                got.append((m.key(), value))
                seen.add(value)
        return len(got) >= count if values is None else values <= seen

    try:
        assert wait_for(enough, timeout=60)
    finally:
        consumer.close()
    return got


def every_value_in(cluster: Cluster, topics: list[str], values: set[bytes]) -> bool:
    """Do the records of *topics* (partition 0) hold every one of *values*, within 60 s?"""
    consumer = Consumer({**cluster.client_config(), "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0) for topic in topics])
    seen: set[bytes] = set()

    def enough() -> bool:
        seen.update(v for m in consumer.consume(1000, 0.2) if not m.error() and (v := m.value()))
        return values <= seen

    try:
        return wait_for(enough, timeout=60)
    finally:
        consumer.close()


def drop(path: Path, lines: list[bytes]) -> None:
    """Hand *lines* to the spool dir whole (written hidden, then renamed: readyAfter is 0)."""
    hidden = path.with_name("." + path.name)
    hidden.write_bytes(b"\n".join(lines) + b"\n")
    hidden.rename(path)


def kafka_conf(tmp_path: Path, bootstrap: str, topics: dict[str, bool], source: str = "") -> str:
    """Agent ``a``: one spooldir source into a channel per sink; sink k<i> -> topics[i],
    with producerProcess as given."""
    names = list(topics)
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    text = (
        f"a.sources = s\na.channels = {' '.join(f'c{i}' for i in range(len(names)))}\n"
        f"a.sinks = {' '.join(f'k{i}' for i in range(len(names)))}\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\n"
        f"a.sources.s.channels = {' '.join(f'c{i}' for i in range(len(names)))}\n{source}"
    )
    for i, (topic, in_process) in enumerate(topics.items()):
        text += (
            f"a.channels.c{i}.type = memory\na.channels.c{i}.capacity = 100000\n"
            f"a.channels.c{i}.transactionCapacity = 10000\n"
            f"a.sinks.k{i}.type = kafka\na.sinks.k{i}.kafka.bootstrap.servers = {bootstrap}\n"
            f"a.sinks.k{i}.kafka.topic = {topic}\na.sinks.k{i}.channel = c{i}\n"
            f"a.sinks.k{i}.producerProcess = {str(in_process).lower()}\n"
        )
    return text


def test_the_producer_process_sends_what_the_in_thread_producer_sends(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    """Bodies with newlines, empty, binary and large; per-event keys (the per-record path):
    the process's records are the reference's, byte for byte, in order."""
    child, reference = f"pp-{uuid.uuid4().hex[:8]}", f"pr-{uuid.uuid4().hex[:8]}"
    for topic in (child, reference):
        kafka_cluster.create_topic(topic, partitions=1)
    conf = kafka_conf(tmp_path, kafka_cluster.spec.bootstrap, {child: True, reference: False})
    agent = agent_from_text(conf, state_dir=tmp_path / "state")
    plain = [b"a line", b"two\nlines", b"", b"\xff\xfe\x00 not text", b"x" * 100_000, b"end"]
    lines = [b"%06d" % i for i in range(3000)]
    keyed = EventBatch([b"k1", b"k2"], {}, [{"key": "one"}, {"key": "two"}])
    agent.start()
    try:
        for channel in agent.channels.values():
            for batch in (EventBatch(plain), EventBatch(lines), keyed):
                with channel.transaction() as tx:
                    tx.put(batch)
                    tx.commit()
        want = len(plain) + len(lines) + 2
        got, expected = records(kafka_cluster, child, want), records(kafka_cluster, reference, want)
    finally:
        agent.stop()
    assert got == expected
    assert [v for _, v in got] == plain + lines + [b"k1", b"k2"]
    assert got[-2:] == [(b"one", b"k1"), (b"two", b"k2")]


def test_a_producer_process_that_dies_loses_nothing(kafka_cluster: Cluster, tmp_path: Path) -> None:
    """SIGKILL the child mid-stream: its unacknowledged batches are rolled back, the sink is
    restarted with a new child, and every record arrives (duplicates allowed)."""
    topic = f"pk-{uuid.uuid4().hex[:8]}"
    kafka_cluster.create_topic(topic, partitions=1)
    conf = kafka_conf(tmp_path, kafka_cluster.spec.bootstrap, {topic: True},
                      "a.sources.s.readyAfter = 0\na.sources.s.pollDelay = 20\n")  # fmt: skip
    agent = agent_from_text(conf, state_dir=tmp_path / "state")
    agent.start()
    sink = agent.sinks["k0"]
    written = [b"%08d,first" % i for i in range(20_000)]
    try:
        drop(tmp_path / "spool" / "one.log", written)
        assert wait_for(lambda: sink.counters.get("EventDrainSuccessCount") > 0, timeout=60)
        (old,) = producer_children()
        old.kill()
        more = [b"%08d,second" % i for i in range(20_000)]
        drop(tmp_path / "spool" / "two.log", more)
        written += more
        assert wait_for(lambda: sink.counters.get("RestartCount") >= 1)
        assert wait_for(lambda: [p.pid for p in producer_children()] not in ([], [old.pid]))
        got = records(kafka_cluster, topic, values=set(written))
    finally:
        agent.stop()
    assert {v for _, v in got} == set(written)
    assert producer_children() == []  # the agent's stop ended its child


def test_an_agent_killed_leaves_no_producer_process(kafka_cluster: Cluster, tmp_path: Path) -> None:
    conf = tmp_path / "agent.conf"
    conf.write_text(kafka_conf(tmp_path, kafka_cluster.spec.bootstrap, {"SmartCar-Topic": True}))
    proc = run_agent_process(conf, "a", tmp_path / "agent.log")
    try:
        assert wait_for(lambda: len(producer_children(proc.pid)) == 1, timeout=30)
        (child,) = producer_children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_for(lambda: not child.is_running() or child.status() == "zombie")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_dead_producer_process_in_a_failover_group(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    """SIGKILL the child of a failover group's active Kafka sink: its batches in flight are
    rolled back, the standby delivers meanwhile, the sink starts a new child when it is tried
    again and takes over; every record arrives in one of the two topics (duplicates allowed)."""
    first, standby = f"pg1-{uuid.uuid4().hex[:8]}", f"pg2-{uuid.uuid4().hex[:8]}"
    for topic in (first, standby):
        kafka_cluster.create_topic(topic, partitions=1)
    spool = tmp_path / "spool"
    spool.mkdir()
    conf = (
        "a.sources = s\na.channels = c\na.sinks = k1 k2\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\na.sources.s.channels = c\n"
        "a.sources.s.readyAfter = 0\na.sources.s.pollDelay = 20\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 100000\n"
        "a.channels.c.transactionCapacity = 10000\n"
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k1 k2\na.sinkgroups.g.processor.type = failover\n"
        "a.sinkgroups.g.processor.priority.k1 = 10\na.sinkgroups.g.processor.priority.k2 = 5\n"
        "a.sinkgroups.g.processor.maxpenalty = 1000\n"
    ) + "".join(
        f"a.sinks.{k}.type = kafka\na.sinks.{k}.channel = c\na.sinks.{k}.kafka.topic = {t}\n"
        f"a.sinks.{k}.kafka.bootstrap.servers = {kafka_cluster.spec.bootstrap}\n"
        f"a.sinks.{k}.producerProcess = true\n"
        for k, t in (("k1", first), ("k2", standby))
    )
    agent = agent_from_text(conf, state_dir=tmp_path / "state")
    agent.start()
    k1 = of_type(agent.sinks["k1"], KafkaSink)
    written = [b"%08d,first" % i for i in range(20_000)]
    try:
        assert wait_for(lambda: len(producer_children()) == 2, timeout=30)
        drop(spool / "one.log", written)
        assert wait_for(lambda: k1.counters.get("EventDrainSuccessCount") > 0, timeout=60)
        producer = of_type(k1._producer, ProducerProcess)
        k1_child = next(p for p in producer_children() if p.pid == producer.pid)
        before = {p.pid for p in producer_children()}
        k1_child.kill()
        more = [b"%08d,second" % i for i in range(20_000)]
        drop(spool / "two.log", more)
        written += more
        assert wait_for(lambda: agent.channels["c"].size() == 0, timeout=60)
        # k1 was set aside and came back with a new child
        assert wait_for(lambda: len({p.pid for p in producer_children()} - before) == 1)
        assert every_value_in(kafka_cluster, [first, standby], set(written))
    finally:
        agent.stop()
    assert producer_children() == []
