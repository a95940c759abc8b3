"""`labctl agent start|stop|status`: the lab's Flume-equivalent agent as a detached process."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from labctl.app import app, console
from labctl.commands.options import HomeOption
from labctl.errors import NotRunningError, UsageError
from labctl.lab import open_lab
from labctl.paths import LabPaths, resolve_home
from labctl.pilot import agent as lab_agent
from labctl.ports import port_free

agent_app = typer.Typer(help="Run the lab's agent (python -m agents) with the pilot config.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(agent_app, name="agent")


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


@agent_app.command("start")
def start(
    conf_file: Annotated[
        Path | None, typer.Option(help="Agent config (default: the pilot's).")
    ] = None,
    example: Annotated[
        str, typer.Option(help=f"The book's example to run: {', '.join(lab_agent.EXAMPLES)}.")
    ] = lab_agent.PILOT_EXAMPLE,
    name: Annotated[str, typer.Option(help="Agent name in the config.")] = lab_agent.AGENT_NAME,
    monitoring_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Metrics port on 127.0.0.1 (default: any free)."),
    ] = None,
    log_level: Annotated[LogLevel, typer.Option(help="The agent's log level.")] = LogLevel.INFO,
    home: HomeOption = None,
) -> None:
    """Start the agent (no-op if it runs); returns when its metrics endpoint answers."""
    cluster = open_lab(LabPaths(resolve_home(home)))
    if example not in lab_agent.EXAMPLES:
        raise typer.BadParameter(f"choose one of {', '.join(lab_agent.EXAMPLES)}")
    if conf_file is not None and not conf_file.is_file():
        raise UsageError(f"the agent config {conf_file} is not a file.")
    if monitoring_port is not None and not port_free(monitoring_port):
        raise UsageError(f"--monitoring-port {monitoring_port} is taken by another program; "
                         "pick another or leave it out for any free port.")  # fmt: skip
    conf = conf_file or lab_agent.pilot_conf(example)
    where = lab_agent.start(cluster, conf, name, monitoring_port, log_level.value)
    console.print(f"agent {name} running ({where}); log: {lab_agent.log_file(cluster.paths)}",
                  highlight=False)  # fmt: skip


@agent_app.command("stop")
def stop(home: HomeOption = None) -> None:
    """Stop the agent gracefully (it drains its channels first)."""
    if not lab_agent.stop(open_lab(LabPaths(resolve_home(home)))):
        raise NotRunningError("the agent is not running.")
    console.print("agent stopped")


@agent_app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    home: HomeOption = None,
) -> None:
    """Is the agent up, and its components' counters (from its /metrics)."""
    cluster = open_lab(LabPaths(resolve_home(home)))
    where = lab_agent.running(cluster)
    if where is None:
        raise NotRunningError("the agent is not running.")
    data = lab_agent.metrics(cluster.paths)
    if as_json:
        pid = lab_agent.state(cluster.paths).get("pid")
        console.print_json(json.dumps({"where": where, "pid": pid, "metrics": data}))
        return
    table = Table(title=f"agent ({where})")
    for col in ("component", "health", "in", "out"):
        table.add_column(col)
    for key, m in data.items():
        ins = (
            m.get("EventForwardedCount")  # a source's events after its interceptors
            or m.get("EventPutSuccessCount")
            or m.get("EventDrainAttemptCount", "")
        )
        outs = m.get("EventTakeSuccessCount") or m.get("EventDrainSuccessCount", "")
        table.add_row(key, str(m.get("Health")), str(ins), str(outs))
    console.print(table)
