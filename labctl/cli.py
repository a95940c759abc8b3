"""Entry point of the ``labctl`` console script.

Commands are thin: parse arguments, call the lab, render the result. Each area's commands live
in ``labctl/commands/<area>.py`` and register on the shared ``app``.
"""

from __future__ import annotations

import sys

from labctl.app import app, err_console
from labctl.commands import (  # noqa: F401  (imported for their @app.command registrations)
    agent,
    cluster,
    compose,
    dashboard,
    example,
    explain,
    kafka,
    pilot,
    simulate,
    verify,
)
from labctl.errors import LabError


def main() -> None:
    try:
        app()
    except LabError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
