"""`labctl pilot`: from nothing to a verified pilot (up, agent, simulate, every stage)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from labctl.app import app, console
from labctl.cluster import Cluster, ClusterSpec
from labctl.commands.cluster import recorded_or
from labctl.commands.options import DEFAULT_BACKEND, BackendOption, HomeOption
from labctl.paths import LabPaths, resolve_home
from labctl.pilot import agent as lab_agent
from labctl.pilot.design import agent_plan
from labctl.pilot.drill import AgentKill, parse_share
from labctl.pilot.latency import latency_text
from labctl.pilot.reports import flows
from labctl.pilot.verify import verify
from labctl.views.progress import shown_steps
from labctl.views.report import render, topology_tree


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
    exactly_once: Annotated[
        bool,
        typer.Option(
            help="The driving log into Kafka exactly once: TAILDIR and a "
            "transactional Kafka sink (docs/exactly-once.md)."
        ),
    ] = False,
    kill_agent_at: Annotated[
        str | None,
        typer.Option(
            help="A drill: SIGKILL the agent at this share of the run (e.g. 50%) "
            "and start it again; stage 5 counts what it cost."
        ),
    ] = None,
    backend: BackendOption = DEFAULT_BACKEND,
    home: HomeOption = None,
) -> None:
    """The whole pilot: cluster up if needed, agent with the pilot config, a simulator run,
    and stages 1-5 verified against the simulator's manifests."""
    began = time.monotonic()
    paths = LabPaths(resolve_home(home))
    spec = recorded_or(paths, ClusterSpec(backend=backend), ctx)
    cluster = Cluster(paths, spec)
    conf = lab_agent.exactly_once_conf() if exactly_once else lab_agent.pilot_conf()
    drill = None
    if kill_agent_at is not None:
        drill = AgentKill(cluster, parse_share(kill_agent_at), duration)
    with shown_steps(console, paths, "pilot") as steps:
        steps.step("cluster: checking what runs")
        took = cluster.up(lambda msg: steps.step(f"cluster: {msg}"))
        running = lab_agent.state(paths).get("conf_file")
        eos = str(lab_agent.exactly_once_conf().resolve())
        other_mode = running is not None and (running == eos) != exactly_once
        if other_mode and lab_agent.running(cluster):
            steps.step(f"the agent runs {Path(str(running)).name}: stopping it for {conf.name}")
            lab_agent.stop(cluster)
        steps.step(f"starting the agent SmartCar_Agent ({conf.name})")
        where = lab_agent.start(cluster, conf=conf)
        report = verify(cluster, {1, 2, 3, 4, 5}, cars, duration, seed, steps, drill)
    console.print(f"cluster ready in {took:.1f} s (bootstrap {spec.bootstrap}); "
                  f"agent SmartCar_Agent running ({where})", highlight=False)  # fmt: skip
    console.print(topology_tree(agent_plan(cluster)))
    render(console, report)
    console.print(summary(report.figures, time.monotonic() - began))
    if drill is not None and "killed_at_s" in report.figures:
        f = report.figures
        missing = next((c.measured for c in report.checks if c.name == "0 missing"), "?")
        dupes = next((c.measured for c in report.checks if c.name == "0 duplicates"), "?")
        console.print(f"drill: agent SIGKILLed {f['killed_at_s']} s into the run, running again "
                      f"{f['agent_down_s']} s later; stage 5: {missing}; {dupes} duplicates "
                      + ("(exactly-once: none expected)" if exactly_once else
                         "(at-least-once, exec tail -F: lines written while it was down are "
                         "lost, the ones tail -F repeats are duplicates; try --exactly-once)"),
                      highlight=False)  # fmt: skip
    console.print(f"pilot {'PASSED' if report.ok else 'FAILED'}; report: "
                  f"{report.figures.get('report')}")  # fmt: skip
    console.print(
        "next: `labctl status`, `labctl agent status`, "
        "`labctl consume SmartCar-Topic --max-messages 5`, `labctl down`"
    )
    raise typer.Exit(0 if report.ok else 1)
