"""`labctl top`: the collector's snapshot in the terminal with rich, refreshed live; q quits.

``render`` turns one snapshot into a renderable (the agent's flows as a tree with events/s,
the chart as sparklines, the cluster, the newest checks and the pilot summary); ``run_top``
keeps it on screen until q or Ctrl-C.
"""

from __future__ import annotations

import math
import os
import select
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from labctl.dashboard.collector import HISTORY_S, Collector
from labctl.dashboard.model import AgentView, ClusterView, Edge, Node, PilotView, Snapshot
from labctl.pilot.latency import latency_text

SPARKS = "▁▂▃▄▅▆▇█"
FIRST_SAMPLE_TIMEOUT_S = 15.0


# -- formatting ---------------------------------------------------------------------------
def rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}/s" if value >= 10 or value == 0 else f"{value:.1f}/s"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def state(ok: bool, text: str) -> Text:
    return Text(text, style="bold green" if ok else "bold white on red")


def sparkline(values: list[float | None], top: float) -> str:
    """One block per value on a log scale up to ``top`` (so a day file's burst and the driving
    log's steady flow both show); a blank where nothing was sampled."""
    last = len(SPARKS) - 1
    scale = math.log10(1 + top)
    return "".join(" " if v is None else SPARKS[min(round(math.log10(1 + v) / scale * last), last)]
                   for v in values)  # fmt: skip


def plain_table(*columns: str, right: tuple[str, ...] = (), expand: bool = False) -> Table:
    """A borderless table; the ``right`` columns hold numbers (right-aligned)."""
    table = Table(box=None, pad_edge=False, expand=expand)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    return table


# -- parts ----------------------------------------------------------------------------------
def _node_label(node: Node, via: Edge | None) -> Text:
    label = Text()
    if via is not None:
        label.append(f"{rate(via.rate) if via.counter else '-'} → ", style="cyan")
    label.append(f"{node.kind} ", style="dim")
    label.append(node.name, style="bold")
    label.append(f" ({node.type}) ", style="dim")
    label.append_text(state(node.ok, "ok" if node.ok and node.kind == "topic" else node.health))
    if node.kind == "channel" and node.capacity and node.size is not None:
        fill = (node.size or 0) / node.capacity
        label.append(f"  fill {count(node.size)} / {count(node.capacity)} ({fill:.0%})")
    elif node.detail:
        label.append(f"  {node.detail}", style="dim")
    return label


def agent_tree(agent: AgentView) -> Tree:
    """Each source's flow: source -> interceptors -> channel -> sink -> topic, edges as rates."""
    head = Text(f"agent {agent.name} ", style="bold")
    if agent.running:
        head.append(f"{agent.where or 'pid ?'} · in {rate(agent.in_rate)} · "
                    f"out {rate(agent.out_rate)}")  # fmt: skip
    else:
        head.append_text(state(False, f"not running: {agent.problem}"))
    tree = Tree(head)
    nodes = {n.id: n for n in agent.nodes}
    leaving: dict[str, list[Edge]] = {}
    for edge in agent.edges:
        leaving.setdefault(edge.source, []).append(edge)

    def grow(branch: Tree, node_id: str) -> None:
        for edge in leaving.get(node_id, []):
            grow(branch.add(_node_label(nodes[edge.target], edge)), edge.target)

    entered = {e.target for e in agent.edges}
    for node in agent.nodes:
        if node.id not in entered:
            grow(tree.add(_node_label(node, None)), node.id)
    return tree


def chart(history: tuple[tuple[float, float, float], ...], width: int, now: float) -> Table:
    """Events/s in and out over the last 10 minutes, one character per time bucket."""
    buckets: list[list[tuple[float, float]]] = [[] for _ in range(width)]
    for at, rate_in, rate_out in history:
        slot = min(int((at - (now - HISTORY_S)) / HISTORY_S * width), width - 1)
        if slot >= 0:
            buckets[slot].append((rate_in, rate_out))
    ins = [max((b[0] for b in bucket), default=None) for bucket in buckets]
    outs = [max((b[1] for b in bucket), default=None) for bucket in buckets]
    top = max([v for v in (*ins, *outs) if v is not None] + [1.0])
    last = history[-1] if history else (0.0, 0.0, 0.0)
    table = Table.grid(padding=(0, 1))
    table.add_row(Text("in ", style="bold blue"), Text(sparkline(ins, top), style="blue"),
                  rate(last[1]))  # fmt: skip
    table.add_row(Text("out", style="bold green"), Text(sparkline(outs, top), style="green"),
                  rate(last[2]))  # fmt: skip
    table.add_row("", Text(f"-10 min … now, log scale, peak {rate(top)}", style="dim"), "")
    return table


