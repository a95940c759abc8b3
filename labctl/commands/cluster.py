"""`labctl fetch-kafka / up / status / down / logs`: the lab's cluster."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer
from confluent_kafka import KafkaException
from rich.table import Table

from labctl import docker_backend
from labctl.app import app, console
from labctl.cluster import Cluster, ClusterSpec, TopicSpec, load_spec
from labctl.errors import LabError, NotRunningError
from labctl.kafka.dist import ensure_kafka
from labctl.paths import LabPaths, resolve_home
from labctl.pilot import agent as lab_agent
from labctl.pilot.agent import managed as agent_managed

HomeOption = Annotated[
    Path | None, typer.Option("--home", help="Lab home (default $LABCTL_HOME or ./.lab).")
]


@app.command("fetch-kafka")
def fetch_kafka() -> None:
    """Fetch the pinned Apache Kafka distribution from Maven Central into the cache."""
    with console.status("resolving Apache Kafka with Maven"):
        dist = ensure_kafka()
    console.print(f"Apache Kafka {dist.version} ready in {dist.root}")


@app.command()
def up(
    brokers: Annotated[int, typer.Option(min=1, max=9, help="Number of brokers.")] = 3,
    zookeepers: Annotated[
        int, typer.Option(help="ZooKeeper servers: 1, or 3 for a real ensemble.")
    ] = 1,
    kraft: Annotated[
        bool, typer.Option("--kraft", help="A KRaft controller quorum instead of ZooKeeper.")
    ] = False,
    controllers: Annotated[int, typer.Option(help="KRaft controllers (with --kraft): 1 or 3.")] = 1,
    zookeeper_port: Annotated[
        int, typer.Option(help="First ZooKeeper client port (KRaft: controller port).")
    ] = 2181,
    base_port: Annotated[int, typer.Option(help="First broker's port; the next add 1.")] = 9092,
    partitions: Annotated[int, typer.Option(min=1, help="SmartCar-Topic partitions.")] = 1,
    replication_factor: Annotated[
        int, typer.Option(min=0, help="SmartCar-Topic RF (0: min(3, brokers)).")
    ] = 0,
    backend: Annotated[
        str, typer.Option(help="local (processes, the default) or docker (docker-compose.yml).")
    ] = "local",
    home: HomeOption = None,
) -> None:
    """Start ZooKeeper and the brokers (idempotent) and wait until the cluster is ready."""
    paths = LabPaths(resolve_home(home))
    spec = load_spec(paths)
    if backend not in ("local", "docker"):
        raise typer.BadParameter("backend is local or docker")
    if backend == "docker" or (spec is not None and spec.backend == "docker"):
        with console.status("starting the lab with Docker Compose") as status:
            took = docker_backend.up(paths, lambda message: status.update(message))
        console.print(f"[green]ready[/] in {took:.1f} s (Docker Compose): "
                      f"{docker_backend.docker_spec().describe()}")  # fmt: skip
        return
    if spec is None:
        topic = TopicSpec(partitions=partitions, replication_factor=replication_factor)
        quorum = controllers if kraft else zookeepers
        if quorum not in (1, 3):
            raise typer.BadParameter("a quorum of 1 or 3 (an even count adds nothing)")
        spec = ClusterSpec(brokers, zookeeper_port, base_port, topic,
                           mode="kraft" if kraft else "zookeeper", quorum=quorum)  # fmt: skip
    cluster = Cluster(paths, spec)
    with console.status("starting the lab") as status:
        took = cluster.up(lambda message: status.update(message))
    console.print(
        f"[green]ready[/] in {took:.1f} s: {spec.describe()}, "
        f"bootstrap [bold]{spec.bootstrap}[/], topic {spec.topic.name} "
        f"(partitions {spec.topic.partitions}, RF {spec.topic.replication_factor})"
    )


def cluster_status(cluster: Cluster) -> dict:
    """What `status` shows, as data: processes, then what the brokers report."""
    if cluster.spec.backend == "docker":
        components = docker_backend.components(cluster.paths)
    else:
        components = _process_rows(cluster)
    result: dict = {"home": str(cluster.paths.home), "mode": cluster.spec.mode,
                    "backend": cluster.spec.backend, "bootstrap": cluster.spec.bootstrap,
                    "components": components, "brokers": [], "controller": None,
                    "partitions": []}  # fmt: skip
    return _with_metadata(cluster, result)


def _process_rows(cluster: Cluster) -> list[dict]:
    components = []
    for managed, port in cluster.components():
        proc = managed.process()
        components.append({
            "component": managed.name, "port": port, "pid": proc.pid if proc else None,
            "state": "running" if proc else "stopped",
            "uptime_s": round(time.time() - proc.create_time(), 1) if proc else None,
        })  # fmt: skip
    return components


def _with_metadata(cluster: Cluster, result: dict) -> dict:
    components = result["components"]
    if not any(c["state"] == "running" for c in components[cluster.spec.quorum :]):
        return result
    try:
        metadata = cluster.admin().list_topics(timeout=5)
    except KafkaException as exc:
        result["error"] = str(exc)
        return result
    result["brokers"] = sorted(metadata.brokers)
    result["controller"] = metadata.controller_id
    topic = metadata.topics.get(cluster.spec.topic.name)
    if topic is not None:
        for pid, part in sorted(topic.partitions.items()):
            result["partitions"].append({"topic": topic.topic, "partition": pid,
                                         "leader": part.leader, "replicas": part.replicas,
                                         "isr": part.isrs})  # fmt: skip
    return result


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    home: HomeOption = None,
) -> None:
    """Show each component (pid, port, state, uptime) and what the brokers report."""
    cluster = Cluster.open(LabPaths(resolve_home(home)))
    data = cluster_status(cluster)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = Table(title=f"lab {data['home']}")
    for column in ("component", "pid", "port", "state", "uptime"):
        table.add_column(column)
    for row in data["components"]:
        state = "[green]running[/]" if row["state"] == "running" else "[red]stopped[/]"
        uptime = f"{row['uptime_s']:.0f} s" if row["uptime_s"] is not None else "-"
        table.add_row(row["component"], str(row["pid"] or "-"), str(row["port"]), state, uptime)
    console.print(table)
    console.print(f"brokers in metadata: {data['brokers']}  controller: {data['controller']}")
    for part in data["partitions"]:
        console.print(f"{part['topic']}[{part['partition']}] leader {part['leader']} "
                      f"replicas {part['replicas']} isr {part['isr']}")  # fmt: skip
    if "error" in data:
        raise LabError(f"the brokers did not answer: {data['error']}")


@app.command()
def down(
    purge: Annotated[bool, typer.Option(help="Also delete the data and logs.")] = False,
    home: HomeOption = None,
) -> None:
    """Stop the lab's agent, the brokers, then ZooKeeper (SIGTERM, SIGKILL after a timeout)."""
    cluster = Cluster.open(LabPaths(resolve_home(home)))
    if cluster.spec.backend == "docker":
        docker_backend.down(cluster.paths, purge)
        console.print("stopped the Docker Compose lab" + (" (volumes removed)" if purge else ""))
        return
    # The agent first: it drains into the brokers, and must not outlive a purged home.
    agent_stopped = ["agent"] if lab_agent.stop(cluster.paths) else []
    stopped = agent_stopped + cluster.down(purge=purge)
    if not stopped and not purge:
        raise NotRunningError(f"nothing of the lab in {cluster.paths.home} is running.")
    purged = " (data purged)" if purge else ""
    console.print(f"stopped: {', '.join(stopped) or 'nothing'}{purged}")


@app.command()
def logs(
    component: Annotated[str, typer.Argument(help="zookeeper, broker-0, broker-1, ...")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
    home: HomeOption = None,
) -> None:
    """Print a component's log file."""
    cluster = Cluster.open(LabPaths(resolve_home(home)))
    if cluster.spec.backend == "docker":
        if component not in docker_backend.SERVICES:
            raise LabError(f"no service {component!r}; choose from "
                           f"{', '.join(docker_backend.SERVICES)}.")  # fmt: skip
        docker_backend.require_engine()
        subprocess.run(docker_backend.compose_argv("logs", *(["-f"] if follow else []),
                                                   component), check=False)  # fmt: skip
        return
    names = {managed.name: managed for managed, _ in cluster.components()}
    names["agent"] = agent_managed(cluster.paths)
    if component not in names:
        raise LabError(f"no component {component!r}; choose from {', '.join(names)}.")
    log = names[component].log_file
    if not log.exists():
        raise NotRunningError(f"{component} has no log yet ({log}).")
    subprocess.run(["tail", "-n", "+1", *(["-F"] if follow else []), str(log)], check=False)
