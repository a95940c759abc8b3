"""The Docker backend: the lab's Compose project (``labctl.backends.compose``) applied through the
Docker SDK, every server and agent a container of the project image.

Each server is a node of its own (the book's multi-node architecture): its own container,
hostname (``zookeeper``, ``broker-0``, ...), filesystem and data volume, and address on the
project's network; replication between brokers goes over that network. Clients on this host
reach them at the same ports as the local backend's, published on 127.0.0.1 only. An agent
container runs as the calling user with the lab home mounted, so the simulator on the host hands
it files as it does a local agent, and it writes its log to ``<home>/logs/<component>.log``.

Names and labels are Compose's: project ``smartcar-<home folder>-<hash of the home path>`` (or
the project of a lab that ``docker compose up`` started, adopted by ``labctl.backends.discovery``),
containers ``<project>-<service>-1``, network ``<project>_default``, volumes
``<project>_<name>-data``, each labelled as Compose labels them, so ``docker compose -p
<project> ps / logs / stop / down`` work on a lab labctl started, and labctl on one Compose
started. Containers are found by those labels, never by name. The rendering labctl applied is
written to ``<home>/docker-compose.yml``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from labctl.backends.base import (
    AGENT,
    AgentLaunch,
    AgentRun,
    Backend,
    ComponentState,
    Progress,
    is_agent,
)
from labctl.backends.compose import (
    AGENT_METRICS_PORT,
    HOME_LABEL,
    LAB_HOME,
    PROJECT_LABEL,
    SECOND,
    SERVICE_LABEL,
    AgentService,
    Target,
    agent_service,
    agent_variables,
    container_name,
    labels,
    network_labels,
    network_name,
    render,
    server_service,
    to_yaml,
    volume_labels,
    volume_name,
)
from labctl.backends.image import ensure_image
from labctl.backends.tools import file_logs, last_line, tree_has_open
from labctl.errors import LabError, NotRunningError, PrerequisiteError, ReadinessTimeout
from labctl.kafka.zookeeper import wait_session_expired
from labctl.paths import LabPaths
from labctl.spec import ClusterSpec

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container


def project_name(home: os.PathLike[str] | str) -> str:
    path = os.fspath(home)
    stem = re.sub(r"[^a-z0-9]+", "-", os.path.basename(path).lower()).strip("-") or "lab"
    return f"smartcar-{stem[:20]}-{hashlib.sha256(path.encode()).hexdigest()[:6]}"


def connect() -> docker.DockerClient:
    """A client of a Docker engine that answers, or a PrerequisiteError saying what is missing."""
    try:
        import docker
    except ImportError:
        raise PrerequisiteError(
            "the Docker backend needs the Docker SDK for Python: "
            "pip install 'smartcar-lab[docker]' (make setup installs it)."
        ) from None
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:
        raise PrerequisiteError(
            f"no Docker engine answers ({type(exc).__name__}); start Docker, or use the "
            "local backend (the default: `labctl up`)."
        ) from None
    return client


def project_filter(project: str, service: str | None = None) -> dict[str, list[str]]:
    wanted = [f"{PROJECT_LABEL}={project}"]
    if service is not None:
        wanted.append(f"{SERVICE_LABEL}={service}")
    return {"label": wanted}


def run_options(project: str, name: str, service: dict[str, Any]) -> dict[str, Any]:
    """A rendered service as the Docker SDK's ``containers.run`` arguments."""
    ports: dict[str, Any] = {}
    for published in service.get("ports", []):
        host_ip, host_port, port = published.split(":")
        ports[f"{port}/tcp"] = (host_ip, int(host_port)) if host_port else (host_ip,)
    volumes: dict[str, dict[str, str]] = {}
    for mount in service.get("volumes", []):
        source, target, *mode = mount.split(":")
        source = source if source.startswith("/") else volume_name(project, source)
        volumes[source] = {"bind": target, "mode": mode[0] if mode else "rw"}
    check = dict(service["healthcheck"]) if "healthcheck" in service else None
    if check is not None:
        for key in ("interval", "timeout", "start_period"):
            check[key] = int(check[key].rstrip("s")) * SECOND
    options = {"image": service["image"], "command": service["command"],
               "name": container_name(project, name), "hostname": service.get("hostname"),
               "init": service.get("init", False), "detach": True, "ports": ports,
               "volumes": volumes, "healthcheck": check}  # fmt: skip
    for key in ("environment", "user"):
        if key in service:
            options[key] = service[key]
    return options


