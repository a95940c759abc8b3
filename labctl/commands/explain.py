"""`labctl explain [stage]`: what each pilot stage does, and which component does what."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from labctl.app import app, console
from labctl.pilot.stages import STAGES


@app.command()
def explain(
    stage: Annotated[
        int | None, typer.Argument(min=1, max=5, help="1..5 (all if omitted).")
    ] = None,
) -> None:
    """Explain the pilot's stages in the book's terms."""
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