def cluster_part(cluster: ClusterView | None) -> RenderableType:
    if cluster is None:
        return Text("no cluster: start one with `labctl up`", style="bold red")
    members = plain_table("member", "role", "port", "state", "uptime", "where",
                          right=("port", "uptime"))  # fmt: skip
    for m in cluster.members:
        word = "up" if m.ok else ("not in metadata" if m.running else "down")
        uptime = f"{m.uptime_s:.0f} s" if m.uptime_s is not None else "-"
        members.add_row(m.name + (" ★" if m.is_controller else ""), m.role, str(m.port),
                        state(m.ok, word), uptime, m.where or "-")  # fmt: skip
    parts = plain_table("partition", "leader", "ISR", "end offset", "rate",
                        right=("end offset", "rate"))  # fmt: skip
    for p in cluster.partitions:
        isr = Text(",".join(map(str, p.isr)), style="" if p.ok else "bold white on red")
        parts.add_row(f"{p.topic}[{p.partition}]", str(p.leader) if p.leader >= 0 else "none",
                      isr, count(p.end_offset), rate(p.rate))  # fmt: skip
    groups = plain_table("group", "state", "members", "lag", right=("members", "lag"))
    for g in cluster.groups:
        groups.add_row(g.group_id, g.state, str(g.members), count(g.lag))
    if not cluster.groups:
        groups.add_row(Text("no consumer group", style="dim"), "", "", "")
    title = Text(f"{cluster.mode} · {cluster.backend} · controller {cluster.controller}")
    extra = [Text(cluster.problem, style="red")] if cluster.problem else []
    return Group(title, members, Text(""), parts, Text(""), groups, *extra)


def checks_part(snap: Snapshot) -> Table:
    table = plain_table("stage", "result", "measured / what to look at", expand=True)
    for s in snap.stages:
        if s.ok is None:
            table.add_row(f"{s.stage} {s.title}", Text("not checked", style="dim"), "")
            continue
        bad = [c for c in s.checks if not c["ok"]]
        shown = bad[0] if bad else s.checks[-1]
        text = f"{shown['name']}: {shown['measured']}" + (f" — {shown['hint']}" if bad else "")
        table.add_row(f"{s.stage} {s.title}", state(bool(s.ok), "PASS" if s.ok else "FAIL"), text)
    return table


def pilot_part(pilot: PilotView | None) -> RenderableType:
    if pilot is None:
        return Text("no full run yet: `labctl pilot`", style="dim")
    table = plain_table("flow", "generated", "filtered", "delivered", "where",
                        right=("generated", "filtered", "delivered"))  # fmt: skip
    for f in pilot.flows:
        table.add_row(f.flow, count(f.generated), count(f.filtered), count(f.delivered), f.where)
    fig = pilot.figures
    line = (f"{'PASSED' if pilot.ok else 'FAILED'} {pilot.at} · throughput "
            f"{fig.get('throughput_rps', '-')} records/s · {latency_text(fig)}")  # fmt: skip
    return Group(Text(line, style="green" if pilot.ok else "red"), table)


def render(snap: Snapshot, width: int = 120) -> RenderableType:
    """The whole picture of one snapshot."""
    head = Text(f"labctl top · {snap.home}", style="bold")
    head.append(time.strftime("  %H:%M:%S", time.localtime(snap.at)) if snap.at else "")
    head.append("   q quits", style="dim")
    parts: list[RenderableType] = [head]
    if not snap.lab:
        parts.append(Text("no lab here yet: `labctl up` or `labctl pilot`", style="yellow"))
    if snap.progress is not None:
        p = snap.progress
        left = f", about {p.left_s:.0f} s left" if p.left_s is not None else ""
        records = f", {p.records:,} records so far" if p.records is not None else ""
        parts.append(Text(f"labctl {p.command}: {p.step}{records}{left}", style="yellow"))
    parts.extend(Text(problem, style="red") for problem in snap.problems)
    if snap.agent is not None:
        parts.append(Panel(agent_tree(snap.agent), title="agent", title_align="left"))
    graph = chart(snap.history, max(width - 20, 10), snap.at or time.time())
    parts.append(Panel(graph, title="events/s, last 10 minutes", title_align="left"))
    parts.append(Panel(cluster_part(snap.cluster), title="cluster", title_align="left"))
    parts.append(Panel(Group(checks_part(snap), Text(""), pilot_part(snap.pilot)),
                       title="pilot checks (newest verify per stage)",
                       title_align="left"))  # fmt: skip
    return Group(*parts)


# -- the live loop ------------------------------------------------------------------------
@contextmanager
def keys(on_key: Callable[[str], None]) -> Iterator[None]:
    """Single key presses from a terminal stdin (cbreak mode, restored after); nothing if
    stdin is not a terminal."""
    if not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            if select.select([fd], [], [], 0.1)[0]:
                on_key(os.read(fd, 1).decode(errors="replace"))

    tty.setcbreak(fd)
    reader = threading.Thread(target=read, name="top-keys", daemon=True)
    reader.start()
    try:
        yield
    finally:
        done.set()
        reader.join(1)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_top(collector: Collector, console: Console, once: bool = False) -> None:
    """Show the lab live until q (or Ctrl-C); ``once``: print one complete picture."""
    collector.start()
    try:
        collector.wait_complete(FIRST_SAMPLE_TIMEOUT_S, samples=2 if once else 1)
        if once:
            console.print(render(collector.snapshot(), console.width))
            return
        quit_ = threading.Event()
        with keys(lambda key: quit_.set() if key in "qQ" else None), Live(
            render(collector.snapshot(), console.width), console=console, screen=True,
            auto_refresh=False,
        ) as live:  # fmt: skip
            version = collector.version
            while not quit_.is_set():
                newer = collector.wait_newer(version, 0.2)
                if newer != version:
                    version = newer
                    live.update(render(collector.snapshot(), console.width), refresh=True)
    except KeyboardInterrupt:
        pass
    finally:
        collector.stop(timeout=1.0)
