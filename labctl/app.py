"""The typer application and the shared console; command modules attach to ``app``."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="labctl",
    help="The smart-car data-collection lab: a real ZooKeeper + Kafka cluster, the Flume-"
    "equivalent agent, the simulator, and the pilot's stage checks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)