class EngineBackend(Backend):
    """What the Docker and Swarm backends share: a Docker engine (``DOCKER_HOST``), the lab's
    project name (Compose's, or the Swarm stack's) and the project image."""

    own_nodes = True

    def __init__(self, paths: LabPaths, spec: ClusterSpec) -> None:
        super().__init__(paths, spec)
        self.project = self.spec.project or project_name(self.paths.home)
        self.compose_project = self.project
        self._client: docker.DockerClient | None = None
        self._image: str | None = None  # the project image's tag, once built or found

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect()
        return self._client

    def _target(self) -> Target:
        return Target.values(self.paths.home, self._image or "smartcar-lab:latest")


class DockerBackend(EngineBackend):
    kind = "docker"
    help = "a container per server and agent (each broker its own node)"
    ready_timeout = 300.0  # ready in ~30 s idle; 3 JVM containers on 2 busy cores take minutes

    @property
    def started_by(self) -> str:
        if self.spec.compose_files:
            return f"docker compose (project {self.project}, {', '.join(self.spec.compose_files)})"
        return f"labctl up --backend docker (Compose project {self.project})"

    @property
    def _config_files(self) -> tuple[Path, Path]:
        """(working dir, compose file) for Compose's labels."""
        if self.spec.compose_files:
            first = Path(self.spec.compose_files[0])
            return first.parent, first
        return self.paths.home, self.paths.compose_file

    def _labels(self, name: str, service: dict[str, Any]) -> dict[str, str]:
        working_dir, config_file = self._config_files
        image_id = str(self.client.images.get(service["image"]).id)
        return {**labels(self.project, name, service, working_dir, config_file, image_id),
                HOME_LABEL: str(self.paths.home)}  # fmt: skip

    def _containers(self, service: str | None = None) -> list[Container]:
        return list(self.client.containers.list(
            all=True, filters=project_filter(self.project, service)))  # fmt: skip

    def _container(self, name: str) -> Container | None:
        found = self._containers(name)
        running = [c for c in found if c.status == "running"]
        return (running or found or [None])[0]

    def _running(self, name: str) -> Container | None:
        container = self._container(name)
        return container if container is not None and container.status == "running" else None

    # -- servers --------------------------------------------------------------------------
    def check(self) -> None:
        self.client  # noqa: B018  (connects, or says what is missing)

    def prepare(self, progress: Progress) -> None:
        self._image = ensure_image(self.client, progress)

    def not_running(self) -> list[str]:
        return [name for name in self.spec.ports() if self._running(name) is None]

    def _network(self) -> str:
        import docker.errors

        name = network_name(self.project)
        try:
            self.client.networks.get(name)
        except docker.errors.NotFound:
            self.client.networks.create(name, driver="bridge", labels=network_labels(self.project))
        return name

    def _write_compose_file(self) -> None:
        """The rendering applied, for `docker compose -f` (a lab Compose started keeps its own)."""
        if self.spec.compose_files:
            return
        self.paths.home.mkdir(parents=True, exist_ok=True)
        text = to_yaml(render(self.spec, self._target()),
                       f"Rendered by labctl for the lab in {self.paths.home} (project "
                       f"{self.project}); `labctl down` stops it.")  # fmt: skip
        self.paths.compose_file.write_text(text)

    def start(self, names: list[str], progress: Progress, deadline: float,
              started: list[str]) -> None:  # fmt: skip
        self._network()
        self._write_compose_file()
        ports = self.spec.ports()
        for name in names:
            if name.startswith("broker-"):
                for member in self.spec.quorum_names:
                    self._wait_healthy(member, deadline, progress)
                wait_session_expired(self.spec, name, deadline, progress)
            progress(f"starting container {name} (127.0.0.1:{ports[name]})")
            self._apply(name, server_service(self.spec, name, self._target()))
            started.append(name)
        for member in self.spec.quorum_names:
            if member in names:
                self._wait_healthy(member, deadline, progress)

    def _apply(self, name: str, service: dict[str, Any]) -> Container:
        """Create (again) the container of one rendered service, its volumes first."""
        import docker.errors

        self._remove(name)
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith("/"):
                self._volume(source)
        options = run_options(self.project, name, service)
        network = self._network()
        endpoint = self.client.api.create_endpoint_config(aliases=[name])
        try:
            return self.client.containers.run(
                **options, labels=self._labels(name, service), network=network,
                networking_config={network: endpoint},
            )  # fmt: skip
        except docker.errors.APIError as exc:
            raise LabError(f"Docker could not start {name}: {exc.explanation or exc}.") from None

    def _volume(self, volume: str) -> None:
        import docker.errors

        name = volume_name(self.project, volume)
        try:
            self.client.volumes.get(name)
        except docker.errors.NotFound:
            self.client.volumes.create(name, labels=volume_labels(self.project, volume))

    def _wait_healthy(self, name: str, deadline: float, progress: Progress) -> None:
        progress(f"waiting for {name} to be healthy")
        while time.monotonic() < deadline:
            container = self._container(name)
            if container is None or container.status in ("exited", "dead"):
                raise ReadinessTimeout(self.died(name) or f"{name} is gone.")
            health = container.attrs["State"].get("Health", {}).get("Status")
            if health == "healthy":
                return
            time.sleep(0.3)
        raise ReadinessTimeout(f"{name} was not healthy in time; see `labctl logs {name}`.")

    def _remove(self, name: str) -> bool:
        was_running = False
        for container in self._containers(name):
            was_running = was_running or container.status == "running"
            container.remove(force=True)
        return was_running

    def stop(self, names: list[str] | None = None, timeout: float = 20.0) -> list[str]:
        order = list(reversed(list(self.spec.ports())))  # brokers first, then the quorum
        stopped = []
        for name in (n for n in order if names is None or n in names):
            for container in self._containers(name):
                if container.status == "running":
                    container.stop(timeout=int(timeout))
                    stopped.append(name)
                container.remove(force=True)
        if names is None:  # the whole lab: its one-shot `topic` too, then its network
            for container in self._containers():
                container.remove(force=True)
            self._remove_network()
        return stopped

    def _remove_network(self) -> None:
        for network in self.client.networks.list(filters=project_filter(self.project)):
            network.remove()

    def purge(self) -> None:
        import shutil

        for container in self._containers():
            container.remove(force=True)
        self._remove_network()
        for volume in self.client.volumes.list(filters=project_filter(self.project)):
            volume.remove(force=True)
        shutil.rmtree(self.paths.data_dir, ignore_errors=True)
        shutil.rmtree(self.paths.logs_dir, ignore_errors=True)

    def states(self) -> list[ComponentState]:
        by_name: dict[str, Container] = {}
        for container in self._containers():
            service = container.labels.get(SERVICE_LABEL, "")
            if service not in by_name or container.status == "running":
                by_name[service] = container
        rows = []
        for name, port in self.spec.ports().items():
            container = by_name.get(name)
            if container is None or container.status != "running":
                rows.append(ComponentState(name, port, False, None, None))
                continue
            rows.append(ComponentState(name, port, True, f"container {container.short_id}",
                                       _uptime(container)))  # fmt: skip
        return rows

    def died(self, name: str) -> str | None:
        container = self._container(name)
        if container is None or container.status not in ("exited", "dead"):
            return None
        tail = last_line(container.logs(tail=5))
        code = container.attrs["State"].get("ExitCode")
        return (f"{name} exited during start-up (status {code}); last log line: {tail!r} "
                f"(`labctl logs {name}`).")  # fmt: skip

    def kill(self, name: str) -> None:
        container = self._running(name)
        if container is None:
            raise NotRunningError(f"{name} is not running.")
        container.kill()
        container.wait(timeout=30)

    def logs(self, name: str, follow: bool) -> Iterator[bytes]:
        if is_agent(name):
            yield from file_logs(name, self.agent_log_of(name), follow)
            return
        container = self._container(name)
        if container is None:
            raise NotRunningError(f"{name} has no container; start the lab with `labctl up`.")
        if follow:
            yield from container.logs(stream=True, follow=True)
        else:
            yield container.logs()

    # -- the agent ------------------------------------------------------------------------
    def start_agent(self, launch: AgentLaunch) -> AgentRun:
        self._image = self._image or ensure_image(self.client, lambda _: None)
        component = launch.component
        self.paths.logs_dir.mkdir(parents=True, exist_ok=True)
        launch.state_dir.mkdir(parents=True, exist_ok=True)
        agent = AgentService.of(launch, self.paths.home)
        container = self._apply(component, agent_service(self.spec, agent, self._target()))
        container.reload()
        bindings = container.ports.get(f"{AGENT_METRICS_PORT}/tcp") or []
        if not bindings:
            raise LabError(f"the agent exited at start; see {self.agent_log_of(component)}.")
        return AgentRun(f"container {container.short_id}", int(bindings[0]["HostPort"]))

    def agent_run(self, component: str = AGENT) -> AgentRun | None:
        """Where a running agent container's metrics answer on this host (one Compose started)."""
        container = self._running(component)
        if container is None:
            return None
        bindings = container.ports.get(f"{AGENT_METRICS_PORT}/tcp") or []
        if not bindings:
            return None
        return AgentRun(f"container {container.short_id}", int(bindings[0]["HostPort"]))

    def agent_env(self, launch: AgentLaunch) -> dict[str, str]:
        return agent_variables(self.spec, AgentService.of(launch, self.paths.home))

    def agent_host(self, component: str) -> str:
        return component  # its hostname and network alias on the lab's network

    def agent_components(self) -> list[str]:
        services = (c.labels.get(SERVICE_LABEL, "") for c in self._containers())
        return sorted({name for name in services if is_agent(name)})

    def agent_where(self, component: str = AGENT) -> str | None:
        container = self._running(component)
        return None if container is None else f"container {container.short_id}"

    def agent_has_open(self, path: Path, component: str = AGENT) -> bool:
        """Through the container's processes as this host sees them, with the path as the
        container sees it (the lab home is mounted at /lab/home)."""
        container = self._running(component)
        if container is None:
            return False
        pid = int(container.attrs["State"]["Pid"])
        if not psutil.pid_exists(pid):
            return True  # the engine runs in a VM (Docker Desktop): nothing to look at here
        inside = f"{LAB_HOME}/{path.resolve().relative_to(self.paths.home.resolve())}"
        return tree_has_open(pid, inside)

    def stop_agent(self, timeout: float = 40.0, component: str = AGENT) -> bool:
        running = False
        for container in self._containers(component):
            if container.status == "running":
                container.stop(timeout=int(timeout))
                running = True
            container.remove(force=True)
        return running

    def kill_agent(self, component: str = AGENT) -> None:
        container = self._running(component)
        if container is not None:
            container.kill()
            container.wait(timeout=30)


def _uptime(container: Container) -> float | None:
    started = str(container.attrs["State"].get("StartedAt", ""))
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?", started)
    if not match:
        return None
    fraction = float(match.group(2) or 0)
    at = datetime.fromisoformat(match.group(1) + "+00:00").timestamp() + fraction
    return round(time.time() - at, 1)
