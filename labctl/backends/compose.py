"""One description of a lab: its spec rendered as a Compose project (a plain compose file, the
Compose Specification), for every shape `labctl up` takes.

The same functions serve two targets. ``FILE`` renders what users run with ``docker compose``
(the shipped ``docker-compose.yml`` is ``labctl compose`` with the defaults, and a test keeps them
byte-identical): the lab home, the ports and the agent's user are variables with the lab's
defaults (``${LABCTL_HOME:-./.lab}``, ``${SMARTCAR_PORT_BROKER_0:-9092}``, ...). The Docker
backend renders the same services with the values themselves (``Target.values``) and applies
them through the Docker SDK, with the labels Compose writes (``labels``), so either tool sees
the other's lab. A Swarm stack would add its ``deploy`` sections to the same services.

Services: the quorum (``zookeeper[-N]`` or ``controller-N``), ``broker-N``, the one-shot
``topic`` (creates the lab's topic and puts every partition on its preferred leader, as `up`
does), and agents: the pilot's ``agent``, or an example's ``agent-<example>-<role>``. An agent
sees the lab home at ``/lab/home`` (working dirs, its log ``logs/<component>.log`` and state
``agents/<name>``), and the same ``SMARTCAR_*`` variables as under every backend.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labctl.backends.base import AgentLaunch
from labctl.backends.container import (
    AGENT_CONF,
    AGENT_METRICS_PORT,
    SECOND,
    container_port,
    healthcheck,
    server_command,
    topic_command,
)
from labctl.backends.image import IMAGE
from labctl.kafka.config import CONTAINER_DATA, Bridge
from labctl.spec import ClusterSpec

COMPOSE_VERSION = "2.40.3"  # the Compose release whose labels labctl writes
LAB_HOME = "/lab/home"  # where an agent container sees the lab home
TOPIC_SERVICE = "topic"
LABEL = "com.docker.compose"  # the prefix of Compose's own labels
PROJECT_LABEL, SERVICE_LABEL = f"{LABEL}.project", f"{LABEL}.service"
HOME_LABEL = "smartcar-lab.home"  # labctl's own: the lab home of a container labctl started


@dataclass(frozen=True)
class Target:
    """What a rendering is for: a compose file people run (``FILE``), or the Docker backend's
    containers (``values``)."""

    home: str  # the lab home on the host, as the file or the engine names it
    user: str  # the agent's user:group
    image: str
    build: bool  # the file says how to build the image (`build: .`)
    variables: bool  # host ports as ${SMARTCAR_PORT_<SERVICE>:-<port>}
    paths_from: Path | None = None  # host paths relative to this folder (a file), else absolute

    @staticmethod
    def values(home: Path, image: str) -> Target:
        return Target(str(home), f"{os.getuid()}:{os.getgid()}", image, False, False)


FILE = Target("${LABCTL_HOME:-./.lab}", "${SMARTCAR_UID:-1000}:${SMARTCAR_GID:-1000}",
              f"{IMAGE}:latest", True, True)  # fmt: skip


@dataclass(frozen=True)
class AgentService:
    """One agent of the lab as a service: ``AgentLaunch`` in terms a container understands."""

    component: str  # its service (and host) name: "agent", "agent-<example>-<role>"
    name: str  # the agent's name in its config
    conf: Path  # its config on the host
    state: str  # its state dir, relative to the lab home ("agents/SmartCar_Agent")
    env: dict[str, str] = field(default_factory=dict)
    monitoring_port: int | None = AGENT_METRICS_PORT  # on the host's 127.0.0.1; None: any
    log_level: str = "INFO"
    after: tuple[str, ...] = (TOPIC_SERVICE,)  # started once these completed (or are healthy)

    @staticmethod
    def of(launch: AgentLaunch, home: Path) -> AgentService:
        state = launch.state_dir.resolve().relative_to(home.resolve())
        return AgentService(launch.component, launch.name, launch.conf_file, str(state),
                            dict(launch.env), launch.monitoring_port, launch.log_level,
                            after=())  # fmt: skip


def port_variable(service: str) -> str:
    return f"SMARTCAR_PORT_{service.upper().replace('-', '_')}"


def _host_port(service: str, port: int, target: Target) -> str:
    return f"${{{port_variable(service)}:-{port}}}" if target.variables else str(port)


def _shape_flags(spec: ClusterSpec, command: list[str], target: Target) -> list[str]:
    """A server's or the topic's command, its --base-port following broker-0's host port."""
    if target.variables and "--base-port" in command:
        at = command.index("--base-port") + 1
        command = [
            *command[:at],
            _host_port("broker-0", spec.base_port, target),
            *command[at + 1 :],
        ]
    return command


