"""Labs that ``docker compose up`` started: found in the engine by Compose's labels and the
project image, and read back into a spec labctl can drive (the shape from the servers'
commands, the ports from what they publish, the lab home from the agent's mount).

A Compose project is a candidate when one of its containers runs the project image or is
named like a lab's server. A candidate labctl cannot read (a service missing, another image,
ports that disagree with what the brokers advertise) is reported in one sentence naming what
is wrong, and labctl touches none of it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labctl.backends.base import AGENT, is_agent
from labctl.backends.compose import HOME_LABEL, LAB_HOME, PROJECT_LABEL, SERVICE_LABEL
from labctl.backends.container import (
    AGENT_CONF,
    AGENT_METRICS_PORT,
    container_port,
    read_server_command,
)
from labctl.backends.image import IMAGE
from labctl.errors import PrerequisiteError
from labctl.spec import ClusterSpec

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

SERVER = re.compile(r"^(zookeeper(-\d+)?|controller-\d+|broker-\d+)$")
CONFIG_FILES = "com.docker.compose.project.config_files"
WORKING_DIR = "com.docker.compose.project.working_dir"


@dataclass(frozen=True)
class FoundAgent:
    """The pilot's agent of a Compose lab: its config on the host, name and metrics port."""

    conf: str
    name: str
    monitoring_port: int | None
    where: str


@dataclass(frozen=True)
class ComposeLab:
    project: str
    home: Path
    spec: ClusterSpec | None  # None: labctl cannot read it (``problem`` says why)
    problem: str = ""
    agent: FoundAgent | None = None


def _image(container: Container) -> str:
    return str(container.attrs.get("Config", {}).get("Image", ""))


def _ours(image: str) -> bool:
    return image.split("/")[-1].split(":")[0] == IMAGE


def _published(container: Container, port: int) -> int | None:
    bindings = container.attrs.get("HostConfig", {}).get("PortBindings") or {}
    for binding in bindings.get(f"{port}/tcp") or []:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def _mount(container: Container, target: str) -> str | None:
    for mount in container.attrs.get("Mounts", []):
        if mount.get("Destination") == target:
            return str(mount.get("Source"))
    return None


def compose_labs(client: docker.DockerClient) -> list[ComposeLab]:
    """Every Compose project in the engine that is (or looks like) a lab."""
    projects: dict[str, list[Container]] = defaultdict(list)
    for container in client.containers.list(all=True, filters={"label": PROJECT_LABEL}):
        projects[container.labels[PROJECT_LABEL]].append(container)
    labs = []
    for project, containers in sorted(projects.items()):
        services = {c.labels.get(SERVICE_LABEL, ""): c for c in containers}
        if any(_ours(_image(c)) for c in containers) or any(map(SERVER.match, services)):
            labs.append(read_lab(project, services))
    return labs


def read_lab(project: str, services: dict[str, Container]) -> ComposeLab:
    """One candidate project as a lab, or the sentence that says why it cannot be one."""
    any_container = next(iter(services.values()))
    files = [f for f in any_container.labels.get(CONFIG_FILES, "").split(",") if f]
    where = f"Compose project {project}" + (f" ({', '.join(files)})" if files else "")
    working = Path(any_container.labels.get(WORKING_DIR) or ".")
    agent = services.get(AGENT)
    mounts = [_mount(c, LAB_HOME) for name, c in sorted(services.items()) if is_agent(name)]
    home_mount = next(filter(None, mounts), None)  # any agent's view of the lab home
    home = Path(home_mount) if home_mount else working / ".lab"
    if any_container.labels.get(HOME_LABEL):  # one labctl started: its home, its own file
        home, files = Path(any_container.labels[HOME_LABEL]), []

    def unreadable(problem: str) -> ComposeLab:
        return ComposeLab(project, home, None, f"{where} {problem}; labctl leaves it alone.")

    servers = {name: c for name, c in services.items() if SERVER.match(name)}
    if not servers:
        return unreadable("has no ZooKeeper, controller or broker service")
    for name, container in sorted(servers.items()):
        if not _ours(_image(container)):
            return unreadable(f"runs {name} from the image {_image(container) or '?'}, "
                              f"not the project image {IMAGE}")  # fmt: skip
    shapes = {}
    for name, container in servers.items():
        read = read_server_command(list(container.attrs.get("Config", {}).get("Cmd") or []))
        if read is None or read[0] != name:
            return unreadable(f"runs {name} with a command labctl cannot read (expected "
                              f"`server {name} --brokers N ...`)")  # fmt: skip
        shapes[name] = read[1]
    spec = next(iter(shapes.values()))
    if any(s.to_json() != spec.to_json() for s in shapes.values()):
        return unreadable("has servers that disagree on the lab's shape (their --brokers, "
                          "--mode or --quorum flags differ)")  # fmt: skip
    missing = [name for name in spec.ports() if name not in servers]
    if missing:
        return unreadable(f"has no service {', '.join(missing)}, though its servers say the lab "
                          f"is {spec.describe()}")  # fmt: skip
    quorum_port = _published(servers[spec.quorum_names[0]], container_port(spec.quorum_names[0]))
    if quorum_port is None:
        return unreadable(f"does not publish {spec.quorum_names[0]}'s port on 127.0.0.1")
    spec = replace(spec, backend="docker", zookeeper_port=quorum_port, project=project,
                   compose_files=files)  # fmt: skip
    for name, port in spec.ports().items():
        published = _published(servers[name], container_port(name))
        if published != port:
            said = f"127.0.0.1:{published}" if published else "no port"
            return unreadable(f"publishes {said} for {name}, where the lab expects {port} "
                              f"(brokers at --base-port {spec.base_port} and the next ports, "
                              f"the quorum from {quorum_port} on)")  # fmt: skip
    return ComposeLab(project, home, spec, agent=_agent(agent))


def _agent(container: Container | None) -> FoundAgent | None:
    if container is None or container.status != "running":
        return None
    command = list(container.attrs.get("Config", {}).get("Cmd") or [])
    name = command[command.index("--name") + 1] if "--name" in command[:-1] else ""
    return FoundAgent(_mount(container, AGENT_CONF) or "", name,
                      _published(container, AGENT_METRICS_PORT),
                      f"container {container.short_id}")  # fmt: skip


def labs_for(home: Path, project: str | None = None) -> list[ComposeLab]:
    """The Compose labs whose lab home is *home* (or the one named *project*); none when no
    engine answers."""
    from labctl.backends.docker import connect

    try:
        client = connect()
    except PrerequisiteError:
        return []
    found = compose_labs(client)
    if project:
        return [lab for lab in found if lab.project == project]
    return [lab for lab in found if _same(lab.home, home)]


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def describe(labs: list[ComposeLab]) -> dict[str, Any]:
    return {lab.project: (lab.spec.describe() if lab.spec else lab.problem) for lab in labs}
