"""Stages 3-5 in one simulator run: the day's status file through the logger sink (3), the
driving records into SmartCar-Topic byte for byte (4), and the collection test against the
simulator's manifests: nothing missing, duplicated, stale or garbage, order per car (5)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException

from labctl.checks import Report
from labctl.cluster import Cluster
from labctl.kafka.reader import Record, end_offsets, read_records
from labctl.pilot import agent as lab_agent
from labctl.pilot.agent_log import logger_events
from labctl.pilot.drill import AgentKill
from labctl.pilot.line_watcher import LineWatcher
from labctl.pilot.progress import Silent, Steps
from labctl.pilot.simulation import SimulationRun, simulate
from simulator.driver import DriverProgress
from simulator.manifest import Digest

RECORD = re.compile(rb"^\d{14}")
CONSUME_TIMEOUT = 120.0  # s for the agent to consume and log a day file


@dataclass
class Before:
    """Where the run starts: the agent log's size, the topic's end offsets and leaders."""

    log_start: int
    offsets: dict[int, int]
    leaders: dict[int, int]


def collect(cluster: Cluster, report: Report, cars: int, duration: float, seed: int | None,
            stages: set[int], date: str = "20160101", steps: Steps = Silent(),
            drill: AgentKill | None = None) -> None:  # fmt: skip
    paths = cluster.paths
    if lab_agent.running(cluster) is None:
        for s in sorted(stages):
            report.add(s, "agent running", False, "no", "start it with `labctl agent start`")
        return
    log = lab_agent.log_file(paths)
    try:
        before = Before(log.stat().st_size if log.exists() else 0,
                        end_offsets(cluster.client_config(), cluster.spec.topic.name),
                        leaders(cluster))  # fmt: skip
    except KafkaException as exc:
        for s in sorted(stages & {4, 5}):
            report.add(s, "topic readable", False, str(exc), "a broker is down (`labctl status`)")
        return
    try:
        offset = paths.realtime_log.stat().st_size
    except FileNotFoundError:
        offset = 0
    steps.step(f"simulating {cars} cars for {duration:g} s", duration, "s")

    def on_driver(p: DriverProgress) -> None:
        steps.advance(p.elapsed, p.records)
        if drill is not None:
            drill.on_progress(p.elapsed)

    with LineWatcher(paths.realtime_log, offset) as watcher:
        run = simulate(paths, cars, duration, seed, date, on_driver=on_driver)
    if drill is not None:
        drill.join()
        report.figures.update(drill.figures)
    events = stage3(cluster, report, run, log, before.log_start, steps)
    agent_alive = lab_agent.running(cluster) is not None
    got = stages45(cluster, report, run, watcher, before, agent_alive, events, steps)
    status, driver = run.status, run.driver
    report.figures.update({
        "run": run.run_dir.name, "cars": cars, "duration_s": duration,
        "status_records": status.records, "status_garbage": status.garbage_lines,
        "status_headers": status.header_lines, "logged": events,
        "driving_records": driver.records, "driving_garbage": driver.garbage_lines,
        "driving_headers": driver.header_lines,
        "delivered": len(got), "elapsed_s": round(time.monotonic() - run.started, 1),
        "throughput_rps": round(len(got) / max(duration, 1e-9), 1), **watcher.latencies(got),
    })  # fmt: skip


def stage3(cluster: Cluster, report: Report, run: SimulationRun, log: Path, log_start: int,
           steps: Steps) -> int:  # fmt: skip
    """The status file consumed and logged, one event per valid record; the events logged."""
    status, spooled = run.status, run.spooled
    rejected = spooled.with_name(spooled.name + ".REJECTED")
    steps.step("stage 3: the agent logs the status file", status.records)
    deadline = time.monotonic() + CONSUME_TIMEOUT
    while time.monotonic() < deadline:
        events, headers = logger_events(log, log_start)
        steps.advance(events, events)
        if (events >= status.records and not spooled.exists()) or rejected.exists():
            break
        if lab_agent.running(cluster) is None:
            break  # the agent is gone: nothing more will be consumed
        time.sleep(0.5)
    events, headers = logger_events(log, log_start)
    report.add(
        3,
        "status file consumed (deletePolicy immediate)",
        not spooled.exists() and not rejected.exists(),
        spooled.name,
        "the spooldir source did not finish the file: `labctl logs agent`",
    )
    report.add(
        3,
        "one logger event per valid record",
        events == status.records,
        f"{events} logged / {status.records} valid",
        "records were lost or garbage passed the filter: check the regex_filter",
    )
    report.add(
        3,
        "no header line logged",
        headers == 0,
        headers,
        "the regex_filter ^\\d{14} is missing or wrong",
    )
    return events


def stages45(cluster: Cluster, report: Report, run: SimulationRun, watcher: LineWatcher,
             before: Before, agent_alive: bool, events: int,
             steps: Steps) -> list[Record]:  # fmt: skip
    """The driving records in Kafka (returned). The watcher saw every line this run wrote (from
    its start offset); a record it did not see was written before the run."""
    driver, status = run.driver, run.status
    steps.step(f"stages 4-5: reading {cluster.spec.topic.name}", driver.records)
    seen = watcher.seen

    def ours(record: Record) -> bytes | None:
        value = record.value
        return value if value in seen and RECORD.match(value) else None

    # read committed: an exactly-once agent's aborted batches are not records of the topic
    got = read_records(cluster.client_config(), cluster.spec.topic.name, before.offsets,
                       driver.records, ours, progress=steps.advance, committed=True)  # fmt: skip
    values = [r.value for r in got]
    garbage = sum(1 for v in values if not RECORD.match(v))
    stale = sum(1 for v in values if v not in seen and RECORD.match(v))
    mine = [v for v in values if v in seen and RECORD.match(v)]
    distinct = len(set(mine))
    dupes = len(mine) - distinct
    missing = max(driver.records - distinct, 0)
    digest = Digest()
    digest.add_many(mine)
    exact = digest == driver.record_digest if dupes == 0 else None
    report.add(
        4,
        "driving records arrive in SmartCar-Topic",
        len(values) > 0,
        f"{len(values)} read",
        "nothing arrived: is the Kafka sink running? `labctl logs agent`",
    )
    report.add(
        4,
        "byte for byte (manifest digest)",
        exact is True,
        f"digest {'matches' if exact else 'differs'}",
        "records differ from what the simulator wrote",
    )
    report.add(5, "0 missing", missing == 0,
               f"{missing} of {driver.records} missing ({len(values)} read)",
               lost_why(before.leaders, leaders(cluster), agent_alive))  # fmt: skip
    report.add(5, "0 duplicates", dupes == 0, dupes, "the agent re-sent records (restart?)")
    report.add(
        5,
        "0 records from before this run",
        stale == 0,
        stale,
        "lines of an earlier run reached the topic during this one (a tail -F started on an "
        "old driving log replays its last 10 lines; `labctl agent start` archives a finished "
        "log first)",
    )
    report.add(
        5,
        "0 garbage let through",
        garbage == 0,
        garbage,
        "the regex_filter let malformed lines through",
    )
    report.add(
        5,
        "logger events = valid status records",
        events == status.records,
        f"{events}/{status.records}",
        "status records were lost or duplicated",
    )
    report.add(
        5,
        "each car's records in order (per partition)",
        per_car_order(got),
        "",
        "records were reordered",
    )
    return got


def leaders(cluster: Cluster) -> dict[int, int]:
    """Each partition's leader now (empty if the brokers do not answer)."""
    topic = cluster.spec.topic.name
    try:
        parts = cluster.admin().list_topics(topic, timeout=10).topics[topic].partitions
    except (KafkaException, KeyError):
        return {}
    return {pid: part.leader for pid, part in parts.items()}


def lost_why(before: dict[int, int], after: dict[int, int], agent_alive: bool) -> str:
    """What to look at when records are missing: a dead agent, or a leader that moved."""
    if not agent_alive:
        return "records were lost between log and topic: the agent stopped during the run"
    moved = [f"partition {p}: broker {before[p]} -> {after[p]}" for p in sorted(before)
             if p in after and after[p] != before[p]]  # fmt: skip
    if moved:
        return (
            f"the partition leader moved during the run ({'; '.join(moved)}): with "
            "requiredAcks = 1 (the book's) records only the old leader had are cut from the "
            "log; requiredAcks = -1 (acks=all) keeps them"
        )
    return "records were lost between log and topic"


def per_car_order(got: list[Record]) -> bool:
    last: dict[tuple[int, bytes], bytes] = {}
    for r in got:
        value = r.value
        key = (r.partition, value[15:20])
        if key in last and value[:14] < last[key]:
            return False
        last[key] = value[:14]
    return True