def _duration(ns: int) -> str:
    return f"{ns // SECOND}s"


def _healthcheck(name: str) -> dict[str, Any]:
    check = healthcheck(name)
    return {"test": check["test"], "interval": _duration(check["interval"]),
            "timeout": _duration(check["timeout"]), "retries": check["retries"],
            "start_period": _duration(check["start_period"])}  # fmt: skip


def _node(target: Target) -> dict[str, Any]:
    node: dict[str, Any] = {"image": target.image}
    if target.build:
        node["build"] = "."
    node["init"] = True
    return node


def server_service(spec: ClusterSpec, name: str, target: Target) -> dict[str, Any]:
    port = spec.ports()[name]
    service = {
        **_node(target), "hostname": name,
        "command": _shape_flags(spec, server_command(spec, name), target),
        "ports": [f"127.0.0.1:{_host_port(name, port, target)}:{container_port(name)}"],
        "volumes": [f"{name}-data:{CONTAINER_DATA}"],
    }  # fmt: skip
    if name.startswith("broker-"):
        service["depends_on"] = {q: {"condition": "service_healthy"} for q in spec.quorum_names}
    service["healthcheck"] = _healthcheck(name)
    return service


def topic_service(spec: ClusterSpec, target: Target) -> dict[str, Any]:
    healthy = {b: {"condition": "service_healthy"} for b in spec.broker_names}
    return {**_node(target), "command": _shape_flags(spec, topic_command(spec), target),
            "depends_on": healthy}  # fmt: skip


def agent_variables(spec: ClusterSpec, agent: AgentService) -> dict[str, str]:
    """The ``SMARTCAR_*`` variables an agent container's config sees (``Backend.agent_env``)."""
    brokers = Bridge().bootstrap(spec).split(",")
    return {"SMARTCAR_WORKING": f"{LAB_HOME}/working",
            "SMARTCAR_STATE": f"{LAB_HOME}/{agent.state}", "SMARTCAR_BIND": "0.0.0.0",
            "SMARTCAR_BROKERS": ",".join(brokers),
            **{f"SMARTCAR_BROKER_{i}": b for i, b in enumerate(brokers)}, **agent.env}  # fmt: skip


def agent_command(agent: AgentService) -> list[str]:
    return ["agent", "--log-file", f"{LAB_HOME}/logs/{agent.component}.log", "--",
            "--conf-file", AGENT_CONF, "--name", agent.name,
            "--monitoring-port", str(AGENT_METRICS_PORT), "--monitoring-host", "0.0.0.0",
            "--state-dir", f"{LAB_HOME}/{agent.state}", "--log-level", agent.log_level]  # fmt: skip


def _host_path(path: Path, target: Target) -> str:
    if target.paths_from is None:
        return str(path.resolve())
    relative = os.path.relpath(path.resolve(), target.paths_from.resolve())
    return relative if relative.startswith("..") else f"./{relative}"


def agent_service(spec: ClusterSpec, agent: AgentService, target: Target) -> dict[str, Any]:
    if agent.monitoring_port is None:
        published = f"127.0.0.1::{AGENT_METRICS_PORT}"
    else:
        port = _host_port(agent.component, agent.monitoring_port, target)
        published = f"127.0.0.1:{port}:{AGENT_METRICS_PORT}"
    service: dict[str, Any] = {
        **_node(target), "hostname": agent.component, "command": agent_command(agent),
        "user": target.user, "environment": {"HOME": "/tmp", **agent_variables(spec, agent)},
        "volumes": [f"{target.home}:{LAB_HOME}",
                    f"{_host_path(agent.conf, target)}:{AGENT_CONF}:ro"],
        "ports": [published],
    }  # fmt: skip
    if agent.after:
        service["depends_on"] = {
            s: {"condition": "service_completed_successfully" if s == TOPIC_SERVICE
                else "service_healthy"} for s in agent.after}  # fmt: skip
    service["healthcheck"] = _healthcheck(agent.component)
    return service


