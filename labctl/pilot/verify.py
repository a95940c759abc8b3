"""The pilot's stage checks. They read Kafka, the files and the agent's log themselves and
compare with the simulator's manifests; they never trust the agent's own counters.

Stage 1 architecture, 2 environment, 3 Flume collection (status file -> logger), 4 Kafka
collection (driving log -> SmartCar-Topic), 5 collection test (a full run against manifests).
Stages 3-5 share one simulator run (``collect``).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from agents.config.properties import load_properties
from agents.config.topology import AgentPlan, build_plan
from labctl.cluster import Cluster
from labctl.pilot import agent as lab_agent
from labctl.pilot.latency import percentiles
from labctl.pilot.progress import Silent, Steps
from labctl.pilot.simulation import simulate
from simulator.manifest import Digest

RECORD = re.compile(rb"^\d{14}")
CONSUME_TIMEOUT = 120.0  # s for the agent to consume and log a day file
EVENT_MARK = "[SmartCarInfo_LoggerSink] Event: "


@dataclass
class Check:
    stage: int
    name: str
    ok: bool
    measured: str = ""
    hint: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, stage: int, name: str, ok: object, measured: object = "", hint: str = "") -> None:
        """*ok* is taken for its truth (a check may pass a count or a list)."""
        self.checks.append(Check(stage, name, bool(ok), str(measured), "" if ok else hint))

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"format": "labctl-verify/1", "ok": self.ok,
                "checks": [asdict(c) for c in self.checks], "figures": self.figures}  # fmt: skip


# stage 1
def agent_plan(cluster: Cluster) -> AgentPlan:
    """The flows of the lab's agent config (the running one's, else the pilot's)."""
    st = lab_agent.state(cluster.paths)
    conf = st.get("conf_file") or str(lab_agent.pilot_conf())
    env = lab_agent.agent_env(cluster.paths, cluster.spec)
    return build_plan(load_properties(str(conf), env), str(st.get("name", lab_agent.AGENT_NAME)))


def stage1(cluster: Cluster, report: Report) -> AgentPlan:
    plan = agent_plan(cluster)
    spool = [s for s in plan.sources.values() if s.type_name == "spooldir"]
    tail = [s for s in plan.sources.values() if s.type_name in ("exec", "taildir")]

    def filtered(src: Any) -> bool:
        return any(i.type_name == "regex_filter" and i.context.get("regex") == r"^\d{14}"
                   and (i.context.get("excludeEvents") or "false") == "false"
                   for i in src.interceptors)  # fmt: skip

    def sink_of(src: Any, kind: str) -> bool:
        return any(k.type_name == kind and k.channels[0] in src.channels
                   for k in plan.sinks.values())  # fmt: skip

    report.add(
        1,
        "spooldir flow: regex_filter ^\\d{14} -> logger sink",
        spool and filtered(spool[0]) and sink_of(spool[0], "logger"),
        ", ".join(plan.describe()[:1]),
        "the agent config lacks the status-file flow",
    )
    kafka_ok = (
        tail
        and filtered(tail[0])
        and any(
            k.type_name == "kafka"
            and (k.context.get("topic") or k.context.get("kafka.topic")) == cluster.spec.topic.name
            for k in plan.sinks.values()
        )
    )
    report.add(
        1,
        "tail flow: regex_filter ^\\d{14} -> kafka sink on SmartCar-Topic",
        kafka_ok,
        "",
        "the agent config lacks the driving-log flow to SmartCar-Topic",
    )
    report.add(1, "memory channels", plan.channels and all(
        c.type_name == "memory" for c in plan.channels.values()), len(plan.channels),
        "the pilot buffers in memory channels")  # fmt: skip
    return plan


# stage 2
def stage2(cluster: Cluster, report: Report) -> None:
    answer = cluster.zk_four_letters("ruok")
    report.add(
        2,
        "ZooKeeper answers",
        answer == "imok",
        answer or "no answer",
        "start the lab with `labctl up`; see `labctl logs zookeeper`",
    )
    try:
        md = cluster.admin().list_topics(timeout=5)
    except KafkaException as exc:
        report.add(2, "brokers in metadata", False, str(exc), "no broker answers: `labctl up`")
        return
    report.add(
        2,
        "every broker in metadata",
        len(md.brokers) == cluster.spec.brokers,
        f"{len(md.brokers)}/{cluster.spec.brokers}",
        "a broker is down: `labctl up`",
    )
    report.add(
        2,
        "controller elected",
        md.controller_id >= 0,
        md.controller_id,
        "no controller: check `labctl logs broker-0`",
    )
    topic = md.topics.get(cluster.spec.topic.name)
    report.add(
        2,
        f"{cluster.spec.topic.name} exists",
        topic is not None,
        "yes" if topic else "missing",
        "create it again with `labctl up`",
    )
    if topic is not None:
        problem = cluster.partition_problem(md)
        report.add(
            2,
            "every partition has a leader and a full ISR",
            problem is None,
            problem or "ok",
            "a replica is behind or a broker is down",
        )
    try:
        lab_agent.metrics(cluster.paths)
        up = lab_agent.running(cluster.paths, cluster.spec) is not None
    except Exception:
        up = False
    report.add(
        2,
        "agent up, metrics answering",
        up,
        "yes" if up else "no",
        "start it with `labctl agent start`",
    )
    writable = all(d.is_dir() and _writable(d) for d in cluster.paths.working_dirs())
    report.add(
        2,
        "working directories present and writable",
        writable,
        "",
        f"check {cluster.paths.working_dir}",
    )


