"""Exactly-once's cost (issue 20): the Kafka sink with ``exactlyOnce = true`` beside
at-least-once, on the same flow, day and lab.

Throughput: the simulator's day (100 cars: 2,160,100 records) through
``spooldir -> regex_filter -> memory -> kafka`` (the bench's flow, ``flumeBatchSize`` 1,000) in
a 1-broker lab, three ways per round, rounds interleaving the order: at-least-once with the
bench's acks=1, at-least-once with acks=all (what a transactional producer uses), and
exactly-once (a transaction per run of batches of 1,000, with the read positions). The clock
stops when spooldir has deleted the file (``deletePolicy = immediate``): the moment every line
is committed, whichever mode; then the topic is read to its end (read_committed) and must hold
exactly the day's records. Target: exactly-once >= 0.7x at-least-once's (acks=1) events/s.

Latency: TAILDIR -> kafka at 1,000 lines/s for 10 s, each mode; a read_committed consumer
beside notes when each line becomes readable (its clock, the writer's: one machine); p50 and
p99 from write to readable. Exactly-once pays a commit before a line is readable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import confluent_kafka as ck

from bench.dayfile import DayFile, make_day_file
from bench.flumeconf import AGENT, Flow, follow_to_kafka, spool_to_kafka
from bench.lab import Topics, bench_lab
from bench.meter import Measurement, cpu_seconds, peak_rss
from bench.options import Options
from bench.peers import _median
from bench.realtime import write_lines
from bench.report import table, verdict
from bench.systems.agent import STARTED, agent_command
from bench.systems.base import daemon, log_says
from labctl.cluster import Cluster
from labctl.waiting import wait_for

TARGET_RATIO = 0.7
RATE, SECONDS = 1000, 10
MODES = {  # key: (label, extra sink properties)
    "alo-acks1": ("at-least-once, acks=1 (the bench's flow)", {}),
    "alo-acksall": ("at-least-once, acks=all", {"kafka.producer.acks": "all"}),
    "eos": ("exactly-once (a transaction per run of 1,000-record batches)",
            {"kafka.producer.acks": "all", "exactlyOnce": "true"}),
}  # fmt: skip
DONE_TIMEOUT = 600.0


def conf_text(base: str, extra: dict[str, str]) -> str:
    """The bench's config with sink ``k1``'s properties set to *extra* (replacing them)."""
    sink = f"{AGENT}.sinks.k1."
    keys = {sink + k for k in extra}
    lines = [ln for ln in base.splitlines() if ln.split("=")[0].strip() not in keys]
    return "\n".join([*lines, *(f"{sink}{k} = {v}" for k, v in extra.items())]) + "\n"


def committed_values(bootstrap: str, topic: str) -> list[bytes]:
    """The topic's records as a read_committed reader sees them, to its end."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                            "isolation.level": "read_committed", "enable.partition.eof": True,
                            "enable.auto.commit": False})  # fmt: skip
    consumer.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    values: list[bytes] = []
    try:
        while True:
            batch = consumer.consume(10_000, 30)
            if not batch:
                raise TimeoutError(f"{topic}: no end of partition in 30 s")
            for m in batch:
                err, value = m.error(), m.value()
                if err is None and value is not None:
                    values.append(value)
                elif err is not None and err.code() == ck.KafkaError._PARTITION_EOF:
                    return values
    finally:
        consumer.close()


