"""A report's checks as a table, and stage 1's picture of the agent (what `verify`, `pilot`
and `example run` print)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from agents.config.topology import AgentPlan
from labctl.checks import Report


def topology_tree(plan: AgentPlan) -> Tree:
    """Stage 1's picture: each source, its interceptors, its channel and the sink on it."""
    tree = Tree(f"[bold]{plan.agent}[/] ({plan.file})")
    for src in plan.sources.values():
        node = tree.add(f"source [cyan]{src.name}[/] ({src.type_name})")
        for i in src.interceptors:
            regex = i.context.get("regex")
            node = node.add(f"interceptor {i.name} ({i.type_name}{' ' + regex if regex else ''})")
        for ch_name in src.channels:
            ch = plan.channels[ch_name]
            ch_node = node.add(f"channel [yellow]{ch_name}[/] ({ch.type_name}, capacity "
                               f"{ch.context.get('capacity') or 'default'})")  # fmt: skip
            for sink in plan.sinks.values():
                if sink.channels[0] == ch_name:
                    topic = sink.context.get("topic") or sink.context.get("kafka.topic")
                    ch_node.add(f"sink [green]{sink.name}[/] ({sink.type_name}"
                                f"{' -> ' + topic if topic else ''})")  # fmt: skip
    return tree


def render(console: Console, report: Report, title: str = "pilot checks",
           step: str = "stage") -> None:  # fmt: skip
    table = Table(title=title)
    for col in (step, "check", "result", "measured", "what to look at"):
        table.add_column(col)
    for c in report.checks:
        result = "[green]PASS[/]" if c.ok else "[bold red]FAIL[/]"
        table.add_row(str(c.stage), c.name, result, c.measured, c.hint)
    console.print(table)
    if report.figures:
        console.print(", ".join(f"{k}={v}" for k, v in report.figures.items()))
