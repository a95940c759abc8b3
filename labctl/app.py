"""The typer application and the shared console; command modules attach to ``app``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from rich.console import Console

from labctl.versions import KAFKA_VERSION

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


def package_version() -> str:
    try:
        return version("smartcar-lab")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        console.print(f"labctl {package_version()} (Apache Kafka {KAFKA_VERSION})")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """The smart-car data-collection lab: a real ZooKeeper + Kafka cluster, the Flume-equivalent
    agent, the simulator, and the pilot's stage checks."""