def _writable(d: Path) -> bool:
    probe = d / f".probe-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


# stages 3-5: one run
def _end_offsets(cluster: Cluster) -> dict[int, int]:
    c = Consumer({**cluster.client_config(), "group.id": "labctl-verify"})
    md = c.list_topics(cluster.spec.topic.name, timeout=10)
    ends = {p: c.get_watermark_offsets(TopicPartition(cluster.spec.topic.name, p), timeout=10)[1]
            for p in md.topics[cluster.spec.topic.name].partitions}  # fmt: skip
    c.close()
    return ends


def _leaders(cluster: Cluster) -> dict[int, int]:
    """Each partition's leader now (empty if the brokers do not answer)."""
    topic = cluster.spec.topic.name
    try:
        parts = cluster.admin().list_topics(topic, timeout=10).topics[topic].partitions
    except (KafkaException, KeyError):
        return {}
    return {pid: part.leader for pid, part in parts.items()}


def _lost_why(before: dict[int, int], after: dict[int, int], agent_alive: bool) -> str:
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


def _read_from(cluster: Cluster, starts: dict[int, int], run_lines: Callable[[bytes], bool],
               expect: int, idle: float = 10.0,
               steps: Steps = Silent()) -> list[tuple[int, bytes, int]]:  # fmt: skip
    """(partition, value, append-time ms) of the records after *starts*: until *expect* distinct
    records of this run arrived (then up to the end offsets of that moment, so what came with
    them, duplicates or stale lines, is counted too), or nothing came for *idle* s."""
    topic = cluster.spec.topic.name
    c = Consumer({**cluster.client_config(), "group.id": uuid.uuid4().hex,
                  "enable.auto.commit": False})  # fmt: skip
    c.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
    out: list[tuple[int, bytes, int]] = []
    ours: set[bytes] = set()
    ends: dict[int, int] | None = None
    reached: dict[int, int] = dict(starts)
    last = time.monotonic()
    while time.monotonic() - last < idle:
        if ends is None and len(ours) >= expect:
            ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    for p in starts}  # fmt: skip
        if ends is not None and all(reached[p] >= ends[p] for p in ends):
            break
        batch = c.consume(5000, 0.5)
        for m in batch:
            part, value, offset = m.partition(), m.value(), m.offset()
            if m.error() or part is None or value is None or offset is None:
                continue
            out.append((part, value, m.timestamp()[1]))
            reached[part] = offset + 1
            if run_lines(value):
                ours.add(value)
        if batch:
            last = time.monotonic()
            steps.advance(len(ours), len(out))
    c.close()
    return out


def _logger_events(log: Path, start: int) -> tuple[int, int]:
    """(events, header lines) the logger sink printed after byte *start* of the agent log."""
    events = headers = 0
    with open(log, "rb") as fh:
        fh.seek(start)
        for line in fh:
            text = line.decode("utf-8", "replace")
            if EVENT_MARK in text:
                events += 1
                if "SmartCar Status" in text or "Status Informa" in text:
                    headers += 1
    return events, headers


