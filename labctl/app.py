"""The typer application and the shared console; command modules attach to ``app``."""

from __future__ import annotations

import os
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
    project: Annotated[
        str | None,
        typer.Option(
            envvar="LABCTL_PROJECT",
            help="The Compose project of the lab, where several could be the home's.",
        ),
    ] = None,
) -> None:
    """The smart-car data-collection lab: a real ZooKeeper + Kafka cluster, the Flume-equivalent
    agent, the simulator, and the pilot's stage checks."""
    if project:
        os.environ["LABCTL_PROJECT"] = project  # read where the lab is opened (labctl.lab)
