"""Run an example against a lab and show its report when a check fails."""

from __future__ import annotations

from labctl.checks import Report
from labctl.cluster import Cluster
from labctl.examples import EXAMPLES, Scale


def run_example(name: str, cluster: Cluster, cars: int = 1, exactly_once: bool = False) -> Report:
    scale = Scale(cars=cars, seed=3, exactly_once=exactly_once)
    report = EXAMPLES[name].execute(cluster, scale, lambda _: None)
    failed = [f"{c.name}: {c.measured}" for c in report.checks if not c.ok]
    assert report.ok, f"{name} failed: {failed}"
    return report


def measured(report: Report, check: str) -> str:
    return next(c.measured for c in report.checks if c.name.startswith(check))