def throughput(mode: str, topics: Topics, day: DayFile, work: Path) -> dict[str, Any]:
    """One run of the day in one mode: its measurement, checked exact."""
    topic = topics.create(mode)
    job = work / mode
    spool = job / "spool"
    spool.mkdir(parents=True)
    conf = job / "agent.conf"
    bootstrap = topics.cluster.spec.bootstrap
    extra = dict(MODES[mode][1])
    if extra.get("exactlyOnce"):  # positions of its own: every run hands over the same file
        extra["positionsTopic"] = f"{topic}-positions"
    conf.write_text(conf_text(spool_to_kafka([Flow(spool, topic)], bootstrap), extra))
    log = job / "agent.log"
    argv, env = agent_command(conf)
    argv += ["--state-dir", str(job / "state")]
    try:
        with daemon(argv, log, log_says(log, STARTED), env) as running:
            cpu0 = cpu_seconds(running.ps)
            began = time.perf_counter()
            name = day.link_into(spool).name
            # the file is deleted once every line is committed
            done = wait_for(lambda: not (spool / name).exists(), DONE_TIMEOUT, step=0.01,
                            gone=running.alive)  # fmt: skip
            ended = time.perf_counter()
            if not done:
                raise RuntimeError(running.alive() or f"not done in {DONE_TIMEOUT:.0f} s ({log})")
            m = Measurement(day.records, ended - began, cpu_seconds(running.ps) - cpu0,
                            peak_rss(running.ps))  # fmt: skip
        values = committed_values(bootstrap, topic)
    except (RuntimeError, TimeoutError, OSError) as exc:
        return {"failed": str(exc)}
    finally:
        topics.delete(topic)
        if "positionsTopic" in extra:
            with contextlib.suppress(Exception):  # created by the sink, if it got that far
                topics.admin.delete_topics([extra["positionsTopic"]])
    problems = []
    if len(values) != day.records:
        problems.append(f"{len(values):,} records read committed, not {day.records:,}")
    elif len(set(values)) != len(values):
        problems.append(f"{len(values) - len(set(values)):,} duplicates")
    if values and values[-1] != day.last_record:
        problems.append("the newest record is not the file's last")
    return {**m.to_json(), "problems": problems}


