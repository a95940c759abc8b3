"""A broker of the project image started by testcontainers (`kafka_container`): Kafka-level
tests that run on any machine with an engine, no JVM on the host. The agent (in this process)
delivers to it through the Kafka sink, and what it delivered is read back exactly."""

from __future__ import annotations

import uuid

from confluent_kafka import KafkaError, Producer

from labctl.kafka.reader import end_offsets, read_records
from tests.agents.agent_helpers import running, wait_for

SEQ_TO_KAFKA = """\
a.sources = s
a.channels = c
a.sinks = k
a.sources.s.type = seq
a.sources.s.totalEvents = {events}
a.sources.s.channels = c
a.channels.c.type = memory
a.channels.c.capacity = 10000
a.sinks.k.type = kafka
a.sinks.k.kafka.bootstrap.servers = {bootstrap}
a.sinks.k.kafka.topic = {topic}
a.sinks.k.kafka.producer.acks = all
a.sinks.k.channel = c
"""


def _note(errors: list[str], error: KafkaError | None) -> None:
    if error is not None:
        errors.append(error.str())


def test_acks_all_round_trip_through_the_container_broker(kafka_container: str) -> None:
    config = {"bootstrap.servers": kafka_container, "log_level": 0}
    topic = f"tc-{uuid.uuid4().hex[:6]}"
    producer = Producer({**config, "acks": "all"})
    failed: list[str] = []
    for i in range(100):
        producer.produce(topic, b"record-%03d" % i,
                         on_delivery=lambda err, _m: _note(failed, err))  # fmt: skip
    assert producer.flush(30) == 0 and failed == []
    got = read_records(config, topic, {0: 0}, 100)
    assert [r.value for r in got] == [b"record-%03d" % i for i in range(100)]


def test_the_agent_s_kafka_sink_delivers_every_event_to_it(kafka_container: str) -> None:
    config = {"bootstrap.servers": kafka_container, "log_level": 0}
    topic = f"tc-agent-{uuid.uuid4().hex[:6]}"
    text = SEQ_TO_KAFKA.format(events=2000, bootstrap=kafka_container, topic=topic)
    with running(text) as agent:
        sink = agent.sinks["k"]
        assert wait_for(lambda: sink.counters.get("EventDrainSuccessCount") == 2000, 60)
    assert end_offsets(config, topic) == {0: 2000}
    got = read_records(config, topic, {0: 0}, 2000)
    assert sorted(int(r.value) for r in got) == list(range(2000))  # each once, none altered
