"""Benchmark of the agent against a real 1-broker lab, all figures from one run.

1. Batch path, the book's settings: the 100-car status day (2,160,100 records, ~104 MB)
   through ``spooldir -> regex_filter -> memory -> kafka`` (acks=1, batchSize 1000). Target
   >= 300,000 events/s end to end and >= 0.6 x the producer ceiling measured here: a bare
   confluent-kafka loop producing the same lines to the same broker. Agent RSS <= 150 MB
   (sampled every 50 ms), CPU seconds per million events.
2. Real-time path: TAILDIR and ``exec tail -F`` -> kafka at 1,000 lines/s for 10 s; latency
   from line written (the writer's clock) to record appended (the topic's LogAppendTime),
   p50 and p99 against <= 100 ms.

Run with ``python -m bench agents``. Starts its own lab on free ports in a temp dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import confluent_kafka as ck
import psutil

from labctl.cluster import Cluster, ClusterSpec, free_port_block
from labctl.paths import LabPaths
from simulator.status import write_status_file

CARS = 100
TARGET_EPS = 300_000
TARGET_RATIO = 0.6
TARGET_RSS_MB = 150
TARGET_P99_MS = 100
REALTIME_RATE = 1000
REALTIME_SECONDS = 10
ROOT = Path(__file__).resolve().parents[1]


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def producer_ceiling(cluster: Cluster, day_file: Path) -> tuple[float, int]:
    """Events/s of a bare produce loop over the file's lines (acks=1, as the book)."""
    topic = f"ceiling-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, 1, 1)
    producer = ck.Producer({**cluster.client_config(), "acks": "1", "linger.ms": 5,
                            "queue.buffering.max.messages": 1_000_000})  # fmt: skip
    began = time.perf_counter()
    count = 0
    produce, poll = producer.produce, producer.poll
    with open(day_file, "rb") as fh:
        for line in fh:
            while True:
                try:
                    produce(topic, line[:-1])
                    break
                except BufferError:
                    poll(0.01)
            count += 1
            if count % 10_000 == 0:
                poll(0)
    producer.flush()
    return count / (time.perf_counter() - began), count


def _agent(conf: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "agents", "-f", str(conf), "-n", "a"],
                                stdout=fh, stderr=subprocess.STDOUT, env=env)  # fmt: skip


def batch_path(cluster: Cluster, work: Path, day_file: Path, records: int,
               extra: str = "") -> dict[str, float]:  # fmt: skip
    topic = f"agent-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, 1, 1)
    spool = work / "spool"
    spool.mkdir()
    conf = work / "batch.conf"
    conf.write_text(
        "a.sources = s\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\n"
        "a.sources.s.deletePolicy = immediate\na.sources.s.batchSize = 1000\n"
        "a.sources.s.readyAfter = 0\na.sources.s.pollDelay = 20\n"
        "a.sources.s.interceptors = f\na.sources.s.interceptors.f.type = regex_filter\n"
        "a.sources.s.interceptors.f.regex = ^\\\\d{14}\na.sources.s.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 100000\n"
        "a.channels.c.transactionCapacity = 10000\n"
        f"a.sinks.k.type = kafka\na.sinks.k.brokerList = {cluster.spec.bootstrap}\n"
        f"a.sinks.k.topic = {topic}\na.sinks.k.requiredAcks = 1\na.sinks.k.batchSize = 1000\n"
        "a.sinks.k.channel = c\n" + extra
    )
    proc = _agent(conf, work / "batch-agent.log")
    ps = psutil.Process(proc.pid)
    time.sleep(2)  # started and idle
    cpu0 = sum(ps.cpu_times()[:2])
    peak = ps.memory_info().rss
    began = time.perf_counter()
    os.rename(day_file, spool / day_file.name)  # hand-off (same filesystem)
    consumer = ck.Consumer({**cluster.client_config(), "group.id": "bench"})
    part = ck.TopicPartition(topic, 0)
    while consumer.get_watermark_offsets(part, timeout=10)[1] < records:
        peak = max(peak, ps.memory_info().rss)
        time.sleep(0.02)
        if proc.poll() is not None:
            raise RuntimeError(f"the agent died; see {work / 'batch-agent.log'}")
        if time.perf_counter() - began > 300:
            raise RuntimeError("the batch path did not finish in 300 s")
    seconds = time.perf_counter() - began
    cpu = sum(ps.cpu_times()[:2]) - cpu0
    consumer.close()
    proc.terminate()
    proc.wait(60)
    return {"seconds": seconds, "eps": records / seconds, "rss_mb": peak / 2**20,
            "cpu_per_million": cpu / (records / 1e6)}  # fmt: skip


