"""`labctl fetch-kafka / up / status / down / logs`: the lab's cluster, whatever its backend."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from labctl.app import app, console, err_console
from labctl.backends.base import AGENT
from labctl.cluster import Cluster, ClusterSpec, TopicSpec
from labctl.commands.options import DEFAULT_BACKEND, BackendOption, HomeOption
from labctl.errors import LabError, NotRunningError, UsageError
from labctl.kafka.dist import ensure_kafka
from labctl.lab import lab_spec, open_lab
from labctl.paths import LabPaths, resolve_home
from labctl.spec import purged
from labctl.status import cluster_status


@app.command("fetch-kafka")
def fetch_kafka() -> None:
    """Fetch the pinned Apache Kafka distribution from Maven Central into the cache."""
    with console.status("resolving Apache Kafka with Maven"):
        dist = ensure_kafka()
    console.print(f"Apache Kafka {dist.version} ready in {dist.root}")


@app.command()
def up(
    ctx: typer.Context,
    brokers: Annotated[int, typer.Option(min=1, max=9, help="Number of brokers.")] = 3,
    zookeepers: Annotated[
        int, typer.Option(help="ZooKeeper servers: 1, or 3 for a real ensemble.")
    ] = 1,
    kraft: Annotated[
        bool, typer.Option("--kraft", help="A KRaft controller quorum instead of ZooKeeper.")
    ] = False,
    controllers: Annotated[int, typer.Option(help="KRaft controllers (with --kraft): 1 or 3.")] = 1,
    zookeeper_port: Annotated[
        int,
        typer.Option(min=1, max=65535, help="First ZooKeeper client port (KRaft: controller)."),
    ] = 2181,
    base_port: Annotated[
        int, typer.Option(min=1, max=65535, help="First broker's port; the next add 1.")
    ] = 9092,
    partitions: Annotated[int, typer.Option(min=1, help="SmartCar-Topic partitions.")] = 1,
    replication_factor: Annotated[
        int, typer.Option(min=0, help="SmartCar-Topic RF (0: min(3, brokers)).")
    ] = 0,
    backend: BackendOption = DEFAULT_BACKEND,
    allow_colocated: Annotated[
        bool,
        typer.Option(
            "--allow-colocated",
            help="Swarm: let brokers share a node when the swarm has fewer nodes than brokers.",
        ),
    ] = False,
    home: HomeOption = None,
) -> None:
    """Start ZooKeeper and the brokers (idempotent) and wait until the cluster is ready."""
    quorum = controllers if kraft else zookeepers
    if quorum not in (1, 3):
        raise typer.BadParameter("a quorum of 1 or 3 (an even count adds nothing)")
    topic = TopicSpec(partitions=partitions, replication_factor=replication_factor)
    wanted = ClusterSpec(brokers, zookeeper_port, base_port, topic, backend=backend,
                         mode="kraft" if kraft else "zookeeper", quorum=quorum,
                         allow_colocated=allow_colocated)  # fmt: skip
    paths = LabPaths(resolve_home(home))
    spec = recorded_or(paths, wanted, ctx)
    if allow_colocated:
        spec.allow_colocated = True
    bring_up(Cluster(paths, spec))


def recorded_or(paths: LabPaths, wanted: ClusterSpec, ctx: typer.Context) -> ClusterSpec:
    """The lab already in the home, or ``wanted`` for a new one. Flags given on the command
    line that disagree with the recorded lab are an error, not silently ignored."""
    spec = lab_spec(paths)
    if spec is None:
        return wanted
    given = {name for name in ctx.params if _given(ctx, name)}
    flag_of = {"brokers": "brokers", "kraft": "mode", "zookeepers": "quorum",
               "controllers": "quorum", "zookeeper_port": "zookeeper_port",
               "base_port": "base_port", "partitions": "partitions",
               "replication_factor": "replication_factor", "backend": "backend"}  # fmt: skip
    have, want = spec.shape(), wanted.shape()
    keys = {flag_of[name] for name in given if name in flag_of}
    differ = sorted(key for key in keys if have[key] != want[key])
    if differ and purged(paths):  # nothing is left of that lab: the flags make a new one
        return wanted
    if differ:
        told = ", ".join(f"{key} {have[key]} (not {want[key]})" for key in differ)
        raise UsageError(
            f"the lab in {paths.home} already has {told}; run `labctl up` without those flags "
            "to start it as it is, or `labctl down --purge` first to make a new one."
        )
    return spec


def _given(ctx: typer.Context, name: str) -> bool:
    """Was this parameter given (command line or environment), not left at its default?"""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def bring_up(cluster: Cluster) -> None:
    """`up`'s work and report, shared with `pilot`."""
    spec = cluster.spec
    try:
        with console.status(f"starting the lab ({spec.backend} backend)") as status:
            took = cluster.up(lambda message: status.update(message))
    except KeyboardInterrupt:
        err_console.print("interrupted: what this `up` had started was stopped again")
        raise typer.Exit(130) from None
    console.print(
        f"[green]ready[/] in {took:.1f} s: {spec.describe()} ({cluster.backend.architecture.name}, "
        f"{spec.backend} backend), bootstrap [bold]{spec.bootstrap}[/], topic "
        f"{spec.topic.name} (partitions {spec.topic.partitions}, "
        f"RF {spec.topic.replication_factor})",
        highlight=False,
    )


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    home: HomeOption = None,
) -> None:
    """Show each component (where it runs, port, state, uptime) and what the brokers report."""
    cluster = open_lab(LabPaths(resolve_home(home)))
    data = cluster_status(cluster)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = Table(title=f"lab {data['home']}: {data['architecture']} ({data['backend']})")
    for column in ("component", "where", "port", "state", "uptime"):
        table.add_column(column)
    for row in data["components"]:
        state = "[green]running[/]" if row["state"] == "running" else "[red]stopped[/]"
        uptime = f"{row['uptime_s']:.0f} s" if row["uptime_s"] is not None else "-"
        table.add_row(row["component"], row["where"] or "-", str(row["port"]), state, uptime)
    table.add_row(AGENT, data["agent"] or "-", "", "[green]running[/]" if data["agent"]
                  else "[dim]not started[/]", "")  # fmt: skip
    console.print(table)
    console.print(f"started by {data['started_by']}", highlight=False)
    console.print(f"brokers in metadata: {data['brokers']}  controller: {data['controller']}")
    for part in data["partitions"]:
        console.print(f"{part['topic']}[{part['partition']}] leader {part['leader']} "
                      f"replicas {part['replicas']} isr {part['isr']}")  # fmt: skip
    if "error" in data:
        raise LabError(f"the brokers did not answer: {data['error']}")


@app.command()
def down(
    purge: Annotated[bool, typer.Option(help="Also delete data, logs (and volumes).")] = False,
    home: HomeOption = None,
) -> None:
    """Stop the agent, the brokers, then ZooKeeper (SIGTERM, SIGKILL after a timeout)."""
    cluster = open_lab(LabPaths(resolve_home(home)))
    stopped = cluster.down(purge=purge)
    if not stopped and not purge:
        raise NotRunningError(f"nothing of the lab in {cluster.paths.home} is running.")
    purged = " (data purged)" if purge else ""
    console.print(f"stopped: {', '.join(stopped) or 'nothing'}{purged}")


@app.command()
def logs(
    component: Annotated[str, typer.Argument(help="zookeeper, broker-0, broker-1, ..., agent")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
    home: HomeOption = None,
) -> None:
    """Print a component's log."""
    cluster = open_lab(LabPaths(resolve_home(home)))
    names = [*cluster.spec.ports(), AGENT]
    if component not in names:
        raise LabError(f"no component {component!r}; choose from {', '.join(names)}.")
    out = sys.stdout.buffer
    for chunk in cluster.backend.logs(component, follow):
        out.write(chunk)
        out.flush()
