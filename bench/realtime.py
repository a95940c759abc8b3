"""The real-time path: TAILDIR and ``exec tail -F`` -> kafka at 1,000 lines/s for 10 s.

Latency is from a line written (the writer's clock, just before ``write``) to the record
appended (the topic's LogAppendTime, the broker's clock: same machine); p50 and p99. The
agent's CPU is measured idle (3 s, nothing to read) and busy (while lines arrive), in % of
one core. Targets (issue 12): p99 <= 10 ms, idle <= 0.5 %, busy <= 1 %.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import confluent_kafka as ck

from bench.flumeconf import follow_to_kafka
from bench.lab import bench_lab
from bench.meter import cpu_seconds
from bench.options import Options
from bench.report import verdict
from bench.systems.agent import STARTED, agent_command
from bench.systems.base import daemon, log_says
from labctl.cluster import Cluster

RATE = 1000
SECONDS = 10
IDLE_SECONDS = 3
TARGET_P99_MS = 10
TARGET_IDLE_PCT = 0.5
TARGET_BUSY_PCT = 1.0


def _write_lines(log: Path, total: int) -> dict[int, float]:
    """One line per 1/RATE s, each stamped with the time it was written."""
    written: dict[int, float] = {}
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    began = time.time()
    try:
        for i in range(total):
            delay = began + i / RATE - time.time()
            if delay > 0:
                time.sleep(delay)
            line = b"20160101%06d,K%04d,1,0,F,N,60,A01,%d\n" % (i % 1_000_000, i % 100, i)
            written[i] = time.time()
            os.write(fd, line)
    finally:
        os.close(fd)
    return written


def _latencies_ms(cluster: Cluster, topic: str, written: dict[int, float]) -> list[float]:
    consumer = ck.Consumer({**cluster.client_config(), "group.id": uuid.uuid4().hex})
    consumer.assign([ck.TopicPartition(topic, 0, 0)])
    latencies: list[float] = []
    deadline = time.monotonic() + 30
    try:
        while len(latencies) < len(written) and time.monotonic() < deadline:
            for m in consumer.consume(5000, 0.5):
                value = m.value()
                if m.error() or value is None:
                    continue
                seq = int(value.rsplit(b",", 1)[1])
                latencies.append(m.timestamp()[1] - written[seq] * 1000)
    finally:
        consumer.close()
    return sorted(latencies)


def warm_broker(cluster: Cluster, records: int = 50_000) -> None:
    """Produce to the fresh lab once, unmeasured: the first flow measured would otherwise pay
    for the broker's JIT warming up (its first lines took 50-150 ms here)."""
    topic = f"rt-warm-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, 1, 1)
    producer = ck.Producer({**cluster.client_config(), "linger.ms": 5})
    for i in range(records):
        producer.produce(topic, b"20160101%06d,K0001,1,0,F,N,60,A01,%d" % (i % 1_000_000, i))
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(30)
    for i in range(200):  # then a trickle, as the flows measured send
        producer.produce(topic, b"%d" % i)
        producer.flush(5)


def follow(cluster: Cluster, work: Path, kind: str, seconds: int = SECONDS) -> dict[str, Any]:
    topic = f"rt-{kind}-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, 1, 1)  # LogAppendTime, as the pilot's topic
    folder = work / f"rt-{kind}"
    folder.mkdir()
    log = folder / "SmartCarDriverInfo.log"
    log.write_bytes(b"")
    conf = folder / "agent.conf"
    conf.write_text(follow_to_kafka(kind, log, folder, topic, cluster.spec.bootstrap))
    agent_log = folder / "agent.log"
    argv, env = agent_command(conf)
    with daemon(argv, agent_log, log_says(agent_log, STARTED), env) as agent:
        cpu0 = cpu_seconds(agent.ps)
        time.sleep(IDLE_SECONDS)
        cpu1 = cpu_seconds(agent.ps)
        began = time.monotonic()
        written = _write_lines(log, RATE * seconds)
        latencies = _latencies_ms(cluster, topic, written)
        busy = (cpu_seconds(agent.ps) - cpu1) / (time.monotonic() - began)
    n = len(latencies)
    if n == 0:
        raise RuntimeError(f"{kind}: no record reached Kafka; see {agent_log}")
    return {
        "lines": len(written),
        "records": n,
        "p50_ms": round(latencies[n // 2], 1),
        "p99_ms": round(latencies[int(n * 0.99)], 1),
        "idle_cpu_pct": round((cpu1 - cpu0) / IDLE_SECONDS * 100, 2),
        "busy_cpu_pct": round(busy * 100, 2),
    }


def run(options: Options) -> dict[str, Any]:
    seconds = 3 if options.quick else SECONDS
    print(f"realtime: a 1-broker lab on free ports; {RATE:,} lines/s for {seconds} s", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-realtime-") as tmp:
        work = Path(tmp)
        with bench_lab(work, brokers=1) as cluster:
            warm_broker(cluster)
            for kind in ("taildir", "exec"):
                r = results[kind] = follow(cluster, work, kind, seconds)
                missing = "" if r["records"] == r["lines"] else f"  {r['records']:,} arrived!"
                print(
                    f"  {kind:<7} -> kafka  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
                    f" (target {TARGET_P99_MS}: {verdict(r['p99_ms'] <= TARGET_P99_MS)})  "
                    f"CPU idle {r['idle_cpu_pct']:.2f} % "
                    f"({verdict(r['idle_cpu_pct'] <= TARGET_IDLE_PCT)}), busy "
                    f"{r['busy_cpu_pct']:.2f} % ({verdict(r['busy_cpu_pct'] <= TARGET_BUSY_PCT)})"
                    + missing,
                    flush=True,
                )
    return results
