"""Our agent against every collector that runs here, on one broker, in one run.

The simulator's 100-car day (2,160,100 records, ~104 MB) goes from a file through a
``^\\d{14}`` filter into a fresh 1-partition topic (acks=1) of a 1-broker lab, once per system
per round; rounds interleave the systems (each round in another order) so the machine's
noise hits all alike, and the figures are medians over rounds. Each run is counted by the
topic's end offset and then checked: exactly the day's records, the newest one the file's
last record. A system that cannot run here is skipped with the reason.

Targets (issue 12): >= 1.2x rsyslog's events/s, >= 0.4x kcat's, <= 2 CPU us per event,
peak RSS <= 150 MB.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.dayfile import DayFile, make_day_file
from bench.lab import Stalled, Topics, bench_lab
from bench.meter import Measurement
from bench.options import Options
from bench.report import table, verdict
from bench.systems.agent import OurAgent
from bench.systems.base import Job, System
from bench.systems.flume import Flume
from bench.systems.oneshot import Kcat, PythonLoop, warm_up
from bench.systems.rsyslog import Rsyslog

TARGETS = {"rsyslog": 1.2, "kcat": 0.4}  # agent events/s over the peer's, at least
TARGET_CPU_US = 2.0
TARGET_RSS_MB = 150


def all_systems() -> list[System]:
    return [OurAgent(), PythonLoop(), Kcat(), Rsyslog(), Flume()]


def _run_one(system: System, topics: Topics, day: DayFile, work: Path) -> dict[str, Any]:
    """One system, one file, one fresh topic: its measurement, or why it failed."""
    topic = topics.create(system.key)
    job_dir = work / system.key
    job_dir.mkdir()
    job = Job(topics, topic, day, job_dir, topics.cluster.spec.bootstrap)
    try:
        m = system.measure(job)
        final = topics.end_offset(topic)
        last = topics.last_value(topic)
    except (Stalled, RuntimeError, TimeoutError, OSError) as exc:
        return {"failed": str(exc)}
    finally:
        topics.delete(topic)
        shutil.rmtree(job_dir, ignore_errors=True)
    problems = []
    if final != day.records:
        problems.append(f"{final:,} records in the topic, not {day.records:,}")
    if last != day.last_record:
        problems.append(f"newest record {last!r} is not the file's last {day.last_record!r}")
    return {**m.to_json(), "final_offset": final, "problems": problems}


def _measurement(result: dict[str, Any]) -> Measurement | None:
    """A run that failed, or was not exact (a duplicate would stop the clock early), counts
    for nothing."""
    if "failed" in result or result["problems"]:
        return None
    return Measurement(
        result["events"],
        result["seconds"],
        result["cpu_seconds"],
        int(result["peak_rss_mb"] * 2**20),
    )


def summarise(
    rounds: list[dict[str, dict[str, Any]]], keys: list[str], reference: str = "agent"
) -> dict[str, Any]:
    """Medians over the rounds a system completed, and the *reference*'s (our agent's) ratios
    to each other system per round."""
    out: dict[str, Any] = {}
    for key in keys:
        done = [m for r in rounds if key in r and (m := _measurement(r[key])) is not None]
        if not done:
            continue
        out[key] = {
            "rounds": len(done),
            "events_per_s": _median([m.eps for m in done]),
            "cpu_us_per_event": _median([m.cpu_us_per_event for m in done]),
            "peak_rss_mb": _median([m.rss_mb for m in done]),
        }
        pairs = [
            (a, p)
            for r in rounds
            if (a := _measurement(r.get(reference, {"failed": ""}))) is not None
            and (p := _measurement(r.get(key, {"failed": ""}))) is not None
        ]
        if key != reference and pairs:
            out[key]["agent_speed_ratio"] = _median([a.eps / p.eps for a, p in pairs])
            out[key]["agent_cpu_ratio"] = _median(
                [a.cpu_us_per_event / p.cpu_us_per_event for a, p in pairs]
            )
    return out


def _median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def render(summary: dict[str, Any], labels: dict[str, str]) -> str:
    rows = []
    for key, s in summary.items():
        ratio = s.get("agent_speed_ratio")
        cpu_ratio = s.get("agent_cpu_ratio")
        rows.append(
            [
                labels[key],
                f"{s['events_per_s']:,.0f}",
                f"{s['cpu_us_per_event']:.2f}",
                f"{s['peak_rss_mb']:.0f}",
                "-" if ratio is None else f"{ratio:.2f}x",
                "-" if cpu_ratio is None else f"{cpu_ratio:.2f}x",
                str(s["rounds"]),
            ]
        )
    headers = [
        "system",
        "events/s",
        "CPU us/event",
        "peak RSS MB",
        "agent speed",
        "agent CPU",
        "rounds",
    ]
    return table(headers, rows)


def targets(summary: dict[str, Any]) -> list[str]:
    """One line per target of issue 12 that this run can judge."""
    agent = summary.get("agent")
    if agent is None:
        return ["  our agent did not complete a round: no target can be judged"]
    lines = []
    for key, floor in TARGETS.items():
        r = summary.get(key, {}).get("agent_speed_ratio")
        if r is not None:
            lines.append(
                f"  agent / {key + ' events/s':<18}{r:6.2f}x   target >= {floor}x  "
                f"{verdict(r >= floor)}"
            )
    cpu, rss = agent["cpu_us_per_event"], agent["peak_rss_mb"]
    lines.append(
        f"  agent CPU per event       {cpu:6.2f} us  target <= {TARGET_CPU_US} us  "
        f"{verdict(cpu <= TARGET_CPU_US)}"
    )
    lines.append(
        f"  agent peak RSS            {rss:6.0f} MB  target <= {TARGET_RSS_MB} MB  "
        f"{verdict(rss <= TARGET_RSS_MB)}"
    )
    return lines


def run(options: Options) -> dict[str, Any]:
    systems = [
        s for s in all_systems() if s.key == "agent" or not options.only or s.key in options.only
    ]
    rounds, day, skipped, keys = measure_rounds("peers", systems, options)
    summary = summarise(rounds, keys)
    labels = {s.key: s.label for s in systems}
    print(
        f"\npeers: medians of {options.rounds} round(s), {day.records:,} records each "
        "(agent speed: agent events/s / system's; agent CPU: agent us / system's)"
    )
    print(render(summary, labels))
    print("\n".join(targets(summary)))
    for key, reason in skipped.items():
        print(f"  skipped {labels[key]}: {reason}")
    return {
        "input": day.to_json(),
        "rounds": rounds,
        "summary": summary,
        "skipped": skipped,
        "labels": labels,
    }


def measure_rounds(
    name: str, systems: list[System], options: Options
) -> tuple[list[dict[str, dict[str, Any]]], DayFile, dict[str, str], list[str]]:
    """Every system that can run here moves the day file once per round, in a 1-broker lab,
    rounds interleaving the order: (rounds, the day, skipped systems with why, keys run)."""
    runnable, skipped = [], {}
    for system in systems:
        reason = system.problem()
        if reason is None:
            runnable.append(system)
        else:
            skipped[system.key] = reason
            print(f"{name}: skipping {system.label}: {reason}", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        work = Path(tmp)
        print(f"{name}: starting a 1-broker lab on free ports ...", flush=True)
        with bench_lab(work, brokers=1) as cluster:
            day = make_day_file(work, options.cars)
            print(
                f"{name}: {day.cars}-car day: {day.lines:,} lines, {day.records:,} records, "
                f"{day.size / 1e6:.0f} MB; {options.rounds} round(s) of "
                f"{', '.join(s.key for s in runnable)}",
                flush=True,
            )
            topics = Topics(cluster)
            rounds: list[dict[str, dict[str, Any]]] = []
            try:
                warm_up(topics, day, work)
                for n in range(options.rounds):
                    shift = n % len(runnable)
                    order = runnable[shift:] + runnable[:shift]
                    results: dict[str, dict[str, Any]] = {}
                    round_dir = work / f"round-{n + 1}"
                    round_dir.mkdir()
                    for system in order:
                        results[system.key] = r = _run_one(system, topics, day, round_dir)
                        print(
                            f"  round {n + 1}/{options.rounds}  {system.key:<10} " + _progress(r),
                            flush=True,
                        )
                    rounds.append(results)
            finally:
                topics.close()
    return rounds, day, skipped, [s.key for s in runnable]


def _progress(result: dict[str, Any]) -> str:
    if "failed" in result:
        return f"FAILED: {result['failed']}"
    note = "" if not result["problems"] else "  NOT EXACT: " + "; ".join(result["problems"])
    return (
        f"{result['events_per_s']:>11,} events/s  {result['seconds']:6.2f} s  "
        f"{result['cpu_us_per_event']:5.2f} us/event  {result['peak_rss_mb']:5.0f} MB" + note
    )
