"""The lab's cluster with real ZooKeeper and brokers: shape, round trips, a broker lost."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from labctl.cluster import Cluster


def _note(errors: list[str], error: KafkaError | None) -> None:
    if error is not None:
        errors.append(error.str())


def produce_all(cluster: Cluster, topic: str, values: list[bytes]) -> list[str]:
    """Produce with acks=all; the delivery errors (empty when every record was acknowledged)."""
    errors: list[str] = []
    producer = Producer({**cluster.client_config(), "acks": "all", "message.timeout.ms": 20000})
    for value in values:
        producer.produce(topic, value, on_delivery=lambda e, _m: _note(errors, e))
    assert producer.flush(30) == 0
    return errors


def read_all(cluster: Cluster, topic: str, count: int) -> list[bytes]:
    consumer = Consumer({**cluster.client_config(), "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    values: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(values) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error() and (value := message.value()):
            values.append(value)
    consumer.close()
    return values


def test_three_brokers_and_the_pilot_topic(kafka_cluster: Cluster) -> None:
    metadata = kafka_cluster.admin().list_topics(timeout=10)
    assert sorted(metadata.brokers) == [0, 1, 2]
    assert metadata.controller_id in (0, 1, 2)
    partitions = metadata.topics["SmartCar-Topic"].partitions
    assert len(partitions) == 1
    assert len(partitions[0].replicas) == 3 and sorted(partitions[0].isrs) == [0, 1, 2]
    configs = kafka_cluster.topic_configs("SmartCar-Topic")
    assert configs["min.insync.replicas"] == "2"
    assert configs["message.timestamp.type"] == "LogAppendTime"


def test_acks_all_round_trip_survives_a_killed_broker(kafka_cluster: Cluster) -> None:
    topic = "SmartCar-Topic"
    before = [f"before-{i}".encode() for i in range(100)]
    assert produce_all(kafka_cluster, topic, before) == []

    metadata = kafka_cluster.admin().list_topics(timeout=10)
    leader = metadata.topics[topic].partitions[0].leader
    victim = kafka_cluster.broker(leader)
    victim.kill()  # SIGKILL: no controlled shutdown
    assert victim.process() is None

    after = [f"after-{i}".encode() for i in range(100)]
    assert produce_all(kafka_cluster, topic, after) == []  # min.insync.replicas=2 of 3

    kafka_cluster.up()  # a second `up` brings the broker back and waits for a full ISR
    assert victim.process() is not None
    values = read_all(kafka_cluster, topic, 200)
    assert values[:100] == before and values[100:] == after
