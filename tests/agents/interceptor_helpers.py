"""Configure an interceptor from properties, as the topology would."""

from __future__ import annotations

from typing import Any

from agents.config.context import Context, Raw


def configured(cls: type, ok: bool = True, /, **props: str) -> Any:
    """An instance of *cls* configured with *props* (as strings), started; with ``ok`` its
    config must have no problem, else the instance comes back with ``problems`` set."""
    comp = cls("i")
    ctx = Context("i.conf", "a.sources.s.interceptors.i", {k: Raw(v, 1) for k, v in props.items()})
    comp.configure(ctx)
    if ok:
        assert not ctx.problems, ctx.problems
        comp.start()
    comp.problems = "\n".join(str(p) for p in ctx.problems)
    return comp
