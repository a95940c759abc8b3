"""`labctl verify --stage N|all`: the pilot's stage checks, PASS/FAIL with the measured numbers."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from labctl.app import app, console
from labctl.cluster import Cluster
from labctl.commands.cluster import HomeOption
from labctl.paths import LabPaths, resolve_home
from labctl.pilot.verify import Report, verify


def parse_stages(stage: str) -> set[int]:
    if stage == "all":
        return {1, 2, 3, 4, 5}
    try:
        stages = {int(s) for s in stage.split(",")}
    except ValueError:
        raise typer.BadParameter("use 1..5, a list like 3,4, or all") from None
    if not stages <= {1, 2, 3, 4, 5}:
        raise typer.BadParameter("stages are 1..5")
    return stages


def render(report: Report) -> None:
    table = Table(title="pilot checks")
    for col in ("stage", "check", "result", "measured", "what to look at"):
        table.add_column(col)
    for c in report.checks:
        result = "[green]PASS[/]" if c.ok else "[bold red]FAIL[/]"
        table.add_row(str(c.stage), c.name, result, c.measured, c.hint)
    console.print(table)
    if report.figures:
        console.print(", ".join(f"{k}={v}" for k, v in report.figures.items()))


@app.command("verify")
def verify_cmd(
    stage: Annotated[str, typer.Option(help="1..5, a list (3,4) or all.")] = "all",
    cars: Annotated[int, typer.Option(min=1, help="Cars for stages 3-5's run.")] = 5,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of driving logs.")] = 10,
    seed: Annotated[int | None, typer.Option(help="Simulator seed.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
    home: HomeOption = None,
) -> None:
    """Run the stage checks against the running lab; exit 1 if any fails."""
    cluster = Cluster.open(LabPaths(resolve_home(home)))
    report = verify(cluster, parse_stages(stage), cars, duration, seed)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        render(report)
    raise typer.Exit(0 if report.ok else 1)
