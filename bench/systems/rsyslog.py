"""rsyslog imfile -> omkafka (Debian's ``rsyslog`` + ``rsyslog-kafka``): a private instance.

Its own config, work directory and pid file under the job's folder; it never reads the
system's /etc/rsyslog.conf, listens on no socket and is not the system service. The filter is
the same regex (``re_match`` on the line, POSIX ERE); the record is sent as the line alone
(``%msg%``), with the same librdkafka settings our agent uses (acks=1, linger.ms=5).
Tuned as one would: no per-line file-name metadata (``addMetadata``, on by default with a
wildcard, costs a JSON object per message: about 3x the CPU here; our agent adds no header
either), and a ruleset queue of 20,000 (larger ones only hold more memory). Its internal
messages go to a file of their own: "start" there means it is up.
"""

from __future__ import annotations

from pathlib import Path

from bench.meter import Measurement
from bench.systems.base import Job, System, log_says, run_daemon

RSYSLOGD = "/usr/sbin/rsyslogd"
MODULE_DIRS = (
    "/usr/lib/x86_64-linux-gnu/rsyslog",
    "/usr/lib/aarch64-linux-gnu/rsyslog",
    "/usr/lib/rsyslog",
)
STARTED = "] start"  # rsyslogd's own "[origin software="rsyslogd" ...] start" message


def _omkafka() -> Path | None:
    for d in MODULE_DIRS:
        if (Path(d) / "omkafka.so").exists():
            return Path(d) / "omkafka.so"
    return None


def config(files: str, work: Path, bootstrap: str, topic: str, linger_ms: float = 5) -> str:
    """rsyslog reading the files matching *files* (imfile, inotify) into *topic*."""
    brokers = ", ".join(f'"{b}"' for b in bootstrap.split(","))
    return f"""\
global(workDirectory="{work}" maxMessageSize="64k" processInternalMessages="on")
module(load="imfile" mode="inotify")
module(load="omkafka")
template(name="line" type="string" string="%msg%")
main_queue(queue.type="Direct")
if $programname == "rsyslogd" then {{
  action(type="omfile" file="{work}/rsyslogd.log")
  stop
}}
ruleset(name="tokafka" queue.type="LinkedList" queue.size="20000"
        queue.dequeueBatchSize="1024") {{
  if re_match($msg, "^[0-9]{{14}}") then {{
    action(type="omkafka" broker=[{brokers}] topic="{topic}" template="line"
           partitions.auto="on"
           confParam=["linger.ms={linger_ms:g}", "queue.buffering.max.messages=1000000"]
           topicConfParam=["request.required.acks=1"])
  }}
}}
input(type="imfile" file="{files}" tag="day" ruleset="tokafka" freshStartTail="off"
      addMetadata="off")
"""


class Rsyslog(System):
    key = "rsyslog"
    label = "rsyslog imfile -> omkafka"

    def problem(self) -> str | None:
        if not Path(RSYSLOGD).exists():
            return f"{RSYSLOGD} is not installed (make bench-peers: Debian's rsyslog)"
        if _omkafka() is None:
            return "omkafka is not installed (make bench-peers: Debian's rsyslog-kafka)"
        return None

    def measure(self, job: Job) -> Measurement:
        watch, work = job.work / "in", job.work / "rsyslog"
        watch.mkdir()
        work.mkdir()
        conf = job.work / "rsyslog.conf"
        conf.write_text(config(f"{watch}/*.txt", work, job.bootstrap, job.topic))
        argv = [RSYSLOGD, "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")]
        ready = log_says(work / "rsyslogd.log", STARTED)
        return run_daemon(job, argv, job.work / "rsyslog.out", watch, ready)
