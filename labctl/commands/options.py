"""Options several commands share: the lab home, and the backend (its kinds from the table)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labctl.backends import BACKENDS, DEFAULT_BACKEND

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", readable=False, help="Lab home (default $LABCTL_HOME or ./.lab)."),
]  # readable=False: labctl says itself, with exit 5, what is wrong with a home


def backend_kind(value: str) -> str:
    """One of the kinds in ``labctl.backends.BACKENDS``, or a usage error naming them."""
    if value not in BACKENDS:
        kinds = ", ".join(repr(kind) for kind in BACKENDS)
        raise typer.BadParameter(f"{value!r} is not one of {kinds}.")
    return value


BackendOption = Annotated[
    str,
    typer.Option(parser=backend_kind, metavar=f"[{'|'.join(BACKENDS)}]",
                 help="; ".join(f"{kind}: {cls.help}" for kind, cls in BACKENDS.items()) + "."),
]  # fmt: skip

__all__ = ["DEFAULT_BACKEND", "BackendOption", "HomeOption"]
