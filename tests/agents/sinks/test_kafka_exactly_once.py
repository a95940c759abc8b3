"""The Kafka sink's exactly-once mode against real brokers: agents SIGKILLed at random points and
between produce and commit, a zombie fenced, the transaction coordinator killed, a fatal error.

Every check reads the topic with read_committed and wants each line exactly once; the kills
between produce and commit also read it with read_uncommitted, which must see the aborted
records (proof that the kill hit the window)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from agents.event import EventBatch
from agents.sinks.kafka import KafkaSink
from labctl.cluster import Cluster
from tests.agents.agent_helpers import agent_from_text, of_type, wait_for
from tests.agents.eos_helpers import (
    KilledAgent,
    consumed,
    eos_sink,
    once_each,
    read_all,
    spool_eos_conf,
    unique,
    write_spool_files,
)

KILLS = 8


def test_spooldir_sigkilled_at_random_points_writes_every_line_once(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    bootstrap = kafka_cluster.spec.bootstrap
    topic, tid, positions = unique("eos"), unique("tid"), unique("positions")
    spool = tmp_path / "spool"
    spool.mkdir()
    records = write_spool_files(spool, files=6, lines=10_000)
    agent = KilledAgent(spool_eos_conf(spool, eos_sink(bootstrap, topic, tid, positions)),
                        tmp_path)  # fmt: skip
    seed = random.randrange(1 << 30)
    agent.kill_at_random(random.Random(seed), KILLS, 1.5)
    agent.start()
    try:
        assert wait_for(lambda: consumed(spool), timeout=120), agent.tail()
    finally:
        assert agent.stop() == 0, agent.tail()
    problem = once_each(read_all(bootstrap, topic), records)
    assert not problem, f"seed {seed}: {problem}\n{agent.tail()}"
    assert agent.kills == KILLS


def test_kills_between_produce_and_commit_leave_records_only_uncommitted_readers_see(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    """The sink held (the test hook) with a transaction produced and not committed, SIGKILLed
    there three times: read_committed never sees those records, read_uncommitted does."""
    bootstrap = kafka_cluster.spec.bootstrap
    topic, tid, positions = unique("eos"), unique("tid"), unique("positions")
    spool = tmp_path / "spool"
    spool.mkdir()
    records = write_spool_files(spool, files=3, lines=3000)
    hold = tmp_path / "hold"
    agent = KilledAgent(spool_eos_conf(spool, eos_sink(bootstrap, topic, tid, positions)),
                        tmp_path, hold=hold)  # fmt: skip
    aborted = 0
    for _ in range(3):
        hold.touch()
        agent.start()
        assert agent.wait_held(), agent.tail()
        seen = len(read_all(bootstrap, topic, "read_uncommitted"))
        committed = len(read_all(bootstrap, topic))
        assert seen > committed + aborted, "the held transaction's records are in the topic"
        aborted = seen - committed  # the records of every transaction held and killed so far
        agent.kill()
        hold.unlink()
        Path(f"{hold}.held").unlink()
    agent.start()
    try:
        assert wait_for(lambda: consumed(spool), timeout=120), agent.tail()
    finally:
        assert agent.stop() == 0, agent.tail()
    problem = once_each(read_all(bootstrap, topic), records)
    assert not problem, f"{problem}\n{agent.tail()}"
    everything = read_all(bootstrap, topic, "read_uncommitted")
    assert len(everything) == len(records) + aborted, "the aborted records are in the log"


def test_a_second_agent_with_the_transactional_id_fences_the_first(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    """Agent 1 holds a transaction open; agent 2 starts with the same transactional.id (an
    operator started it twice): 1 is fenced, says so in one line, exits 3, and its held batch is
    never committed; run again alone it finishes, every line once."""
    bootstrap = kafka_cluster.spec.bootstrap
    topic, tid, positions = unique("eos"), unique("tid"), unique("positions")
    sink = eos_sink(bootstrap, topic, tid, positions)
    spool, other = tmp_path / "spool", tmp_path / "other"
    spool.mkdir()
    other.mkdir()
    records = write_spool_files(spool, files=2, lines=3000)
    hold = tmp_path / "hold"
    hold.touch()
    first = KilledAgent(spool_eos_conf(spool, sink), tmp_path, hold=hold)
    first.start()
    assert first.wait_held(), first.tail()
    (tmp_path / "second").mkdir()
    second = KilledAgent(spool_eos_conf(other, sink), tmp_path / "second")
    second.start()
    try:
        assert wait_for(lambda: second.log_count("fenced its predecessors") == 1), second.tail()
        hold.unlink()
        assert first.proc is not None
        assert first.proc.wait(60) == 3, first.tail()
    finally:
        second.stop()
    said = [line for line in first.log.read_text().splitlines() if "fenced:" in line]
    assert len(said) == 1 and "another producer with transactional.id" in said[0], said
    assert read_all(bootstrap, topic) == [], "the fenced agent's batch must not be committed"
    first.hold = None
    first.start()
    try:
        assert wait_for(lambda: consumed(spool), timeout=120), first.tail()
    finally:
        assert first.stop() == 0, first.tail()
    problem = once_each(read_all(bootstrap, topic), records)
    assert not problem, f"{problem}\n{first.tail()}"


def test_a_fatal_kafka_error_stops_the_sink_and_its_health_says_so(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    """A transaction timeout above the broker's maximum is fatal for a transactional producer:
    the sink stops for good (no restart loop), its health says why, its source waits."""
    bootstrap = kafka_cluster.spec.bootstrap
    spool = tmp_path / "spool"
    spool.mkdir()
    too_long = "a.sinks.k.kafka.producer.transaction.timeout.ms = 1000000\n"
    sink = eos_sink(bootstrap, unique("eos"), unique("tid"), unique("positions"), extra=too_long)
    agent = agent_from_text(spool_eos_conf(spool, sink), state_dir=tmp_path / "state")
    agent.start()
    try:
        k, s = agent.sinks["k"], agent.sources["s"]
        assert wait_for(lambda: agent.health(k).startswith("failed: "), timeout=60)
        assert "fatal Kafka error" in agent.health(k) and "max.transaction.timeout.ms" in (
            agent.health(k))  # fmt: skip
        assert wait_for(lambda: "exactly-once sink failed" in agent.health(s)), agent.health(s)
        assert k.counters.get("RestartCount") == 0
        assert agent.fatal is None, "a fatal error stops the sink, not the agent"
    finally:
        agent.stop()


def coordinator(cluster: Cluster, tid: str) -> int:
    """The broker that coordinates *tid*'s transactions: the leader of its partition of
    __transaction_state (Kafka's choice: abs(tid.hashCode()) % partitions)."""
    h = 0
    for ch in tid:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    h = h - (1 << 32) if h >= 1 << 31 else h
    meta = cluster.admin().list_topics("__transaction_state", timeout=10)
    parts = meta.topics["__transaction_state"].partitions
    leader: int = parts[(0 if h == -(1 << 31) else abs(h)) % len(parts)].leader
    return leader


def test_the_transaction_coordinator_sigkilled_mid_transaction(
    lab_factory: Callable[..., Cluster], tmp_path: Path
) -> None:
    """The broker coordinating the sink's transactions is SIGKILLed while a transaction is
    open: the commit is retried (or the transaction aborted and written again) with the new
    coordinator; nothing is lost or written twice, and the agent never stops."""
    cluster = lab_factory(brokers=3)
    bootstrap = cluster.spec.bootstrap
    topic, tid, positions = unique("eos"), unique("tid"), unique("positions")
    cluster.create_topic(topic, partitions=1, replication_factor=3)
    spool = tmp_path / "spool"
    spool.mkdir()
    records = write_spool_files(spool, files=3, lines=3000)
    hold = tmp_path / "hold"
    hold.touch()
    agent = KilledAgent(spool_eos_conf(spool, eos_sink(bootstrap, topic, tid, positions)),
                        tmp_path, hold=hold)  # fmt: skip
    agent.start()
    try:
        assert agent.wait_held(), agent.tail()
        broker = coordinator(cluster, tid)
        cluster.broker(broker).kill()
        hold.unlink()
        assert wait_for(lambda: consumed(spool), timeout=180), agent.tail()
    finally:
        assert agent.stop() == 0, agent.tail()
    problem = once_each(read_all(bootstrap, topic), records)
    assert not problem, f"{problem}\n{agent.tail()}"
    assert "fenced:" not in agent.log.read_text()


def test_a_file_channel_replay_after_sigkill_is_not_written_twice(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    """With a file channel, events survive a SIGKILL in the channel while the source reads
    them again from Kafka's positions: the sink drops the second copy."""
    bootstrap = kafka_cluster.spec.bootstrap
    topic, tid, positions = unique("eos"), unique("tid"), unique("positions")
    spool = tmp_path / "spool"
    spool.mkdir()
    records = write_spool_files(spool, files=4, lines=5000)
    conf = spool_eos_conf(spool, eos_sink(bootstrap, topic, tid, positions), channel="file")
    agent = KilledAgent(conf, tmp_path)
    seed = random.randrange(1 << 30)
    agent.kill_at_random(random.Random(seed), 4, 1.5)
    agent.start()
    try:
        read_all(bootstrap, topic, timeout=120, at_least=len(records))
    finally:
        assert agent.stop() == 0, agent.tail()
    problem = once_each(read_all(bootstrap, topic), records)
    assert not problem, f"seed {seed}: {problem}\n{agent.tail()}"


def test_a_record_refused_for_good_aborts_and_is_set_aside_the_rest_once(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    """The topic takes record batches of at most 2,000 bytes, the producer sends a record a
    batch, and two lines are larger. The broker refuses them inside the transaction, which
    becomes abortable: it is aborted and written again without them (they go to the
    dead-letter file), and every other line is there once."""
    bootstrap = kafka_cluster.spec.bootstrap
    topic = unique("eos")
    admin = kafka_cluster.admin()
    admin.create_topics([NewTopic(topic, 1, 3, config={"max.message.bytes": "2000"})])[
        topic
    ].result(30)
    spool = tmp_path / "spool"
    spool.mkdir()
    rows = [b"%05d,line" % i for i in range(150)]
    big = [b"big-1," + b"x" * 1990, b"big-2," + b"y" * 1990]  # one event each (< 2048)
    rows[50:50] = [big[0]]
    rows[120:120] = [big[1]]
    (spool / ".f.log").write_bytes(b"\n".join(rows) + b"\n")
    (spool / ".f.log").rename(spool / "f.log")
    sink = eos_sink(bootstrap, topic, unique("tid"), unique("positions"),
                    extra="a.sinks.k.kafka.producer.batch.num.messages = 1\n")  # fmt: skip
    agent = agent_from_text(spool_eos_conf(spool, sink), state_dir=tmp_path / "state")
    agent.start()
    try:
        assert wait_for(lambda: consumed(spool), timeout=120)
        k = agent.sinks["k"]
        assert k.counters.get("TransactionAbortCount") >= 1
        assert k.counters.get("DeadLetterCount") == 2
    finally:
        agent.stop()
    want = [r for r in rows if not r.startswith(b"big")]
    problem = once_each(read_all(bootstrap, topic), want)
    assert not problem, problem
    letters = (tmp_path / "state" / "dead-letter" / "k.jsonl").read_text()
    assert "big-1" in letters and "big-2" in letters


def test_the_sink_drops_what_a_stream_wrote_before_and_keeps_the_rest() -> None:
    """The sink's filter (pure logic): events at or below their stream's committed position
    are dropped; the positions it would commit are each stream's last event kept."""
    text = spool_eos_conf(Path("/nonexistent"), eos_sink("127.0.0.1:9", "t", "tid", "p"))
    writer = of_type(agent_from_text(text).sinks["k"], KafkaSink).writer
    assert writer is not None
    writer.committed.load({"a/s/f": 10, "a/s/g": 5})
    one = EventBatch([b"a", b"b", b"c"], {}, None, [("a/s/f", 0), ("a/s/f", 10), ("a/s/f", 20)])
    kept, positions = writer._new_only(one, {})
    assert kept.bodies == [b"c"] and positions == {"a/s/f": 20}
    kept, positions = writer._new_only(one, {"a/s/f": 20})  # this transaction's so far
    assert kept.bodies == [] and positions == {}
    mixed = EventBatch(
        [b"f1", b"g1", b"x", b"g2", b"h"],
        {},
        None,
        [("a/s/f", 12), ("a/s/g", 5), ("", -1), ("a/s/g", 6), ("a/s/h", 0)],
    )
    kept, positions = writer._new_only(mixed, {})  # fmt: skip
    assert kept.bodies == [b"f1", b"x", b"g2", b"h"]
    assert positions == {"a/s/f": 12, "a/s/g": 6, "a/s/h": 0}
    # a file channel's replay of a stream followed by its re-read from the start: the
    # position never goes back, the second copy is dropped
    twice = EventBatch([b"f30", b"f40", b"f0", b"f30", b"f50"], {}, None,
                       [("a/s/f", 30), ("a/s/f", 40), ("a/s/f", 0), ("a/s/f", 30),
                        ("a/s/f", 50)])  # fmt: skip
    kept, positions = writer._new_only(twice, {})
    assert kept.bodies == [b"f30", b"f40", b"f50"] and positions == {"a/s/f": 50}
    unmarked = EventBatch([b"u"])
    assert writer._new_only(unmarked, {}) == (unmarked, {})


def resolved(bootstrap: str, topic: str) -> bool:
    """No transaction is open on *topic*: its last stable offset is its end (the coordinator
    wrote the abort marker of the one that timed out)."""
    ends = []
    for isolation in ("read_committed", "read_uncommitted"):
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("g"),
                      "isolation.level": isolation})  # fmt: skip
        try:
            ends.append(c.get_watermark_offsets(TopicPartition(topic, 0), 10, cached=False)[1])
        finally:
            c.close()
    return ends[0] == ends[1] > 0


def test_a_transaction_that_times_out_is_aborted_and_written_again(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    """The sink held past transaction.timeout.ms (3 s): the coordinator aborts the transaction;
    the sink's commit fails, it aborts, writes the batch again and goes on (not fenced)."""
    bootstrap = kafka_cluster.spec.bootstrap
    topic = unique("eos")
    spool = tmp_path / "spool"
    spool.mkdir()
    records = write_spool_files(spool, files=1, lines=2000)
    hold = tmp_path / "hold"
    hold.touch()
    timeout = "a.sinks.k.kafka.producer.transaction.timeout.ms = 3000\n"
    sink = eos_sink(bootstrap, topic, unique("tid"), unique("positions"), extra=timeout)
    agent = KilledAgent(spool_eos_conf(spool, sink), tmp_path, hold=hold)
    agent.start()
    try:
        assert agent.wait_held(), agent.tail()
        held = len(read_all(bootstrap, topic, "read_uncommitted"))
        assert wait_for(lambda: resolved(bootstrap, topic), 60), "Kafka did not abort it"
        hold.unlink()
        assert wait_for(lambda: consumed(spool), timeout=120), agent.tail()
    finally:
        assert agent.stop() == 0, agent.tail()
    problem = once_each(read_all(bootstrap, topic), records)
    assert not problem, f"{problem}\n{agent.tail()}"
    assert held > 0 and "transaction aborted" in agent.log.read_text(), agent.tail()
    assert "fenced:" not in agent.log.read_text()
