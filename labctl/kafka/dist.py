"""The pinned Apache Kafka distribution, resolved from Maven Central into the cache.

``labctl/kafka/pom.xml`` names what a broker and a ZooKeeper server need (``kafka_2.13`` pulls
ZooKeeper, the clients and Scala; ``slf4j-reload4j`` makes them log).
"""

from __future__ import annotations

from pathlib import Path

from labctl.maven import Distribution, require_java
from labctl.versions import KAFKA_VERSION

__all__ = ["KAFKA_VERSION", "KafkaDist", "ensure_kafka", "require_java"]


class KafkaDist(Distribution):
    name = "kafka"
    package = "labctl.kafka"
    main_jar = "kafka_2.13-{version}.jar"
    title = "Apache Kafka"


def ensure_kafka(cache: Path | None = None, version: str = KAFKA_VERSION) -> KafkaDist:
    """The cached distribution, downloading it with Maven first if it is not complete."""
    return KafkaDist.ensure(version, cache)
