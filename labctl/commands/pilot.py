"""`labctl pilot`: from nothing to a verified pilot (up, agent, simulate, every stage)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from labctl.app import app, console
from labctl.cluster import Cluster, ClusterSpec, load_spec
from labctl.commands.cluster import HomeOption
from labctl.commands.verify import render
from labctl.paths import LabPaths, resolve_home
from labctl.pilot import agent as lab_agent
from labctl.pilot.verify import verify


@app.command()
def pilot(
    cars: Annotated[int, typer.Option(min=1, help="Smart cars simulated.")] = 100,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of driving logs.")] = 60,
    seed: Annotated[int | None, typer.Option(help="Simulator seed.")] = None,
    home: HomeOption = None,
) -> None:
    """The whole pilot: cluster up if needed, agent with the pilot config, a simulator run,
    and stages 1-5 verified against the simulator's manifests."""
    began = time.monotonic()
    paths = LabPaths(resolve_home(home))
    spec = load_spec(paths) or ClusterSpec()
    cluster = Cluster(paths, spec)
    with console.status("bringing the cluster up") as st:
        took = cluster.up(lambda msg: st.update(msg))
    console.print(f"cluster ready in {took:.1f} s (bootstrap {spec.bootstrap})")
    pid = lab_agent.start(paths, spec)
    console.print(f"agent SmartCar_Agent running (pid {pid})")
    with console.status(f"simulating {cars} cars for {duration:g} s and checking every stage"):
        report = verify(cluster, {1, 2, 3, 4, 5}, cars, duration, seed)
    render(report)
    console.print(
        f"pilot {'PASSED' if report.ok else 'FAILED'} in "
        f"{time.monotonic() - began:.0f} s; report: {report.figures.get('report')}"
    )
    console.print(
        "next: `labctl status`, `labctl agent status`, "
        "`labctl consume SmartCar-Topic --max-messages 5`, `labctl down`"
    )
    raise typer.Exit(0 if report.ok else 1)
