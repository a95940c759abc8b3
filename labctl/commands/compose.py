"""`labctl compose`: the lab's spec rendered as a compose file, for `docker compose` (the
shipped docker-compose.yml is this command's output with the defaults)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from labctl.app import app, console
from labctl.backends.base import AGENT
from labctl.backends.compose import FILE, AgentService, render, shipped_header, to_yaml
from labctl.examples import EXAMPLES
from labctl.examples.base import component_name, shipped_conf_path
from labctl.pilot.agent import AGENT_NAME, pilot_conf
from labctl.spec import ClusterSpec, TopicSpec


@app.command()
def compose(
    brokers: Annotated[int, typer.Option(min=1, max=9, help="Number of brokers.")] = 3,
    zookeepers: Annotated[int, typer.Option(help="ZooKeeper servers: 1 or 3.")] = 1,
    kraft: Annotated[
        bool, typer.Option("--kraft", help="KRaft controllers, no ZooKeeper.")
    ] = False,
    controllers: Annotated[int, typer.Option(help="KRaft controllers (with --kraft): 1 or 3.")] = 1,
    zookeeper_port: Annotated[int, typer.Option(min=1, max=65535)] = 2181,
    base_port: Annotated[int, typer.Option(min=1, max=65535)] = 9092,
    partitions: Annotated[int, typer.Option(min=1)] = 1,
    replication_factor: Annotated[int, typer.Option(min=0, help="0: min(3, brokers).")] = 0,
    agent: Annotated[bool, typer.Option(help="The pilot's agent (the book's ex3.4).")] = True,
    example: Annotated[
        str | None, typer.Option(help="An example's agents instead (flume-4).")
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write it here.")] = None,
) -> None:
    """Print the lab as a compose file (Compose Specification): the same servers, commands,
    ports and healthchecks as `labctl up --backend docker`, and the agents."""
    quorum = controllers if kraft else zookeepers
    if quorum not in (1, 3):
        raise typer.BadParameter("a quorum of 1 or 3 (an even count adds nothing)")
    if example is not None and example not in EXAMPLES:
        raise typer.BadParameter(f"choose one of {', '.join(EXAMPLES)}", param_hint="--example")
    topic = TopicSpec(partitions=partitions, replication_factor=replication_factor)
    spec = ClusterSpec(brokers, zookeeper_port, base_port, topic, backend="docker",
                       mode="kraft" if kraft else "zookeeper", quorum=quorum)  # fmt: skip
    where = (output.parent if output else Path.cwd()).resolve()
    target = replace(FILE, paths_from=where)
    agents: list[AgentService] = []
    if example is not None:
        for role, (conf, name, env) in EXAMPLES[example].compose_agents().items():
            component = component_name(example, role)
            agents.append(AgentService(component, name, shipped_conf_path(conf),
                                       f"agents/{component}", env, None,
                                       after=tuple(spec.broker_names)))  # fmt: skip
    elif agent:
        agents.append(AgentService(AGENT, AGENT_NAME, pilot_conf(), f"agents/{AGENT_NAME}"))
    text = to_yaml(render(spec, target, tuple(agents)), shipped_header(spec))
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text)
    console.print(f"wrote {output}: `docker compose -f {output} up -d --wait`", highlight=False)
