"""Apache Flume 1.11.0 (from Maven Central, like Kafka) on the very same config file."""

from __future__ import annotations

from bench.flumeconf import AGENT
from bench.meter import Measurement
from bench.systems.base import Job, System, log_says, run_daemon, spool_flow
from labctl.errors import LabError
from labctl.flume import FLUME_VERSION, FlumeDist, ensure_flume

HEAP = "512m"  # flume-ng's own default is 20m; the memory channel holds 100,000 events
STARTED = "Component type: SOURCE, name: s1 started"


class Flume(System):
    key = "flume"
    label = f"Apache Flume {FLUME_VERSION} (same config)"

    def __init__(self, channel: str = "memory") -> None:
        self._dist: FlumeDist | None = None
        self.channel = channel  # "memory" or "file" (Flume's own file channel)
        if channel == "file":
            self.key = "flume-file"
            self.label = f"Apache Flume {FLUME_VERSION}, its file channel (same config)"

    def problem(self) -> str | None:
        try:
            self._dist = ensure_flume()
        except LabError as exc:
            return str(exc)
        return None

    def measure(self, job: Job) -> Measurement:
        assert self._dist is not None, "problem() first"
        conf = job.work / "flume.conf"
        spool = spool_flow(job, conf, self.channel)
        log = job.work / "flume.log"
        argv = self._dist.argv(conf, AGENT, log, HEAP)
        return run_daemon(job, argv, job.work / "flume.out", spool, log_says(log, STARTED))
