"""`labctl pilot`: from nothing to a verified pilot (up, agent, simulate, every stage)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from labctl.app import app, console
from labctl.cluster import Cluster, ClusterSpec
from labctl.commands.cluster import BackendName, BackendOption, HomeOption, recorded_or
from labctl.commands.verify import render, topology_tree
from labctl.paths import LabPaths, resolve_home
from labctl.pilot import agent as lab_agent
from labctl.pilot.latency import latency_text
from labctl.pilot.reports import flows
from labctl.pilot.verify import agent_plan, verify
from labctl.views.progress import shown_steps


def summary(f: dict, seconds: float) -> Table:
    """Generated / filtered / delivered per flow, and the run's figures."""
    table = Table(title="pilot summary")
    for col in ("flow", "generated lines", "filtered", "delivered", "where"):
        table.add_column(col, justify="right" if col != "where" and col != "flow" else "left")
    for flow in flows(f):
        table.add_row(flow.flow, f"{flow.generated:,}", f"{flow.filtered:,}",
                      f"{flow.delivered:,}", flow.where)  # fmt: skip
    table.caption = (
        f"throughput {f.get('throughput_rps', '-')} records/s into Kafka; {latency_text(f)}; "
        f"pilot took {seconds:.0f} s"
    )
    return table


@app.command()
def pilot(
    ctx: typer.Context,
    cars: Annotated[int, typer.Option(min=1, help="Smart cars simulated.")] = 100,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of driving logs.")] = 60,
    seed: Annotated[int | None, typer.Option(help="Simulator seed.")] = None,
    backend: BackendOption = BackendName.local,
    home: HomeOption = None,
) -> None:
    """The whole pilot: cluster up if needed, agent with the pilot config, a simulator run,
    and stages 1-5 verified against the simulator's manifests."""
    began = time.monotonic()
    paths = LabPaths(resolve_home(home))
    spec = recorded_or(paths, ClusterSpec(backend=backend.value), ctx)
    cluster = Cluster(paths, spec)
    with shown_steps(console, paths, "pilot") as steps:
        steps.step("cluster: checking what runs")
        took = cluster.up(lambda msg: steps.step(f"cluster: {msg}"))
        steps.step("starting the agent SmartCar_Agent")
        where = lab_agent.start(paths, spec)
        report = verify(cluster, {1, 2, 3, 4, 5}, cars, duration, seed, steps)
    console.print(f"cluster ready in {took:.1f} s (bootstrap {spec.bootstrap}); "
                  f"agent SmartCar_Agent running ({where})", highlight=False)  # fmt: skip
    console.print(topology_tree(agent_plan(cluster)))
    render(report)
    console.print(summary(report.figures, time.monotonic() - began))
    console.print(f"pilot {'PASSED' if report.ok else 'FAILED'}; report: "
                  f"{report.figures.get('report')}")  # fmt: skip
    console.print(
        "next: `labctl status`, `labctl agent status`, "
        "`labctl consume SmartCar-Topic --max-messages 5`, `labctl down`"
    )
    raise typer.Exit(0 if report.ok else 1)