def realtime_path(cluster: Cluster, work: Path, kind: str) -> dict[str, float]:
    topic = f"rt-{kind}-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, 1, 1)  # LogAppendTime, as the pilot's topic
    logdir = work / f"rt-{kind}"
    logdir.mkdir()
    log = logdir / "SmartCarDriverInfo.log"
    log.write_bytes(b"")
    if kind == "exec":
        source = (f"a.sources.s.type = exec\na.sources.s.command = tail -F {log}\n"
                  "a.sources.s.batchSize = 1000\n")  # fmt: skip
    else:
        source = (f"a.sources.s.type = TAILDIR\na.sources.s.filegroups = g\n"
                  f"a.sources.s.filegroups.g = {log}\n"
                  f"a.sources.s.positionFile = {logdir}/pos.json\n"
                  "a.sources.s.batchSize = 1000\n")  # fmt: skip
    conf = work / f"rt-{kind}.conf"
    conf.write_text(
        "a.sources = s\na.channels = c\na.sinks = k\n" + source +
        "a.sources.s.channels = c\na.channels.c.type = memory\n"
        "a.channels.c.capacity = 100000\na.channels.c.transactionCapacity = 10000\n"
        f"a.sinks.k.type = kafka\na.sinks.k.brokerList = {cluster.spec.bootstrap}\n"
        f"a.sinks.k.topic = {topic}\na.sinks.k.requiredAcks = 1\na.sinks.k.batchSize = 1000\n"
        "a.sinks.k.channel = c\n"
    )  # fmt: skip
    proc = _agent(conf, work / f"rt-{kind}-agent.log")
    time.sleep(2)
    written: dict[int, float] = {}
    total = REALTIME_RATE * REALTIME_SECONDS
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    began = time.time()
    for i in range(total):  # one line per ms-slot, each write timed
        due = began + i / REALTIME_RATE
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        line = b"20160101%06d,K%04d,1,0,F,N,60,A01,%d\n" % (i % 1_000_000, i % 100, i)
        written[i] = time.time()
        os.write(fd, line)
    os.close(fd)
    consumer = ck.Consumer({**cluster.client_config(), "group.id": uuid.uuid4().hex})
    consumer.assign([ck.TopicPartition(topic, 0, 0)])
    latencies = []
    deadline = time.monotonic() + 30
    while len(latencies) < total and time.monotonic() < deadline:
        for m in consumer.consume(5000, 0.5):
            if m.error():
                continue
            seq = int(m.value().rsplit(b",", 1)[1])
            latencies.append(m.timestamp()[1] - written[seq] * 1000)
    consumer.close()
    proc.terminate()
    proc.wait(60)
    latencies.sort()
    n = len(latencies)
    return {"lines": n, "p50": latencies[n // 2], "p99": latencies[int(n * 0.99)]}


def run() -> None:
    print("agents: starting a 1-broker lab on free ports ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp:
        work = Path(tmp)
        base = free_port_block(2)
        cluster = Cluster(LabPaths(work / "lab"), ClusterSpec(1, base, base + 1))
        cluster.up()
        try:
            staging = work / "staging"
            manifest = write_status_file("20160101", CARS, staging, seed=1, workers=2)
            day = Path(manifest.output)
            size = day.stat().st_size
            print(f"agents: {CARS}-car day file: {manifest.lines:,} lines, "
                  f"{manifest.records:,} records, {size / 1e6:.0f} MB", flush=True)  # fmt: skip
            ceiling, _ = producer_ceiling(cluster, day)
            b = batch_path(cluster, work, day, manifest.records)
            ratio = b["eps"] / ceiling
            print(f"  producer ceiling (bare loop)   {ceiling:12,.0f} events/s")
            print(
                f"  agent spooldir->kafka          {b['eps']:12,.0f} events/s "
                f"({b['seconds']:.1f} s)  target {TARGET_EPS:,}  {_verdict(b['eps'] >= TARGET_EPS)}"
            )
            print(
                f"  ratio to the ceiling           {ratio:12.2f}          target "
                f"{TARGET_RATIO}  {_verdict(ratio >= TARGET_RATIO)}"
            )
            print(
                f"  agent peak RSS                 {b['rss_mb']:12.0f} MB        target "
                f"{TARGET_RSS_MB}  {_verdict(b['rss_mb'] <= TARGET_RSS_MB)}"
            )
            print(f"  agent CPU per million events   {b['cpu_per_million']:12.2f} s")
            for kind in ("taildir", "exec"):
                r = realtime_path(cluster, work, kind)
                print(f"  {kind:<7} -> kafka at {REALTIME_RATE}/s     p50 {r['p50']:6.0f} ms  "
                      f"p99 {r['p99']:6.0f} ms  ({r['lines']:,} lines)  target p99 "
                      f"{TARGET_P99_MS} ms  {_verdict(r['p99'] <= TARGET_P99_MS)}")  # fmt: skip
        finally:
            cluster.down(purge=True)


if __name__ == "__main__":
    run()
