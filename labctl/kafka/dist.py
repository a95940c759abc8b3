"""Resolve the pinned Apache Kafka distribution from Maven Central into the cache.

``labctl/kafka/pom.xml`` names what a broker and a ZooKeeper server need (``kafka_2.13`` pulls
ZooKeeper, the clients and Scala; ``slf4j-reload4j`` makes them log). Maven copies the runtime
jars into ``<cache>/kafka-<version>/libs``; a marker file makes a second call a no-op.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from labctl.errors import PrerequisiteError
from labctl.paths import cache_dir

KAFKA_VERSION = "3.9.1"  # the last line that runs with ZooKeeper, as the book's cluster does
_MARKER = ".complete"


@dataclass(frozen=True)
class KafkaDist:
    version: str
    root: Path

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def classpath(self) -> str:
        return ":".join(str(jar) for jar in sorted(self.libs.glob("*.jar")))


def require_java() -> str:
    """The `java` executable, or a PrerequisiteError that says how to get one."""
    java = shutil.which("java")
    if java is None:
        raise PrerequisiteError(
            "java was not found on PATH: install a JDK 17 or newer "
            "(e.g. `apt install openjdk-17-jre-headless`) and try again."
        )
    return java


def ensure_kafka(cache: Path | None = None, version: str = KAFKA_VERSION) -> KafkaDist:
    """The cached distribution, downloading it with Maven first if it is not complete."""
    root = (cache or cache_dir()) / f"kafka-{version}"
    dist = KafkaDist(version, root)
    if (root / _MARKER).exists():
        return dist
    require_java()
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PrerequisiteError(
            "mvn was not found on PATH: install Apache Maven (e.g. `apt install maven`); "
            "the lab uses it once to fetch Apache Kafka from Maven Central."
        )
    pom = resources.files("labctl.kafka").joinpath("pom.xml")
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with resources.as_file(pom) as pom_path:
        command = [
            mvn, "-q", "-B", "-f", str(pom_path), "dependency:copy-dependencies",
            f"-Dkafka.version={version}", "-DincludeScope=runtime",
            f"-DoutputDirectory={staging / 'libs'}",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not any((staging / "libs").glob("kafka_2.13-*.jar")):
        detail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise PrerequisiteError(
            f"Maven could not fetch Apache Kafka {version} from Maven Central "
            f"({detail[0].strip()}); check the network or proxy settings and retry."
        )
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    (root / _MARKER).write_text(version + "\n")
    return dist
