"""The Kafka sink against real brokers: the book's ex3.4 topology, and a broker that goes away."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from agents.avro import encode_event
from agents.sources.base import Source
from agents.sources.exec import ExecSource
from labctl.cluster import Cluster
from tests.agents.agent_helpers import agent_from_text, of_type, wait_for
from tests.conftest import shared

STALL_AFTER = 3.0  # s without progress before the agent says so


def has_open(exec_source: Source, path: Path) -> bool:
    """Has the exec source's command *path* open (observed in /proc)?"""
    proc = of_type(exec_source, ExecSource)._proc
    if proc is None:
        return False
    try:
        fds = list(Path(f"/proc/{proc.pid}/fd").iterdir())
    except FileNotFoundError:
        return False
    return any(os.path.realpath(fd) == str(path) for fd in fds if fd.is_symlink())


def read_topic(cluster: Cluster, topic: str, count: int, timeout: float = 30) -> list[bytes]:
    consumer = Consumer({**cluster.client_config(), "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(values) < count and time.monotonic() < deadline:
        for m in consumer.consume(1000, 0.5):
            if not m.error() and (value := m.value()) is not None:
                values.append(value)
    consumer.close()
    return values


def book_conf(tmp_path: Path, bootstrap: str, topic: str) -> tuple[str, Path, Path]:
    spool = tmp_path / "car-batch-log"
    rt = tmp_path / "driver-realtime-log"
    spool.mkdir()
    rt.mkdir()
    text = shared("pilot", "book-conf", "ex3.4-SmartCar_Agent.conf").read_text()
    text = text.replace("/home/pilot-pjt/working", str(tmp_path))
    text = text.replace("server02.hadoop.com:9092", bootstrap)
    text = text.replace("topic = SmartCar-Topic", f"topic = {topic}")
    return text, spool, rt / "SmartCarDriverInfo.log"


def test_book_ex34_driving_log_reaches_kafka_byte_for_byte(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    kafka_cluster.create_topic(topic, partitions=1)
    text, _spool, log = book_conf(tmp_path, kafka_cluster.spec.bootstrap, topic)
    log.write_bytes(b"")
    agent = agent_from_text(text, "SmartCar_Agent")
    agent.start()
    records = [b"2016010100%04d,K0001,1,0,F,N,%d,A01" % (i, i % 250) for i in range(3000)]
    try:
        tail = agent.sources["DriverCarInfo_TailSource"]
        assert wait_for(lambda: has_open(tail, log))  # tail -F follows the log
        with open(log, "ab") as fh:
            for i in range(0, len(records), 100):
                fh.write(b"Driver Status Infomation,CarNum\n\xff\xfe garbage\n")
                fh.write(b"".join(r + b"\n" for r in records[i : i + 100]))
                fh.flush()
        got = read_topic(kafka_cluster, topic, len(records))
    finally:
        agent.stop()
    assert got == records  # headers and garbage filtered, order kept, bytes unchanged


def test_broker_down_then_back_loses_nothing(
    lab_factory: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = lab_factory(brokers=1)
    logdir, log = tmp_path / "logs", tmp_path / "logs" / "d.log"
    logdir.mkdir()
    conf = (
        "a.sources = t\na.channels = c\na.sinks = k\n"
        "a.sources.t.type = TAILDIR\na.sources.t.filegroups = g\n"
        f"a.sources.t.filegroups.g = {log}\n"
        f"a.sources.t.positionFile = {tmp_path}/pos.json\na.sources.t.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 2000\n"
        "a.channels.c.transactionCapacity = 100\n"
        f"a.sinks.k.type = kafka\na.sinks.k.kafka.bootstrap.servers = {cluster.spec.bootstrap}\n"
        "a.sinks.k.kafka.topic = SmartCar-Topic\na.sinks.k.flumeBatchSize = 100\n"
        "a.sinks.k.kafka.producer.acks = all\na.sinks.k.channel = c\n"
        # 4 x 100 in flight, so most of the 2,000 slots hold events waiting in the channel
        "a.sinks.k.maxInFlightBatches = 4\n"
    )
    agent = agent_from_text(conf, stall_after=STALL_AFTER)
    agent.start()
    written: list[bytes] = []

    def write(n: int) -> None:
        with open(log, "ab") as fh:
            for _ in range(n):
                line = b"%014d,K0001" % len(written)
                written.append(line)
                fh.write(line + b"\n")

    try:
        write(500)
        assert wait_for(lambda: agent.sinks["k"].counters.get("EventDrainSuccessCount") == 500)
        broker = cluster.broker(0)
        broker.kill()
        write(5000)  # more than the channel holds: the source must wait, not drop
        source, sink = agent.sources["t"], agent.sinks["k"]
        assert wait_for(lambda: source.counters.get("ChannelWriteFail") > 0), "no backpressure"
        assert agent.channels["c"].size() > 0, "events should be waiting in the channel"
        # the broker stays away until the agent says so (issue 10 item 9): health, not "running"
        assert wait_for(lambda: agent.health(sink).startswith("stalled: nothing delivered"))
        assert wait_for(lambda: agent.health(source).startswith("blocked: channel c is full"))
        cluster.up()  # brings the broker back
        got = read_topic(cluster, "SmartCar-Topic", len(written), timeout=60)
        assert wait_for(lambda: agent.health(sink) == "running"), agent.health(sink)
    finally:
        agent.stop()
    assert set(got) == set(written), f"missing {len(set(written) - set(got))}"
    # at most what was in flight when the broker died can be sent twice: 4 batches of 100
    assert len(got) - len(set(got)) <= 4 * 100


def test_flume_event_format_is_avro():
    encoded = encode_event(b"body", {"k": "v"})
    assert encoded == b"\x02\x02k\x02v\x00\x08body"


def poison_conf(tmp_path: Path, bootstrap: str, topic: str, extra: str = "") -> str:
    script = tmp_path / "emit.py"
    script.write_text(
        "import sys\nsys.stdout.buffer.write(b'before\\n' + b'p' * 1_200_000 + b'\\nafter\\n')\n"
    )
    return (
        "a.sources = x\na.channels = c\na.sinks = k\n"
        f"a.sources.x.type = exec\na.sources.x.command = {sys.executable} {script}\n"
        f"a.sources.x.channels = c\n{extra}a.channels.c.type = memory\n"
        f"a.sinks.k.type = kafka\na.sinks.k.kafka.bootstrap.servers = {bootstrap}\n"
        f"a.sinks.k.kafka.topic = {topic}\na.sinks.k.channel = c\n"
    )


def test_a_record_kafka_refuses_for_good_is_set_aside_and_the_flow_goes_on(
    kafka_cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 10 item 2: a 1.2 MB record (over message.max.bytes) goes to the dead-letter file
    with one log line; the records after it are delivered."""
    topic = f"p-{uuid.uuid4().hex[:8]}"
    kafka_cluster.create_topic(topic, partitions=1)
    conf = poison_conf(tmp_path, kafka_cluster.spec.bootstrap, topic,
                       "a.sources.x.maxLineLength = 2000000\n")  # fmt: skip
    agent = agent_from_text(conf, state_dir=tmp_path / "state")
    agent.start()
    try:
        got = read_topic(kafka_cluster, topic, 2, timeout=30)
        sink = agent.sinks["k"]
        assert wait_for(lambda: sink.counters.get("DeadLetterCount") == 1)
    finally:
        agent.stop()
    assert got == [b"before", b"after"]
    letters = (tmp_path / "state" / "dead-letter" / "k.jsonl").read_text().splitlines()
    assert len(letters) == 1
    letter = json.loads(letters[0])
    assert letter["topic"] == topic and "MSG_SIZE_TOO_LARGE" in letter["error"]
    assert letter["body"] == "p" * 1_200_000
    said = [r for r in caplog.records if "dead-letter" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]


def test_default_line_caps_stay_below_what_kafka_accepts(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    """Issue 10 item 2: with exec's default cap the 1.2 MB line is split into pieces Kafka
    takes; nothing is dead-lettered and nothing stalls."""
    topic = f"p-{uuid.uuid4().hex[:8]}"
    kafka_cluster.create_topic(topic, partitions=1)
    agent = agent_from_text(poison_conf(tmp_path, kafka_cluster.spec.bootstrap, topic),
                            state_dir=tmp_path / "state")  # fmt: skip
    agent.start()
    try:
        got = read_topic(kafka_cluster, topic, 9, timeout=30)
    finally:
        agent.stop()
    assert got[0] == b"before" and got[-1] == b"after"
    assert b"".join(got[1:-1]) == b"p" * 1_200_000
    assert agent.sinks["k"].counters.get("DeadLetterCount") == 0


def test_a_record_the_broker_refuses_later_is_set_aside_and_its_batch_settles(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    """A refusal that comes back in a delivery report (the topic's max.message.bytes is below
    the producer's limit, so only the broker can say no) reaches the batch through its report
    callback; the batch still settles, the next records are delivered."""
    topic = f"r-{uuid.uuid4().hex[:8]}"
    new = NewTopic(topic, 1, 3, config={"max.message.bytes": "2000"})
    admin = kafka_cluster.admin()
    admin.create_topics([new])[topic].result(timeout=30)
    log = tmp_path / "in.log"
    log.write_bytes(b"")
    conf = (
        "a.sources = t\na.channels = c\na.sinks = k\n"
        "a.sources.t.type = TAILDIR\na.sources.t.filegroups = g\n"
        f"a.sources.t.filegroups.g = {log}\n"
        f"a.sources.t.positionFile = {tmp_path}/pos.json\na.sources.t.channels = c\n"
        "a.channels.c.type = memory\n"
        "a.sinks.k.type = kafka\n"
        f"a.sinks.k.kafka.bootstrap.servers = {kafka_cluster.spec.bootstrap}\n"
        f"a.sinks.k.kafka.topic = {topic}\na.sinks.k.channel = c\n"
    )
    agent = agent_from_text(conf, state_dir=tmp_path / "state")
    agent.start()
    sink = agent.sinks["k"]
    try:
        with open(log, "ab") as fh:
            fh.write(b"b" * 5000 + b"\n")
        assert wait_for(lambda: sink.counters.get("DeadLetterCount") == 1)
        # its batch was committed: the channel gave the take up for good
        assert wait_for(lambda: agent.channels["c"].counters.get("EventTakeSuccessCount") == 1)
        with open(log, "ab") as fh:
            fh.write(b"after\n")
        got = read_topic(kafka_cluster, topic, 1)
    finally:
        agent.stop()
    assert got == [b"after"]
    letter = json.loads((tmp_path / "state" / "dead-letter" / "k.jsonl").read_text())
    assert letter["body"] == "b" * 5000 and "TOO_LARGE" in letter["error"]
