"""The real-time path: TAILDIR and ``exec tail -F`` -> kafka at 1,000 lines/s for 10 s.

Latency is from a line written (the writer's clock, just before ``write``) to the record
appended (the topic's LogAppendTime, the broker's clock: same machine); p50, p99, p99.9 and
the worst line. The agent's CPU is measured idle (3 s, nothing to read) and busy (while lines
arrive), in % of one core. Targets (issues 12 and 22): p99 <= 10 ms, idle <= 0.5 %, busy <=
1.5 %. rsyslog (imfile -> omkafka, configured as in ``peers``: librdkafka's 5 ms linger)
follows the same kind of file in the same lab right after, when it is installed: the control.
What it shows of a tail is the lab's and the machine's (broker, scheduler, disk), not the
agent's; the load average is printed too. ``python -m bench trace`` takes the agent's run
apart hop by hop.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import confluent_kafka as ck

from bench.flumeconf import follow_to_kafka
from bench.lab import Topics, bench_lab
from bench.meter import cpu_seconds, python_and_librdkafka, thread_cpu, thread_cpu_delta
from bench.options import Options
from bench.report import verdict
from bench.systems.agent import STARTED, agent_command
from bench.systems.base import daemon, log_says
from bench.systems.rsyslog import RSYSLOGD, Rsyslog
from bench.systems.rsyslog import STARTED as RSYSLOG_STARTED
from bench.systems.rsyslog import config as rsyslog_config
from labctl.cluster import Cluster
from labctl.pilot.latency import percentiles

RATE = 1000
SECONDS = 10
IDLE_SECONDS = 3
TARGET_P99_MS = 10
TARGET_IDLE_PCT = 0.5
TARGET_BUSY_PCT = 1.5
KINDS = ("taildir", "exec")  # our agent's flows; rsyslog runs beside them as the control


def write_lines(log: Path, total: int, rate: int = RATE) -> dict[int, float]:
    """One line per 1/*rate* s, each stamped with the time it was written."""
    written: dict[int, float] = {}
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    began = time.time()
    try:
        for i in range(total):
            delay = began + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            line = b"20160101%06d,K%04d,1,0,F,N,60,A01,%d\n" % (i % 1_000_000, i % 100, i)
            written[i] = time.time()
            os.write(fd, line)
    finally:
        os.close(fd)
    return written


def appended_ms(cluster: Cluster, topic: str, lines: int) -> dict[int, float]:
    """Each line's record in *topic*: line number -> the broker's append time (epoch ms)."""
    consumer = ck.Consumer({**cluster.client_config(), "group.id": uuid.uuid4().hex})
    consumer.assign([ck.TopicPartition(topic, 0, 0)])
    appended: dict[int, float] = {}
    deadline = time.monotonic() + 30
    try:
        while len(appended) < lines and time.monotonic() < deadline:
            for m in consumer.consume(5000, 0.5):
                value = m.value()
                if m.error() or value is None:
                    continue
                appended[int(value.rsplit(b",", 1)[1])] = m.timestamp()[1]
    finally:
        consumer.close()
    return appended


def warm_broker(topics: Topics, records: int = 50_000) -> None:
    """Produce to the fresh lab once, unmeasured: the first flow measured would otherwise pay
    for the broker's JIT warming up (its first lines took 50-150 ms here)."""
    topic = topics.create("rt-warm")
    producer = ck.Producer({**topics.cluster.client_config(), "linger.ms": 5})
    for i in range(records):
        producer.produce(topic, b"20160101%06d,K0001,1,0,F,N,60,A01,%d" % (i % 1_000_000, i))
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(30)
    for i in range(200):  # then a trickle, as the flows measured send
        producer.produce(topic, b"%d" % i)
        producer.flush(5)
    topics.delete(topic)


@dataclass(frozen=True)
class Followed:
    """One flow followed at RATE lines/s: when each line was written and appended."""

    kind: str
    written: dict[int, float]  # line -> the writer's clock just before write() (epoch s)
    appended: dict[int, float]  # line -> the broker's LogAppendTime (epoch ms)
    idle_cpu_pct: float
    busy_cpu_pct: float
    folder: Path
    busy_threads_pct: dict[str, float] = field(default_factory=dict)  # python / librdkafka

    def latencies_ms(self) -> list[float]:
        return [at - self.written[seq] * 1000 for seq, at in self.appended.items()]

    def summary(self) -> dict[str, Any]:
        latencies = self.latencies_ms()
        if not latencies:
            raise RuntimeError(f"{self.kind}: no record reached Kafka; see {self.folder}")
        return {
            "lines": len(self.written),
            "records": len(latencies),
            **percentiles(latencies),
            "idle_cpu_pct": round(self.idle_cpu_pct, 2),
            "busy_cpu_pct": round(self.busy_cpu_pct, 2),
            "busy_threads_pct": self.busy_threads_pct,
        }


def follow(
    topics: Topics,
    work: Path,
    kind: str,
    seconds: int = SECONDS,
    wrap: Callable[[list[str]], list[str]] = lambda argv: argv,
    extra: str = "",
) -> Followed:
    """Run a *kind* flow (our agent's ``exec`` or ``taildir``, or ``rsyslog``) into a new topic
    stamped with LogAppendTime (as the pilot's), idle then at RATE lines/s for *seconds*.
    *wrap* changes the agent's command line (``bench.trace`` runs it under its hook); *extra*
    is added to its properties file."""
    topic = topics.create(f"rt-{kind}", configs={"message.timestamp.type": "LogAppendTime"})
    folder = work / f"rt-{kind}"
    folder.mkdir()
    log = folder / "SmartCarDriverInfo.log"
    log.write_bytes(b"")
    bootstrap = topics.cluster.spec.bootstrap
    if kind == "rsyslog":
        own = folder / "rsyslog"
        own.mkdir()
        conf = folder / "rsyslog.conf"
        conf.write_text(rsyslog_config(str(log), own, bootstrap, topic))
        argv, env = [RSYSLOGD, "-n", "-f", str(conf), "-i", str(own / "rsyslogd.pid")], None
        out, ready = folder / "rsyslog.out", log_says(own / "rsyslogd.log", RSYSLOG_STARTED)
    else:
        conf = folder / "agent.conf"
        conf.write_text(follow_to_kafka(kind, log, folder, topic, bootstrap) + extra)
        argv, env = agent_command(conf)
        argv = wrap(argv)
        out = folder / "agent.log"
        ready = log_says(out, STARTED)
    try:
        with daemon(argv, out, ready, env) as agent:
            cpu0 = cpu_seconds(agent.ps)
            time.sleep(IDLE_SECONDS)
            cpu1 = cpu_seconds(agent.ps)
            threads1 = thread_cpu(agent.ps.pid)
            began = time.monotonic()
            written = write_lines(log, RATE * seconds)
            appended = appended_ms(topics.cluster, topic, len(written))
            elapsed = time.monotonic() - began
            busy = (cpu_seconds(agent.ps) - cpu1) / elapsed
            used = thread_cpu_delta(threads1, thread_cpu(agent.ps.pid))
    finally:
        topics.delete(topic)
    python, rdk = python_and_librdkafka(used)
    split = {
        "python": round(python / elapsed * 100, 2),
        "librdkafka": round(rdk / elapsed * 100, 2),
    }
    return Followed(kind, written, appended, (cpu1 - cpu0) / IDLE_SECONDS * 100, busy * 100,
                    folder, split)  # fmt: skip


def line(kind: str, r: dict[str, Any]) -> str:
    """One flow's figures, targets judged."""
    missing = "" if r["records"] == r["lines"] else f"  only {r['records']:,} arrived!"
    return (
        f"  {kind:<7} -> kafka  p50 {r['p50_ms']:5.1f}  p99 {r['p99_ms']:6.1f}  "
        f"p99.9 {r['p99_9_ms']:6.1f}  max {r['max_ms']:6.1f} ms "
        f"(p99 target {TARGET_P99_MS}: {verdict(r['p99_ms'] <= TARGET_P99_MS)})  "
        f"CPU idle {r['idle_cpu_pct']:.2f} % ({verdict(r['idle_cpu_pct'] <= TARGET_IDLE_PCT)}), "
        f"busy {r['busy_cpu_pct']:.2f} % ({verdict(r['busy_cpu_pct'] <= TARGET_BUSY_PCT)}: "
        f"{'its own' if kind == 'rsyslog' else 'Python'} threads "
        f"{r['busy_threads_pct'].get('python', 0):.2f}, librdkafka's "
        f"{r['busy_threads_pct'].get('librdkafka', 0):.2f})" + missing
    )


def run(options: Options) -> dict[str, Any]:
    seconds = 3 if options.quick else SECONDS
    load = os.getloadavg()[0]
    print(f"realtime: a 1-broker lab on free ports; {RATE:,} lines/s for {seconds} s; "
          f"load average {load:.1f} on {os.cpu_count()} cores", flush=True)  # fmt: skip
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-realtime-") as tmp:
        work = Path(tmp)
        with bench_lab(work, brokers=1) as cluster:
            topics = Topics(cluster)
            try:
                warm_broker(topics)
                control = () if Rsyslog().problem() else ("rsyslog",)
                for kind in (*KINDS, *control):
                    r = results[kind] = follow(topics, work, kind, seconds).summary()
                    print(line(kind, r), flush=True)
                if not control:
                    print(f"  no control run: {Rsyslog().problem()}", flush=True)
            finally:
                topics.close()
    return results
