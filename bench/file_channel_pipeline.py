"""The durable path: the simulator's day through ``spooldir -> regex_filter -> file -> kafka``,
our agent and Apache Flume 1.11 (its own file channel) on the same properties file, in the
same rounds of the same lab as ``peers`` measures them; our agent's memory channel beside, so
the file channel's cost is a ratio from the same run.

Both file channels run Flume's defaults (``fsyncPerTransaction``: every put and take commit
is on disk when it returns). Target (issue 11): >= 150,000 events/s for our agent.
"""

from __future__ import annotations

from typing import Any

from bench.options import Options
from bench.peers import measure_rounds, render, summarise
from bench.report import verdict
from bench.systems.agent import OurAgent
from bench.systems.base import System
from bench.systems.flume import Flume

TARGET_EPS = 150_000


def run(options: Options) -> dict[str, Any]:
    systems: list[System] = [OurAgent("file"), Flume("file"), OurAgent("memory")]
    rounds, day, skipped, keys = measure_rounds("file_channel_pipeline", systems, options)
    summary = summarise(rounds, keys, reference="agent-file")
    labels = {s.key: s.label for s in systems}
    print(f"\nfile_channel_pipeline: medians of {options.rounds} round(s), {day.records:,} "
          "records each (agent speed: our file-channel agent's events/s / system's)")  # fmt: skip
    print(render(summary, labels))
    ours = summary.get("agent-file")
    if ours is None:
        print("  our agent did not complete a round: the target cannot be judged")
    else:
        eps = ours["events_per_s"]
        print(f"  agent spooldir->file->kafka {eps:10,.0f} events/s  target >= {TARGET_EPS:,}  "
              f"{verdict(eps >= TARGET_EPS)}")  # fmt: skip
    for key, reason in skipped.items():
        print(f"  skipped {labels[key]}: {reason}")
    return {"input": day.to_json(), "rounds": rounds, "summary": summary,
            "skipped": skipped, "labels": labels}  # fmt: skip
