"""`labctl explain [stage]`: what each pilot stage does, and which component does what."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from labctl.app import app, console
from labctl.pilot.stages import STAGES
from labctl.spec import ARCHITECTURES

EXACTLY_ONCE = """\
[bold]The book's pilot is at-least-once.[/] SmartCar_Agent's Kafka sink commits its channel
transaction once SmartCar-Topic acknowledged a batch. If the agent dies in between, the batch is
sent again after a restart: duplicates. And its driving-log source, exec [cyan]tail -F[/], cannot
read again what it printed before the crash: after a restart tail -F starts at the end (less its
last 10 lines, sent twice), so the lines written while the agent was down are lost.

[bold]Exactly-once[/] ([cyan]labctl pilot --exactly-once[/], docs/exactly-once.md) changes two
components:
  [bold]TAILDIR source[/]   follows SmartCarDriverInfo.log by byte offset, so it can read again
                   from any committed position;
  [bold]Kafka sink[/]       [cyan]exactlyOnce = true[/]: each batch and the read position it
                   completes go to Kafka in one transaction (transactional.id
                   SmartCar_Agent-DriverCarInfo_KafkaSink); after a crash the agent fences the
                   dead one's open transaction, reads the committed positions, and goes on
                   from there.
A consumer must read with [cyan]isolation.level=read_committed[/] ([cyan]labctl consume
--isolation read_committed[/]; verify's stage 5 does): an aborted batch is in the topic's log
but never delivered to it.

Try it: [cyan]labctl pilot --kill-agent-at 50%[/] kills the agent half-way through the run and
starts it again; stage 5 counts the missing and duplicated driving records. Then
[cyan]labctl pilot --exactly-once --kill-agent-at 50%[/]: none. Across agents (collectors ->
aggregator -> Kafka, the seed's architecture 4): [cyan]labctl example run flume-4 --exactly-once[/].
"""


@app.command()
def explain(
    what: Annotated[
        str | None,
        typer.Argument(
            help="A stage 1..5, `architectures` or `exactly-once` (every stage if omitted)."
        ),
    ] = None,
) -> None:
    """Explain the pilot's stages, the book's three Kafka architectures, or exactly-once, in
    the book's terms."""
    if what == "exactly-once":
        console.print(Panel(EXACTLY_ONCE, title="at-least-once and exactly-once in the pilot"))
        return
    if what is not None and what.startswith("arch"):
        table = Table(title="the book's Kafka architectures, and the command for each")
        for column in ("architecture", "command", "what runs where"):
            table.add_column(column)
        for arch in ARCHITECTURES:
            table.add_row(f"[bold]{arch.name}[/]", f"[cyan]{arch.command}[/]", arch.what)
        console.print(table)
        return
    if what is not None and what not in {str(s.number) for s in STAGES}:
        raise typer.BadParameter("a stage 1..5, architectures or exactly-once",
                                 param_hint="WHAT")  # fmt: skip
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