def render(spec: ClusterSpec, target: Target = FILE,
           agents: tuple[AgentService, ...] = ()) -> dict[str, Any]:  # fmt: skip
    """The lab as a Compose project: its servers, the topic and the given agents."""
    services: dict[str, Any] = {name: server_service(spec, name, target) for name in spec.ports()}
    services[TOPIC_SERVICE] = topic_service(spec, target)
    for agent in agents:
        services[agent.component] = agent_service(spec, agent, target)
    return {"services": services, "volumes": {f"{name}-data": {} for name in spec.ports()}}


def config_hash(service: dict[str, Any]) -> str:
    """A digest of a service's definition (Compose's config-hash label: what it compares to
    tell whether a container is out of date)."""
    return hashlib.sha256(json.dumps(service, sort_keys=True).encode()).hexdigest()


def labels(project: str, service: str, definition: dict[str, Any], working_dir: Path,
           config_file: Path, image_id: str) -> dict[str, str]:  # fmt: skip
    """The labels Compose v2 puts on a service's container (``image_id``: the image's id)."""
    depends = ",".join(f"{s}:{c['condition']}:false"
                       for s, c in definition.get("depends_on", {}).items())  # fmt: skip
    return {PROJECT_LABEL: project, SERVICE_LABEL: service,
            f"{LABEL}.container-number": "1", f"{LABEL}.oneoff": "False",
            f"{LABEL}.config-hash": config_hash(definition),
            f"{LABEL}.depends_on": depends, f"{LABEL}.image": image_id,
            f"{LABEL}.project.working_dir": str(working_dir),
            f"{LABEL}.project.config_files": str(config_file),
            f"{LABEL}.version": COMPOSE_VERSION}  # fmt: skip


def network_labels(project: str) -> dict[str, str]:
    definition = {"name": f"{project}_default", "driver": "bridge"}
    return {PROJECT_LABEL: project, f"{LABEL}.network": "default",
            f"{LABEL}.config-hash": config_hash(definition),
            f"{LABEL}.version": COMPOSE_VERSION}  # fmt: skip


def volume_labels(project: str, volume: str) -> dict[str, str]:
    definition = {"name": f"{project}_{volume}"}
    return {PROJECT_LABEL: project, f"{LABEL}.volume": volume,
            f"{LABEL}.config-hash": config_hash(definition),
            f"{LABEL}.version": COMPOSE_VERSION}  # fmt: skip


def container_name(project: str, service: str) -> str:
    return f"{project}-{service}-1"  # Compose v2's (v1 wrote <project>_<service>_1)


def network_name(project: str) -> str:
    return f"{project}_default"


def volume_name(project: str, volume: str) -> str:
    return f"{project}_{volume}"


class _Flow(list[Any]):
    """A list written on one line (commands, ports, tests)."""


def _flow_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _flow_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return _Flow(value) if all(isinstance(v, str | int) for v in value) else value
    return value


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # lists indented under their key


_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence(
    "tag:yaml.org,2002:seq", v, flow_style=True))  # fmt: skip


def to_yaml(project: dict[str, Any], header: str = "") -> str:
    """The project as a compose file (a header of ``#`` comments first)."""
    body = yaml.dump(_flow_lists(project), Dumper=_Dumper, sort_keys=False, width=100,
                     default_flow_style=False)  # fmt: skip
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body


def shipped_header(spec: ClusterSpec) -> str:
    return (
        "The lab with Docker Compose, rendered by `labctl compose` from the lab's spec; the\n"
        "Docker backend applies the same rendering (and a test keeps the shipped file equal to\n"
        f"it). {spec.describe()} on the project image (./Dockerfile),\n"
        "each its own node on the project's network; the one-shot `topic` service creates\n"
        f"{spec.topic.name} and puts every partition on its preferred leader; the agents.\n"
        "Ports on 127.0.0.1 only.\n"
        "\n"
        "  mkdir -p .lab && export SMARTCAR_UID=$(id -u) SMARTCAR_GID=$(id -g)\n"
        "  docker compose up -d --wait   # or docker-compose up -d (v1)\n"
        "  .venv/bin/labctl status       # labctl finds and drives this lab (README: Compose)\n"
        "\n"
        "Variables: LABCTL_HOME (the lab home, ./.lab), SMARTCAR_UID/SMARTCAR_GID (the agent's\n"
        "user), SMARTCAR_PORT_<SERVICE> (a host port; the brokers' must stay consecutive).\n"
    )
