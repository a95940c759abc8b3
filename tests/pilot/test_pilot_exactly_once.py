"""`labctl pilot --exactly-once` and its drill (`--kill-agent-at 50%`): the lab's agent
SIGKILLed half-way through a run and started again; stage 5 (read committed) finds every
driving record once. The book's agent beside it (exec tail -F, at-least-once) loses what was
written while it was down and repeats what tail -F repeats."""

from __future__ import annotations

from collections.abc import Callable

from labctl.checks import Check, Report
from labctl.cluster import Cluster
from labctl.pilot import agent as lab_agent
from labctl.pilot.drill import AgentKill, parse_share
from labctl.pilot.verify import verify


def check(report: Report, name: str) -> Check:
    (found,) = [c for c in report.checks if c.name == name]
    return found


def test_the_drill_costs_nothing_exactly_once_and_something_at_least_once(
    lab_factory: Callable[..., Cluster],
) -> None:
    cluster = lab_factory(brokers=1)
    lab_agent.start(cluster, conf=lab_agent.exactly_once_conf())
    try:
        drill = AgentKill(cluster, parse_share("50%"), duration=6)
        report = verify(cluster, {1, 4, 5}, cars=3, duration=6, seed=5, drill=drill)
    finally:
        lab_agent.stop(cluster)
    assert report.figures["killed_at_s"] == 3.0 and report.figures["agent_down_s"] > 0
    failed = [c for c in report.checks if not c.ok]
    assert report.ok, failed
    assert check(report, "0 duplicates").measured == "0"
    assert check(report, "0 missing").measured.startswith("0 of ")
    # the book's agent, same drill, same lab
    lab_agent.start(cluster)
    try:
        drill = AgentKill(cluster, parse_share("50%"), duration=6)
        report = verify(cluster, {5}, cars=3, duration=6, seed=6, drill=drill)
    finally:
        lab_agent.stop(cluster)
    lost = not check(report, "0 missing").ok
    repeated = not check(report, "0 duplicates").ok
    assert lost or repeated, "killing an at-least-once exec agent mid-run should cost something"
