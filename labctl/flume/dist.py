"""The pinned Apache Flume distribution and how to start one of its agents.

Used by tests and benchmarks that run the same config through Apache Flume and through our
agent. Flume writes everything it logs, logger-sink events included, to ``-Dflume.log.file``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from labctl.maven import Distribution, classpath, require_java
from labctl.versions import FLUME_VERSION

MAIN = "org.apache.flume.node.Application"


class FlumeDist(Distribution):
    name = "flume"
    package = "labctl.flume"
    main_jar = "flume-ng-node-{version}.jar"
    title = "Apache Flume"

    def argv(
        self, conf: Path, name: str, log_file: Path, heap: str = "256m", *extra_jvm: str
    ) -> list[str]:
        """The command that runs agent *name* of *conf*, logging to *log_file*."""
        log4j = resources.files("labctl.flume").joinpath("log4j2.xml")
        return [
            require_java(), f"-Xmx{heap}", f"-Dlog4j.configurationFile={log4j}",
            f"-Dflume.log.dir={log_file.parent.resolve()}", f"-Dflume.log.file={log_file.name}",
            *extra_jvm, "-cp", classpath(self.libs), MAIN, "-f", str(conf), "-n", name,
        ]  # fmt: skip


def ensure_flume(cache: Path | None = None, version: str = FLUME_VERSION) -> FlumeDist:
    """The cached distribution, downloading it with Maven first if it is not complete."""
    return FlumeDist.ensure(version, cache)