def latency(cluster: Cluster, work: Path, mode: str, seconds: int) -> dict[str, Any]:
    """TAILDIR at RATE lines/s into Kafka: write-to-readable (read_committed) p50 and p99."""
    topic = f"lat-{mode}-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, 1, 1)
    folder = work / f"lat-{mode}"
    folder.mkdir()
    log = folder / "SmartCarDriverInfo.log"
    log.write_bytes(b"")
    base = follow_to_kafka("taildir", log, folder, topic, cluster.spec.bootstrap)
    conf = folder / "agent.conf"
    conf.write_text(conf_text(base, {**MODES[mode][1], "positionsTopic": f"{topic}-positions"}
                              if mode == "eos" else MODES[mode][1]))  # fmt: skip
    agent_log = folder / "agent.log"
    argv, env = agent_command(conf)
    argv += ["--state-dir", str(folder / "state")]
    total = RATE * seconds
    seen: dict[int, float] = {}
    stop = threading.Event()

    def read() -> None:
        consumer = ck.Consumer({"bootstrap.servers": cluster.spec.bootstrap,
                                "group.id": uuid.uuid4().hex, "fetch.wait.max.ms": 5,
                                "isolation.level": "read_committed"})  # fmt: skip
        consumer.assign([ck.TopicPartition(topic, 0, 0)])
        try:
            while not stop.is_set() and len(seen) < total + 1:
                for m in consumer.consume(1000, 0.05):
                    value = m.value()
                    if m.error() is None and value:
                        seen[int(value.rsplit(b",", 1)[1])] = time.time()
        finally:
            consumer.close()

    reader = threading.Thread(target=read, daemon=True)
    with daemon(argv, agent_log, log_says(agent_log, STARTED), env):
        reader.start()
        with open(log, "ab") as fh:  # unmeasured: until the whole path (reader too) runs
            fh.write(b"20160101000000,K0000,1,0,F,N,60,A01,-1\n")
        wait_for(lambda: -1 in seen, 60, step=0.01)
        written = write_lines(log, total, RATE)
        wait_for(lambda: len(seen) >= total + 1, 30)
        stop.set()
        reader.join(10)
    seen.pop(-1, None)
    lat = sorted((seen[i] - t) * 1000 for i, t in written.items() if i in seen)
    if not lat:
        raise RuntimeError(f"{mode}: no line became readable; see {agent_log}")
    n = len(lat)
    return {"lines": total, "readable": n, "p50_ms": round(lat[n // 2], 1),
            "p99_ms": round(lat[int(n * 0.99)], 1)}  # fmt: skip


def run(options: Options) -> dict[str, Any]:
    rounds_n = options.rounds
    results: dict[str, Any] = {"labels": {k: v[0] for k, v in MODES.items()}}
    with tempfile.TemporaryDirectory(prefix="bench-exactly-once-") as tmp:
        work = Path(tmp)
        print("exactly_once: starting a 1-broker lab on free ports ...", flush=True)
        with bench_lab(work, brokers=1) as cluster:
            day = make_day_file(work, options.cars)
            load = os.getloadavg()[0]
            print(f"exactly_once: {day.cars}-car day, {day.records:,} records; {rounds_n} "
                  f"round(s) of {', '.join(MODES)}; load average {load:.1f} on "
                  f"{os.cpu_count()} CPUs", flush=True)  # fmt: skip
            topics = Topics(cluster)
            rounds: list[dict[str, Any]] = []
            try:
                for n in range(rounds_n):
                    keys = list(MODES)
                    order = keys[n % len(keys) :] + keys[: n % len(keys)]
                    r: dict[str, Any] = {}
                    for mode in order:
                        r[mode] = throughput(mode, topics, day, work / f"round-{n + 1}")
                        print(f"  round {n + 1}/{rounds_n}  {mode:<12} {_line(r[mode])}",
                              flush=True)  # fmt: skip
                    rounds.append(r)
            finally:
                topics.close()
            seconds = 3 if options.quick else SECONDS
            lat = {mode: latency(cluster, work, mode, seconds) for mode in ("alo-acks1", "eos")}
    results.update(rounds=rounds, latency=lat, input=day.to_json(),
                   load_average_before=load)  # fmt: skip
    summary = _summary(rounds)
    results["summary"] = summary
    print(f"\nexactly_once: medians of {rounds_n} round(s), {day.records:,} records each")
    rows = [[MODES[k][0], f"{s['events_per_s']:,.0f}", f"{s['cpu_us_per_event']:.2f}",
             f"{s['ratio']:.2f}x" if "ratio" in s else "-", str(s["rounds"])]
            for k, s in summary.items()]  # fmt: skip
    print(table(["mode", "events/s", "CPU us/event", "vs acks=1", "rounds"], rows))
    eos = summary.get("eos", {}).get("ratio")
    if eos is None:
        print("  exactly-once or at-least-once did not complete a round: no ratio")
    else:
        print(f"  exactly-once / at-least-once events/s {eos:5.2f}x   target >= {TARGET_RATIO}x  "
              f"{verdict(eos >= TARGET_RATIO)}")  # fmt: skip
    for mode, r in lat.items():
        print(f"  {mode:<10} TAILDIR at {RATE:,} lines/s: write to readable p50 "
              f"{r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms ({r['readable']:,} of "
              f"{r['lines']:,})")  # fmt: skip
    print(f"  (measured at load average {load:.1f} on {os.cpu_count()} CPUs: a shared machine "
          "is noisy; compare the ratios, measured in the same rounds)")  # fmt: skip
    return results


def _line(r: dict[str, Any]) -> str:
    if "failed" in r:
        return f"FAILED: {r['failed']}"
    note = "" if not r["problems"] else "  NOT EXACT: " + "; ".join(r["problems"])
    return (f"{r['events_per_s']:>11,} events/s  {r['seconds']:6.2f} s  "
            f"{r['cpu_us_per_event']:5.2f} us/event" + note)  # fmt: skip


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per mode over exact runs; each mode's ratio to acks=1 per round, medianed."""
    ok = [{k: v for k, v in r.items() if "failed" not in v and not v["problems"]}
          for r in rounds]  # fmt: skip
    out: dict[str, Any] = {}
    for mode in MODES:
        runs = [r[mode] for r in ok if mode in r]
        if not runs:
            continue
        out[mode] = {
            "rounds": len(runs),
            "events_per_s": _median([x["events_per_s"] for x in runs]),
            "cpu_us_per_event": _median([x["cpu_us_per_event"] for x in runs]),
        }
        pairs = [(r[mode]["events_per_s"], r["alo-acks1"]["events_per_s"])
                 for r in ok if mode in r and "alo-acks1" in r]  # fmt: skip
        if mode != "alo-acks1" and pairs:
            out[mode]["ratio"] = _median([a / b for a, b in pairs])
    return out
