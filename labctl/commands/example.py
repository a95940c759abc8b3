"""`labctl example list|run`: the seed's four Flume architectures, each one command."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from labctl.app import app, console, err_console
from labctl.commands.options import HomeOption
from labctl.examples import EXAMPLES, Scale
from labctl.lab import open_lab
from labctl.paths import LabPaths, resolve_home
from labctl.views.report import render

example_app = typer.Typer(help="The seed's four Flume architectures, run in the lab.",
                          no_args_is_help=True)  # fmt: skip
app.add_typer(example_app, name="example")


@example_app.command("list")
def list_examples() -> None:
    """The examples, what each runs and which seed figure it is."""
    table = Table(title="labctl example run <name>")
    for col in ("name", "what runs", "seed figure", "brokers"):
        table.add_column(col)
    for ex in EXAMPLES.values():
        table.add_row(ex.name, ex.title, ex.figure, str(ex.brokers or "-"))
    console.print(table)
    console.print("docs/examples/<name>.md draws each; run `labctl up` first.")


@example_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(EXAMPLES)}.")],
    cars: Annotated[int, typer.Option(min=1, max=50, help="Cars a status day file.")] = 2,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
    exactly_once: Annotated[
        bool, typer.Option(help="flume-4 only: write into Kafka exactly once (read committed).")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Run one example in the lab (agents as processes or containers, as the lab's backend
    runs them); exit 1 if a check fails."""
    if name not in EXAMPLES:
        raise typer.BadParameter(f"choose one of {', '.join(EXAMPLES)}", param_hint="NAME")
    if exactly_once and name != "flume-4":
        raise typer.BadParameter("only flume-4 has an exactly-once variant",
                                 param_hint="--exactly-once")  # fmt: skip
    example = EXAMPLES[name]
    cluster = open_lab(LabPaths(resolve_home(home)))
    out = err_console if as_json else console
    with out.status(f"{name}: starting") as status:
        report = example.execute(cluster, Scale(cars, seed, exactly_once),
                                 lambda what: status.update(f"{name}: {what}"))  # fmt: skip
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        render(console, report, f"{name}: {example.title}", "arch")
    raise typer.Exit(0 if report.ok else 1)
