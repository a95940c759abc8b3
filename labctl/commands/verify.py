"""`labctl verify --stage N|all`: the pilot's stage checks, PASS/FAIL with the measured numbers."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from labctl.app import app, console, err_console
from labctl.commands.options import HomeOption
from labctl.lab import open_lab
from labctl.paths import LabPaths, resolve_home
from labctl.pilot.design import agent_plan
from labctl.pilot.verify import verify
from labctl.views.progress import shown_steps
from labctl.views.report import render, topology_tree


def parse_stages(stage: str) -> set[int]:
    if stage == "all":
        return {1, 2, 3, 4, 5}
    try:
        stages = {int(s) for s in stage.split(",")}
    except ValueError:
        raise typer.BadParameter(
            "use 1..5, a list like 3,4, or all", param_hint="--stage"
        ) from None
    if not stages <= {1, 2, 3, 4, 5}:
        raise typer.BadParameter("stages are 1..5", param_hint="--stage")
    return stages


@app.command("verify")
def verify_cmd(
    stage: Annotated[
        str, typer.Option(metavar="[1|2|3|4|5|N,M|all]", help="1..5, a list (3,4) or all.")
    ] = "all",
    cars: Annotated[int, typer.Option(min=1, help="Cars for stages 3-5's run.")] = 5,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of driving logs.")] = 10,
    seed: Annotated[int | None, typer.Option(help="Simulator seed.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
    home: HomeOption = None,
) -> None:
    """Run the stage checks against the running lab; exit 1 if any fails."""
    stages = parse_stages(stage)  # a usage error (2) before anything else
    cluster = open_lab(LabPaths(resolve_home(home)))
    if 1 in stages and not as_json:
        console.print(topology_tree(agent_plan(cluster)))
    with shown_steps(err_console if as_json else console, cluster.paths, "verify") as steps:
        report = verify(cluster, stages, cars, duration, seed, steps)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        render(console, report)
    raise typer.Exit(0 if report.ok else 1)
