"""The Docker backend: every server and the agent a container of the project image, driven
through the Docker SDK.

Each server is a node of its own (the book's multi-node architecture): its own container,
hostname (``zookeeper``, ``broker-0``, ...), filesystem and data volume, and address on a
user-defined bridge network of the lab; replication between brokers goes over that network.
Clients on this host reach them at the same ports as the local backend's, published on
127.0.0.1 only. The agent container runs as the calling user, with the lab's working
directories bind-mounted (``/working``), so the simulator on the host hands it files as it
does a local agent, and it writes its log to ``<home>/logs/agent.log`` like a local agent.

Names: project ``smartcar-<home folder>-<hash of the home path>``, containers and volumes
``<project>-<name>``, network ``<project>``; everything carries the label
``smartcar-lab.project``, which is how ``down`` finds what to remove.
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
from labctl.backends.container import (
    AGENT_CONF,
    AGENT_METRICS_PORT,
    AGENT_STATE,
    LOGS,
    WORKING,
    container_port,
    healthcheck,
    server_command,
)
from labctl.backends.image import ensure_image
from labctl.backends.tools import agent_variables, file_logs, last_line, tree_has_open
from labctl.errors import LabError, NotRunningError, PrerequisiteError, ReadinessTimeout
from labctl.kafka.config import CONTAINER_DATA, Bridge
from labctl.kafka.zookeeper import wait_session_expired

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

LABEL = "smartcar-lab.project"
COMPONENT = "smartcar-lab.component"


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


class DockerBackend(Backend):
    kind = "docker"
    help = "a container per server and agent (each broker its own node)"
    ready_timeout = 150.0
    own_nodes = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project_name(self.paths.home)
        self._client: docker.DockerClient | None = None
        self._image: str | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect()
        return self._client

    def _labels(self, name: str) -> dict[str, str]:
        return {LABEL: self.project, COMPONENT: name, "smartcar-lab.home": str(self.paths.home)}

    def _container(self, name: str) -> Container | None:
        import docker.errors

        try:
            return self.client.containers.get(f"{self.project}-{name}")
        except docker.errors.NotFound:
            return None

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

        try:
            self.client.networks.get(self.project)
        except docker.errors.NotFound:
            self.client.networks.create(self.project, driver="bridge",
                                        labels={LABEL: self.project})  # fmt: skip
        return self.project

    def start(self, names: list[str], progress: Progress, deadline: float,
              started: list[str]) -> None:  # fmt: skip
        network = self._network()
        ports = self.spec.ports()
        for name in names:
            if name.startswith("broker-"):
                for member in self.spec.quorum_names:
                    self._wait_healthy(member, deadline, progress)
                wait_session_expired(self.spec, name, deadline, progress)
            self._remove(name)
            volume = f"{self.project}-{name}-data"
            self.client.volumes.create(volume, labels={LABEL: self.project})
            progress(f"starting container {name} (127.0.0.1:{ports[name]})")
            self._run(name, server_command(self.spec, name), network,
                      ports={f"{container_port(name)}/tcp": ("127.0.0.1", ports[name])},
                      volumes={volume: {"bind": str(CONTAINER_DATA), "mode": "rw"}})  # fmt: skip
            started.append(name)
        for member in self.spec.quorum_names:
            if member in names:
                self._wait_healthy(member, deadline, progress)

    def _run(self, name: str, command: list[str], network: str, **options: Any) -> Container:
        import docker.errors

        assert self._image is not None, "prepare() first"
        endpoint = self.client.api.create_endpoint_config(aliases=[name])
        try:
            return self.client.containers.run(
                self._image, command, name=f"{self.project}-{name}", hostname=name,
                network=network, networking_config={network: endpoint}, detach=True, init=True,
                labels=self._labels(name), healthcheck=healthcheck(name),
                **options,
            )  # fmt: skip
        except docker.errors.APIError as exc:
            raise LabError(f"Docker could not start {name}: {exc.explanation or exc}.") from None

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
        container = self._container(name)
        if container is None:
            return False
        was_running = container.status == "running"
        container.remove(force=True)
        return was_running

    def stop(self, names: list[str] | None = None, timeout: float = 20.0) -> list[str]:
        order = list(reversed(list(self.spec.ports())))  # brokers first, then the quorum
        stopped = []
        for name in (n for n in order if names is None or n in names):
            container = self._container(name)
            if container is None:
                continue
            if container.status == "running":
                container.stop(timeout=int(timeout))
                stopped.append(name)
            container.remove(force=True)
        if names is None:
            self._remove_network()
        return stopped

    def _remove_network(self) -> None:
        for network in self.client.networks.list(filters={"label": f"{LABEL}={self.project}"}):
            network.remove()

    def purge(self) -> None:
        import shutil

        for container in self.client.containers.list(
            all=True, filters={"label": f"{LABEL}={self.project}"}
        ):
            container.remove(force=True)
        self._remove_network()
        for volume in self.client.volumes.list(filters={"label": f"{LABEL}={self.project}"}):
            volume.remove(force=True)
        shutil.rmtree(self.paths.data_dir, ignore_errors=True)
        shutil.rmtree(self.paths.logs_dir, ignore_errors=True)

    def states(self) -> list[ComponentState]:
        by_name = {c.labels.get(COMPONENT): c for c in self.client.containers.list(
            all=True, filters={"label": f"{LABEL}={self.project}"})}  # fmt: skip
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
        self._remove(component)
        self.paths.logs_dir.mkdir(parents=True, exist_ok=True)
        launch.state_dir.mkdir(parents=True, exist_ok=True)
        command = ["agent", "--log-file", f"{LOGS}/{component}.log", "--",
                   "--conf-file", AGENT_CONF, "--name", launch.name,
                   "--monitoring-port", str(AGENT_METRICS_PORT), "--monitoring-host", "0.0.0.0",
                   "--state-dir", AGENT_STATE, "--log-level", launch.log_level]  # fmt: skip
        container = self._run(
            component, command, self._network(), user=f"{os.getuid()}:{os.getgid()}",
            environment={"HOME": "/tmp", **self.agent_env(launch)},
            volumes={str(self.paths.working_dir): {"bind": WORKING, "mode": "rw"},
                     str(launch.conf_file): {"bind": AGENT_CONF, "mode": "ro"},
                     str(self.paths.logs_dir): {"bind": LOGS, "mode": "rw"},
                     str(launch.state_dir): {"bind": AGENT_STATE, "mode": "rw"}},
            ports={f"{AGENT_METRICS_PORT}/tcp": ("127.0.0.1", launch.monitoring_port)
                   if launch.monitoring_port else ("127.0.0.1",)},
        )  # fmt: skip
        container.reload()
        bindings = container.ports.get(f"{AGENT_METRICS_PORT}/tcp") or []
        if not bindings:
            raise LabError(f"the agent exited at start; see {self.agent_log_of(component)}.")
        return AgentRun(f"container {container.short_id}", int(bindings[0]["HostPort"]))

    def agent_env(self, launch: AgentLaunch) -> dict[str, str]:
        brokers = Bridge().bootstrap(self.spec).split(",")
        return agent_variables(launch, WORKING, AGENT_STATE, "0.0.0.0", brokers)

    def agent_host(self, component: str) -> str:
        return component  # its hostname and network alias on the lab's bridge network

    def agent_components(self) -> list[str]:
        containers = self.client.containers.list(
            all=True, filters={"label": f"{LABEL}={self.project}"})  # fmt: skip
        return sorted(name for c in containers if is_agent(name := c.labels.get(COMPONENT, "")))

    def agent_where(self, component: str = AGENT) -> str | None:
        container = self._running(component)
        return None if container is None else f"container {container.short_id}"

    def agent_has_open(self, path: Path, component: str = AGENT) -> bool:
        """Through the container's processes as this host sees them, with the path as the
        container sees it (the working dir is mounted at /working)."""
        container = self._running(component)
        if container is None:
            return False
        pid = int(container.attrs["State"]["Pid"])
        if not psutil.pid_exists(pid):
            return True  # the engine runs in a VM (Docker Desktop): nothing to look at here
        inside = f"{WORKING}/{path.relative_to(self.paths.working_dir)}"
        return tree_has_open(pid, inside)

    def stop_agent(self, timeout: float = 40.0, component: str = AGENT) -> bool:
        container = self._container(component)
        if container is None:
            return False
        running = container.status == "running"
        if running:
            container.stop(timeout=int(timeout))
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
