"""The pinned Apache Kafka distribution, resolved from Maven Central into the cache.

``labctl/kafka/pom.xml`` names what a broker and a ZooKeeper server need (``kafka_2.13`` pulls
ZooKeeper, the clients and Scala; ``slf4j-reload4j`` makes them log).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labctl.maven import classpath, require_java, resolve_jars
from labctl.paths import cache_dir

KAFKA_VERSION = "3.9.1"  # the last line that runs with ZooKeeper, as the book's cluster does

__all__ = ["KAFKA_VERSION", "KafkaDist", "ensure_kafka", "require_java"]


@dataclass(frozen=True)
class KafkaDist:
    version: str
    root: Path

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def classpath(self) -> str:
        return classpath(self.libs)


def ensure_kafka(cache: Path | None = None, version: str = KAFKA_VERSION) -> KafkaDist:
    """The cached distribution, downloading it with Maven first if it is not complete."""
    root = (cache or cache_dir()) / f"kafka-{version}"
    resolve_jars("labctl.kafka", root, {"kafka.version": version}, "kafka_2.13-*.jar",
                 f"Apache Kafka {version}")  # fmt: skip
    return KafkaDist(version, root)
