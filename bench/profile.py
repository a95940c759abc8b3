"""Where the agent's CPU goes on the batch path: py-spy samples a real agent process.

The agent runs the peers benchmark's flow (spooldir -> regex_filter -> memory -> kafka, the day
file into a 1-broker lab) while ``py-spy record --native --threads`` samples it from outside
(``make profile`` installs py-spy from PyPI). The raw stacks are kept beside the bench JSON;
the tables printed here are the share of samples by thread, by function running (self) and by
function on the stack (inclusive), and each share as CPU microseconds per event.

    python -m bench profile [--quick]
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.dayfile import make_day_file
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
from bench.pyspy import Recording
from bench.report import table
from bench.systems.agent import STARTED, agent_command
from bench.systems.base import daemon, log_says
from bench.systems.oneshot import warm_up
from labctl.paths import LabPaths, resolve_home

RATE = 250  # samples per second
TOP = 15


GENERIC = ("Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run", "thread_run")


def frame_name(frame: str) -> str:
    """A frame as the tables show it: unresolved native addresses grouped by library."""
    if frame.startswith("0x"):
        return f"[{frame.partition(' (')[2].rstrip(')')} unresolved]"
    return frame


@dataclass(frozen=True)
class Profile:
    """py-spy's raw output: ``thread (tid): name;frame;...;frame count``, root first."""

    stacks: Counter[tuple[str, ...]]

    @classmethod
    def parse(cls, text: str) -> Profile:
        stacks: Counter[tuple[str, ...]] = Counter()
        for line in text.splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[tuple(stack.split(";"))] += int(count)
        return cls(stacks)

    @property
    def total(self) -> int:
        return sum(self.stacks.values())

    def by_thread(self) -> Counter[str]:
        """Samples per thread, by its Python name (``sink-k1``...)."""
        out: Counter[str] = Counter()
        for stack, n in self.stacks.items():
            out[stack[0].partition(": ")[2] or stack[0]] += n
        return out

    def self_time(self) -> Counter[str]:
        """Samples per frame running at the time (the leaf)."""
        out: Counter[str] = Counter()
        for stack, n in self.stacks.items():
            out[frame_name(stack[-1])] += n
        return out

    def responsible(self, package: str = "agents/", module_only: bool = False) -> Counter[str]:
        """Samples per innermost frame of *package* on the stack: the code of ours that is
        running, or that called the library or C code running (charged to it)."""
        out: Counter[str] = Counter()
        for stack, n in self.stacks.items():
            ours = [f for f in stack[1:] if f"({package}" in f]
            if not ours:
                out["(outside " + package.rstrip("/") + ")"] += n
                continue
            frame = ours[-1]
            out[frame.partition(" (")[2].partition(":")[0] if module_only else frame] += n
        return out

    def inclusive(self) -> Counter[str]:
        """Samples per frame anywhere on the stack (once per stack), runner frames left out."""
        out: Counter[str] = Counter()
        for stack, n in self.stacks.items():
            frames = {frame_name(f) for f in stack[1:]}
            for frame in frames:
                if not frame.startswith("[") and frame.split(" (")[0] not in GENERIC:
                    out[frame] += n
        return out


def rows(counts: Counter[str], total: int, us_per_event: float, top: int = TOP) -> list[list[str]]:
    return [
        [frame, f"{n / total * 100:5.1f} %", f"{n / total * us_per_event:.3f}"]
        for frame, n in counts.most_common(top)
    ]


def run(options: Options) -> dict[str, Any]:
    print("profile: a 1-broker lab on free ports; py-spy samples the agent", flush=True)
    folder = LabPaths(resolve_home()).bench_dir
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / f"profile-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        work = Path(tmp)
        with bench_lab(work, brokers=1) as cluster:
            day = make_day_file(work, options.cars)
            topics = Topics(cluster)
            try:
                warm_up(topics, day, work)
                topic = topics.create("profile")
                spool = work / "spool"
                spool.mkdir()
                conf = work / "agent.conf"
                conf.write_text(spool_to_kafka([Flow(spool, topic)], cluster.spec.bootstrap))
                log = work / "agent.log"
                argv, env = agent_command(conf)
                with daemon(argv, log, log_says(log, STARTED), env) as agent:
                    spy = Recording(agent.ps.pid, raw, RATE, detail=True)
                    threads0 = thread_cpu(agent.ps.pid)
                    cpu0 = cpu_seconds(agent.ps)
                    began = time.perf_counter()
                    day.link_into(spool)
                    ended = topics.wait_for(topic, day.records, agent.alive)
                    cpu = cpu_seconds(agent.ps) - cpu0
                    used = thread_cpu_delta(threads0, thread_cpu(agent.ps.pid))
                    spy.stop()
            finally:
                topics.close()
    gil = spy.gil_held(ended - began)
    return report(Profile.parse(raw.read_text()), raw, day.records, ended - began, cpu, used, gil)


def report(
    profile: Profile,
    raw: Path,
    records: int,
    seconds: float,
    cpu: float,
    used: list[ThreadCpu],
    gil: float,
) -> dict[str, Any]:
    """Print the tables; the samples (GIL held) share out the Python threads' CPU."""
    python, rdk = python_and_librdkafka(used)
    us, python_us, rdk_us = (x / records * 1e6 for x in (cpu, python, rdk))
    total = profile.total
    print(
        f"\nprofile: {records:,} records in {seconds:.2f} s ({records / seconds:,.0f} events/s) "
        f"under py-spy; agent CPU {us:.2f} us/event: Python threads {python_us:.2f}, "
        f"librdkafka threads {rdk_us:.2f}; GIL held {gil * 100:.0f} % of the run "
        f"({total:,} samples at {RATE}/s, only while a thread holds the GIL)"
    )
    sections = {
        "threads": rows(profile.by_thread(), total, python_us),
        "modules": rows(profile.responsible(module_only=True), total, python_us),
        "functions": rows(profile.responsible(), total, python_us),
        "self": rows(profile.self_time(), total, python_us),
        "inclusive": rows(profile.inclusive(), total, python_us),
    }
    titles = {
        "threads": "by Python thread",
        "modules": "by module of the agent (running, or calling the library/C code running)",
        "functions": "by function of the agent (the same, per function)",
        "self": "self (the frame running)",
        "inclusive": "inclusive (on the stack)",
    }
    for key, title in titles.items():
        print(f"\n{title}")
        print(table(["", "GIL samples", "us/event"], sections[key]))
    print(f"\nprofile: raw stacks in {raw} (flamegraph.pl or speedscope read them)")
    return {
        "records": records,
        "seconds": round(seconds, 3),
        "cpu_us_per_event": round(us, 3),
        "python_us_per_event": round(python_us, 3),
        "librdkafka_us_per_event": round(rdk_us, 3),
        "gil_held": round(gil, 3),
        "samples": total,
        "raw": str(raw),
        **sections,
    }
