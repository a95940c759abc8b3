"""Scale: one agent, 1..4 spooldir flows (``--quick``: 1..2), each with its own channel and
Kafka sink, into one 3-partition topic on 3 brokers (replication 1, acks=1); then two flows in
two agent processes, one each; then two flows in one agent with ``--flow-processes`` (each
flow in a process of its own, supervised by the agent: issue 22). The layouts run interleaved,
``--rounds`` times (medians; one round with ``--quick``), since one run on a shared machine
decides nothing.

Every flow gets the day file at the same moment; total events/s is all records over the time
until the topic holds them all. What limits it is measured, not guessed: the agent's CPU
split by thread (/proc/<pid>/task: the Python threads, which share one GIL, against
librdkafka's own ``rdk:`` threads, which do not), the share of the run the GIL was held
(py-spy, when installed: ``make profile``), the brokers' CPU, the bench's own, and how busy
the whole machine was. The GIL held nearly all the time (or Python threads near one core)
means the GIL is the wall; a machine near all its cores means CPU is; neither means waiting
(latency, backpressure, the broker).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil

from bench.dayfile import DayFile, make_day_file
from bench.flumeconf import Flow, spool_to_kafka
from bench.lab import Topics, bench_lab
from bench.meter import (
    ThreadCpu,
    cpu_seconds,
    python_and_librdkafka,
    thread_cpu,
    thread_cpu_delta,
)
from bench.options import Options
from bench.pyspy import INSTALL, Recording, py_spy
from bench.report import table
from bench.systems.agent import STARTED, agent_command
from bench.systems.base import Running, daemon, log_says
from bench.systems.oneshot import warm_up
from labctl.cluster import Cluster

BROKERS = 3
PARTITIONS = 3
MAX_FLOWS = 4
GIL_RATE = 100  # py-spy samples per second, when it is installed


def _threads(used: list[ThreadCpu], seconds: float) -> dict[str, float]:
    python, rdk = python_and_librdkafka(used)
    return {"python": round(python / seconds, 3), "librdkafka": round(rdk / seconds, 3)}


def _busiest(used: list[ThreadCpu], seconds: float, n: int = 3) -> list[str]:
    return [f"{t.name}({t.tid}) {t.seconds / seconds:.2f}" for t in used[:n]]


def _own_cpu() -> float:
    """The bench process's own CPU (its end-offset polls), not its children's: the agent
    and the brokers are its children and are counted on their own."""
    t = psutil.Process().cpu_times()
    return t.user + t.system


def _brokers(cluster: Cluster) -> list[psutil.Process]:
    out = []
    for i in range(cluster.spec.brokers):
        proc = cluster.broker(i).process()
        if proc is not None:
            out.append(proc)
    return out


Layout = tuple[tuple[int, ...], bool]  # flows per agent; whether each flow has its process


def flows(
    cluster: Cluster, topics: Topics, day: DayFile, work: Path, shape: Layout
) -> dict[str, Any]:
    """Agents with ``layout[0][i]`` flows each (``(2,)``: one agent, two flows; ``(1, 1)``: two
    agents, one flow each), with ``--flow-processes`` if ``layout[1]``, moving one copy of the
    day per flow into one topic."""
    topic = topics.create("scale", PARTITIONS, 1)
    layout, processes = shape
    n = sum(layout)
    folder = Path(tempfile.mkdtemp(dir=work, prefix=f"flows-{'-'.join(map(str, layout))}"
                                   f"{'-p' if processes else ''}-"))  # fmt: skip
    spools: list[Path] = []
    commands = []
    for a, count in enumerate(layout):
        own = folder / f"agent-{a}"
        mine = [own / f"spool-{i}" for i in range(1, count + 1)]
        for spool in mine:
            spool.mkdir(parents=True)
        spools += mine
        conf = own / "agent.conf"
        conf.write_text(spool_to_kafka([Flow(s, topic) for s in mine], cluster.spec.bootstrap))
        argv, env = agent_command(conf)
        argv.append("--flow-processes" if processes else "--no-flow-processes")
        commands.append((argv, env, own / "agent.log"))
    records = day.records * n
    brokers = _brokers(cluster)
    try:
        with ExitStack() as stack:
            agents = [stack.enter_context(daemon(argv, log, log_says(log, STARTED), env))
                      for argv, env, log in commands]  # fmt: skip
            pids = [p.pid for agent in agents for p in [agent.ps, *agent.ps.children(True)]]
            threads0 = {pid: thread_cpu(pid) for pid in pids}
            cpu0 = sum(cpu_seconds(agent.ps) for agent in agents)
            brokers0 = sum(cpu_seconds(b) for b in brokers)
            machine0 = psutil.cpu_times()
            me0 = _own_cpu()
            spy = None  # the GIL's share: of the one agent's one GIL
            if py_spy() and len(agents) == 1:
                spy = Recording(pids[0], folder / "gil.txt", GIL_RATE, False)
            began = time.perf_counter()
            for spool in spools:
                day.link_into(spool)
            ended = topics.wait_for(topic, records, _all_alive(agents))
            seconds = ended - began
            if spy is not None:
                spy.stop()
            used = sorted(
                (t for pid in pids for t in thread_cpu_delta(threads0[pid], thread_cpu(pid))),
                key=lambda t: t.seconds,
                reverse=True,
            )
            cpu = sum(cpu_seconds(agent.ps) for agent in agents) - cpu0
            broker_cpu = sum(cpu_seconds(b) for b in brokers) - brokers0
            machine1 = psutil.cpu_times()
            me = _own_cpu() - me0
        final = topics.end_offset(topic)
    finally:
        topics.delete(topic)
    busy = (sum(machine1) - machine1.idle - machine1.iowait) - (
        sum(machine0) - machine0.idle - machine0.iowait
    )
    return {
        "flows": n,
        "agents": len(layout),
        "flow_processes": processes,
        "gils": n if processes else len(layout),
        "records": records,
        "final_offset": final,
        "seconds": round(seconds, 3),
        "events_per_s": round(records / seconds),
        "agent_cores": round(cpu / seconds, 3),
        "agent_cpu_us_per_event": round(cpu / records * 1e6, 3),
        "threads_cores": _threads(used, seconds),
        "busiest_threads": _busiest(used, seconds),
        "brokers_cores": round(broker_cpu / seconds, 3),
        "machine_busy_cores": round(busy / seconds, 3),
        "bench_cores": round(me / seconds, 3),
        "rest_cores": round((busy - cpu - broker_cpu - me) / seconds, 3),
        "cores": os.cpu_count(),
        "gil_held": None if spy is None else round(spy.gil_held(seconds), 3),
    }


def _all_alive(agents: list[Running]) -> Callable[[], str | None]:
    def check() -> str | None:
        for agent in agents:
            reason = agent.alive()
            if reason is not None:
                return reason
        return None

    return check


def layouts(options: Options) -> list[Layout]:
    """One agent with 1..MAX_FLOWS flows (1..2 with --quick); two flows in two agents; two
    flows in one agent with --flow-processes (issue 22: the supervisor's cost is the gap
    between the last two)."""
    most = 2 if options.quick else MAX_FLOWS
    return [((n,), False) for n in range(1, most + 1)] + [((1, 1), False), ((2,), True)]


def label(r: dict[str, Any]) -> str:
    flows = f"{r['flows']} flow{'s' if r['flows'] > 1 else ''}"
    agents = r.get("agents", 1)
    if r.get("flow_processes"):
        return f"{flows}, flow processes"
    return f"{flows} in {agents} agents" if agents > 1 else flows


def limit(r: dict[str, Any]) -> str:
    """What the figures say held this run back: the GIL (held nearly all the time, or the
    agent's Python threads near one core), else the machine's cores (all near busy), else
    waiting (neither)."""
    cores = r["cores"] or 1
    gil = r["gil_held"]
    per_gil = r["threads_cores"]["python"] / r.get("gils", 1)  # one GIL per Python process
    if (gil is not None and gil >= 0.9) or per_gil >= 0.85:
        return "the GIL"
    if r["machine_busy_cores"] >= 0.9 * cores:
        return f"the machine's {cores} cores"
    return "waiting, not CPU"


def run(options: Options) -> dict[str, Any]:
    print(
        f"scale: a {BROKERS}-broker lab on free ports, one {PARTITIONS}-partition topic "
        "(replication 1, acks=1)",
        flush=True,
    )
    if py_spy() is None:
        print(f"scale: the GIL's share is not measured ({INSTALL})", flush=True)
    rounds = options.rounds
    runs: dict[Layout, list[dict[str, Any]]] = {layout: [] for layout in layouts(options)}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        with bench_lab(work, brokers=BROKERS) as cluster:
            day = make_day_file(work, options.cars)
            topics = Topics(cluster)
            try:
                warm_up(topics, day, work, PARTITIONS)
                for i in range(rounds):
                    for layout, done in runs.items():
                        r = flows(cluster, topics, day, work, layout)
                        r["limit"] = limit(r)
                        done.append(r)
                        exact = "" if r["final_offset"] == r["records"] else "  NOT EXACT"
                        print(f"  round {i + 1}: {label(r)}: {r['events_per_s']:,} events/s"
                              f"{exact}", flush=True)  # fmt: skip
            finally:
                topics.close()
    results = [median_run(done) for done in runs.values()]
    base = results[0]["events_per_s"]
    rows = [
        [
            label(r),
            f"{r['events_per_s']:,}",
            " ".join(f"{x:,}" for x in r["rounds"]),
            f"{r['events_per_s'] / base:.2f}x",
            f"{r['agent_cores']:.2f}",
            f"{r['threads_cores']['python']:.2f}",
            "-" if r["gil_held"] is None else f"{r['gil_held'] * 100:.0f} %",
            f"{r['threads_cores']['librdkafka']:.2f}",
            f"{r['brokers_cores']:.2f}",
            f"{r['bench_cores']:.2f}",
            f"{r['rest_cores']:.2f}",
            f"{r['machine_busy_cores']:.2f}",
            r["limit"],
        ]
        for r in results
    ]
    print(f"\nscale: {day.records:,} records per flow; median of {rounds} interleaved round(s), "
          f"CPU of the median run, in cores (of {os.cpu_count()})")  # fmt: skip
    print(
        table(
            [
                "flows",
                "events/s",
                "rounds",
                "vs 1",
                "agent",
                "py threads",
                "GIL held",
                "rdk threads",
                "brokers",
                "bench",
                "the rest",
                "machine",
                "limited by",
            ],
            rows,
        )
    )
    return {"input": day.to_json(), "brokers": BROKERS, "partitions": PARTITIONS,
            "rounds": rounds, "runs": results}  # fmt: skip


def median_run(done: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median events/s (the lower middle of an even count), with every
    round's figure in ``rounds``."""
    ordered = sorted(done, key=lambda r: r["events_per_s"])
    return {**ordered[(len(ordered) - 1) // 2], "rounds": [r["events_per_s"] for r in done]}
