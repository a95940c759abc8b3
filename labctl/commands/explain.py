"""`labctl explain [stage]`: what each pilot stage does, and which component does what."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from labctl.app import app, console
from labctl.pilot.stages import STAGES
from labctl.spec import ARCHITECTURES


@app.command()
def explain(
    what: Annotated[
        str | None,
        typer.Argument(help="A stage 1..5, or `architectures` (every stage if omitted)."),
    ] = None,
) -> None:
    """Explain the pilot's stages, or the book's three Kafka architectures, in the book's terms."""
    if what is not None and what.startswith("arch"):
        table = Table(title="the book's Kafka architectures, and the command for each")
        for column in ("architecture", "command", "what runs where"):
            table.add_column(column)
        for arch in ARCHITECTURES:
            table.add_row(f"[bold]{arch.name}[/]", f"[cyan]{arch.command}[/]", arch.what)
        console.print(table)
        return
    if what is not None and what not in {str(s.number) for s in STAGES}:
        raise typer.BadParameter("a stage 1..5, or architectures", param_hint="WHAT")
    stage = None if what is None else int(what)
    for s in STAGES:
        if stage is not None and s.number != stage:
            continue
        table = Table(show_header=False, box=None)
        table.add_row("[cyan]what[/]", s.what)
        table.add_row("")
        for component, job in s.who:
            table.add_row(f"[bold]{component}[/]", job)
        table.add_row("")
        table.add_row("[green]verify checks[/]", s.check)
        console.print(Panel(table, title=f"stage {s.number}: {s.title}"))