def collect(cluster: Cluster, report: Report, cars: int, duration: float, seed: int | None,
            stages: set[int], date: str = "20160101", steps: Steps = Silent()) -> None:  # fmt: skip
    paths = cluster.paths
    log = lab_agent.log_file(paths)
    if lab_agent.running(paths, cluster.spec) is None:
        for s in sorted(stages):
            report.add(s, "agent running", False, "no", "start it with `labctl agent start`")
        return
    log_start = log.stat().st_size if log.exists() else 0
    try:
        starts = _end_offsets(cluster)
        leaders_before = _leaders(cluster)
    except KafkaException as exc:
        for s in sorted(stages & {4, 5}):
            report.add(s, "topic readable", False, str(exc), "a broker is down (`labctl status`)")
        return
    try:
        offset = paths.realtime_log.stat().st_size
    except FileNotFoundError:
        offset = 0
    steps.step(f"simulating {cars} cars for {duration:g} s", duration, "s")
    with LineWatcher(paths.realtime_log, offset) as watcher:
        run = simulate(paths, cars, duration, seed, date,
                       on_driver=lambda p: steps.advance(p.elapsed, p.records))  # fmt: skip
    status, driver, began = run.status, run.driver, run.started
    spooled = run.spooled
    rejected = spooled.with_name(spooled.name + ".REJECTED")
    # stage 3: the status file consumed and logged
    steps.step("stage 3: the agent logs the status file", status.records)
    deadline = time.monotonic() + CONSUME_TIMEOUT
    while time.monotonic() < deadline:
        events, headers = _logger_events(log, log_start)
        steps.advance(events, events)
        if (events >= status.records and not spooled.exists()) or rejected.exists():
            break
        if lab_agent.running(paths, cluster.spec) is None:
            break  # the agent is gone: nothing more will be consumed
        time.sleep(0.5)
    agent_alive = lab_agent.running(paths, cluster.spec) is not None
    events, headers = _logger_events(log, log_start)
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
    # stages 4-5: the driving records in Kafka. The watcher saw every line this run wrote
    # (from its start offset); a record it did not see was written before the run.
    steps.step(f"stages 4-5: reading {cluster.spec.topic.name}", driver.records)
    seen = watcher.seen
    got = _read_from(cluster, starts, lambda v: v in seen and bool(RECORD.match(v)),
                     driver.records, steps=steps)  # fmt: skip
    values = [v for _, v, _ in got]
    garbage = sum(1 for v in values if not RECORD.match(v))
    stale = sum(1 for v in values if v not in seen and RECORD.match(v))
    ours = [v for v in values if v in seen and RECORD.match(v)]
    distinct = len(set(ours))
    dupes = len(ours) - distinct
    missing = max(driver.records - distinct, 0)
    digest = Digest()
    digest.add_many(ours)
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
               _lost_why(leaders_before, _leaders(cluster), agent_alive))  # fmt: skip
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
    order_ok = _per_car_order(got)
    report.add(
        5, "each car's records in order (per partition)", order_ok, "", "records were reordered"
    )
    lat = watcher.latencies(got)
    elapsed = time.monotonic() - began
    report.figures.update({
        "run": run.run_dir.name, "cars": cars, "duration_s": duration,
        "status_records": status.records, "status_garbage": status.garbage_lines,
        "status_headers": status.header_lines, "logged": events,
        "driving_records": driver.records, "driving_garbage": driver.garbage_lines,
        "driving_headers": driver.header_lines,
        "delivered": len(values), "elapsed_s": round(elapsed, 1),
        "throughput_rps": round(len(values) / max(duration, 1e-9), 1), **lat,
    })  # fmt: skip


def _per_car_order(got: list[tuple[int, bytes, int]]) -> bool:
    last: dict[tuple[int, bytes], bytes] = {}
    for part, value, _ in got:
        car = value[15:20]
        key = (part, car)
        if key in last and value[:14] < last[key]:
            return False
        last[key] = value[:14]
    return True


class LineWatcher:
    """Notes when each line the run appends to the driving log (from byte *offset*) first
    became visible in the file (every ~5 ms), so latency is measured from the file, not from
    the writer's intentions; ``seen`` is then exactly the set of this run's lines."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path, self.offset = path, offset
        self.seen: dict[bytes, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="line-watcher", daemon=True)

    def __enter__(self) -> LineWatcher:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        while True:
            try:
                fh = open(self.path, "rb")  # noqa: SIM115
                break
            except FileNotFoundError:
                self.offset = 0  # the run creates it
                if self.stop.wait(0.005):
                    return
        with fh:
            fh.seek(self.offset)
            partial = b""
            while True:
                stopping = self.stop.is_set()  # read to the end once more after the run
                chunk = fh.read()
                now = time.time() * 1000
                if chunk:
                    lines = (partial + chunk).split(b"\n")
                    partial = lines.pop()
                    for line in lines:
                        self.seen.setdefault(line, now)
                elif stopping:
                    return
                else:
                    self.stop.wait(0.005)

    def latencies(self, got: list[tuple[int, bytes, int]]) -> dict[str, Any]:
        """p50, p99, p99.9 and max of the topic's append time minus the time the line was seen
        in the file."""
        lat = percentiles(ts - self.seen[v] for _, v, ts in got if v in self.seen)
        return {f"latency_{key}": value for key, value in lat.items()}


def verify(cluster: Cluster, stages: set[int], cars: int = 5, duration: float = 10.0,
           seed: int | None = None, steps: Steps = Silent()) -> Report:  # fmt: skip
    """Run the checks of ``stages``; ``steps`` hears what runs now and how far it is."""
    report = Report()
    if 1 in stages:
        steps.step("stage 1: the agent's design")
        stage1(cluster, report)
    if 2 in stages:
        steps.step("stage 2: the environment")
        stage2(cluster, report)
    if stages & {3, 4, 5}:
        collect(cluster, report, cars, duration, seed, stages & {3, 4, 5}, steps=steps)
        report.checks = [c for c in report.checks if c.stage in stages]
    cluster.paths.reports_dir.mkdir(parents=True, exist_ok=True)
    out = cluster.paths.reports_dir / f"verify-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    report.figures["report"] = str(out)
    return report
