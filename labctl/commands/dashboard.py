"""`labctl dashboard` (the lab live in the browser) and `labctl top` (the same in the terminal)."""

from __future__ import annotations

from typing import Annotated

import typer

from labctl.app import app, console
from labctl.cluster import port_free
from labctl.commands.options import HomeOption
from labctl.dashboard import Collector
from labctl.errors import PortInUseError
from labctl.lab import lab_spec
from labctl.paths import LabPaths, resolve_home

DEFAULT_PORT = 8765


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = DEFAULT_PORT,
    home: HomeOption = None,
) -> None:
    """Serve the lab live on http://127.0.0.1:PORT/: the agent's topology with events/s, the
    cluster, a 10-minute chart, the newest stage checks and the pilot summary (Ctrl-C stops)."""
    from labctl.dashboard.web import HOST, serve

    paths = LabPaths(resolve_home(home))
    lab_spec(paths)  # a foreign or damaged home fails now, in one sentence; a Compose lab is found
    if not port_free(port):
        raise PortInUseError(f"port {port} is taken; pick another with --port.")
    console.print(f"dashboard of {paths.home} on [bold]http://{HOST}:{port}/[/] (Ctrl-C stops)")
    serve(Collector(paths), port)


@app.command()
def top(
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between samples.")] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Print one picture and exit.")] = False,
    home: HomeOption = None,
) -> None:
    """The same live picture in the terminal, like `vector top`; q quits."""
    from labctl.dashboard.top import run_top

    paths = LabPaths(resolve_home(home))
    lab_spec(paths)
    run_top(Collector(paths, interval), console, once=once)
