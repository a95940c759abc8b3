"""The Kafka sink's settings (Flume's KafkaSink properties and ours), typed.

Its own module so that the producer (``agents.sinks.kafka_producer``), which may run in a
process of its own, and the exactly-once writer read them without importing the sink.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.committed import DEFAULT_TOPIC
from agents.config.settings import Settings, prop


@dataclass(frozen=True, kw_only=True)
class KafkaSinkSettings(Settings):
    kafka_bootstrap_servers: str = prop(
        "kafka.bootstrap.servers",
        "str",
        doc="Brokers to bootstrap from (host:port,...).",
        aliases=("brokerList",),
    )
    kafka_topic: str = prop(
        "kafka.topic", "str", "default-flume-topic", "Topic to publish to.", aliases=("topic",)
    )
    flume_batch_size: int = prop(
        "flumeBatchSize",
        "int",
        100,
        "Most events taken and produced per transaction.",
        aliases=("batchSize",),
        minimum=1,
    )
    kafka_producer_acks: str = prop(
        "kafka.producer.acks",
        "str",
        "1",
        "Acks a record needs: 0, 1 or -1/all.",
        aliases=("requiredAcks",),
    )
    use_flume_event_format: bool = prop(
        "useFlumeEventFormat",
        "bool",
        False,
        "Publish Flume's Avro event (headers + body) instead of the bare body.",
    )
    allow_topic_override: bool = prop(
        "allowTopicOverride", "bool", True, "Let the topicHeader header pick the topic."
    )
    topic_header: str = prop("topicHeader", "str", "topic", "Header naming an event's topic.")
    partition_id_header: str = prop(
        "partitionIdHeader", "str", "", "Header naming an event's partition."
    )
    default_partition_id: int = prop(
        "defaultPartitionId", "int", -1, "Partition for every event (-1: the partitioner)."
    )
    max_in_flight_batches: int = prop(
        "maxInFlightBatches",
        "int",
        32,
        "Batches produced and awaiting acknowledgement at once (ours, not Flume's); they "
        "keep their channel slots until acknowledged. With exactlyOnce: the most batches "
        "one transaction holds (it commits sooner when the channel runs dry).",
        minimum=1,
    )
    producer_process: bool = prop(
        "producerProcess",
        "bool",
        False,
        "Produce in a process of its own (ours), so reading and producing use a core each; "
        "false: in the sink's thread.",
    )
    exactly_once: bool = prop(
        "exactlyOnce",
        "bool",
        False,
        "Ours: write each batch, and the read positions it completes, in one Kafka "
        "transaction; sources feeding only such sinks resume from those positions "
        "(docs/exactly-once.md). Readers see it with isolation.level=read_committed.",
    )
    transactional_id: str = prop(
        "transactionalId",
        "str",
        "",
        "With exactlyOnce: the producer's transactional.id (default <agent>-<sink>). A "
        "second producer with the same id fences the first, which stops.",
    )
    positions_topic: str = prop(
        "positionsTopic",
        "str",
        DEFAULT_TOPIC,
        "With exactlyOnce: the compacted topic of read positions (created if missing).",
    )
    timestamp_header: str = prop(
        "timestampHeader", "str", "", "Header whose value (epoch ms) is the record's time."
    )
    header: dict[str, str] = prop(
        "header.", "prefix", doc="header.<flume header> = <kafka header>: copy it over."
    )
    serializer_class: str = prop(
        "serializer.class", "str", "", "Flume 1.6's setting; accepted and unused."
    )
    key_serializer_class: str = prop(
        "key.serializer.class", "str", "", "Flume 1.6's setting; accepted and unused."
    )
    kafka_producer: dict[str, str] = prop(
        "kafka.producer.",
        "prefix",
        doc="Any producer setting, passed to librdkafka (e.g. linger.ms, compression.type).",
    )
