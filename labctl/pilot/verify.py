"""The pilot's stage checks. They read Kafka, the files and the agent's log themselves and
compare with the simulator's manifests; they never trust the agent's own counters.

Stage 1 architecture (``design``), 2 environment (``environment``), 3 Flume collection (status
file -> logger), 4 Kafka collection (driving log -> SmartCar-Topic) and 5 collection test (a full
run against manifests): stages 3-5 share one simulator run (``collection``). Each run's report
is saved in ``<home>/reports``.
"""

from __future__ import annotations

import json
import time

from labctl.checks import Check, Report
from labctl.cluster import Cluster
from labctl.pilot.collection import collect
from labctl.pilot.design import agent_plan, stage1
from labctl.pilot.drill import AgentKill
from labctl.pilot.environment import stage2
from labctl.pilot.progress import Silent, Steps

__all__ = ["Check", "Report", "agent_plan", "verify"]


def verify(cluster: Cluster, stages: set[int], cars: int = 5, duration: float = 10.0,
           seed: int | None = None, steps: Steps = Silent(),
           drill: AgentKill | None = None) -> Report:  # fmt: skip
    """Run the checks of ``stages``; ``steps`` hears what runs now and how far it is; a
    *drill* kills and restarts the agent during the run (``labctl.pilot.drill``)."""
    report = Report()
    if 1 in stages:
        steps.step("stage 1: the agent's design")
        stage1(cluster, report)
    if 2 in stages:
        steps.step("stage 2: the environment")
        stage2(cluster, report)
    if stages & {3, 4, 5}:
        collect(cluster, report, cars, duration, seed, stages & {3, 4, 5}, steps=steps,
                drill=drill)  # fmt: skip
        report.checks = [c for c in report.checks if c.stage in stages]
    cluster.paths.reports_dir.mkdir(parents=True, exist_ok=True)
    out = cluster.paths.reports_dir / f"verify-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    report.figures["report"] = str(out)
    return report
