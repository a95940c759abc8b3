"""The Swarm backend: the lab's servers as services of a Docker Swarm stack, each pinned to a node
of the swarm, so the book's three servers are three machines (``labctl up --backend swarm``).

The engine is the one ``DOCKER_HOST`` (or the current Docker context) names, and it must be a
swarm manager. The services are the rendered compose description's (``labctl.backends.compose``,
the same commands, healthchecks and volumes as the Docker backend), created through the Docker
SDK's swarm API rather than ``docker stack deploy``: labctl starts them in order (the quorum
healthy before the brokers), names the node and the error of a task that fails, removes what it
started when ``up`` fails, and needs no docker CLI. They carry the label ``docker stack deploy``
writes (``com.docker.stack.namespace``), so ``docker stack ps / rm <project>`` work on them, and
the stack is written to ``<home>/docker-stack.yml``.

Placement: each server is pinned by a node label ``smartcar-lab.<server>=true`` (for example
``smartcar-lab.broker-1``). A label the user set is kept; otherwise ``up`` sets it, spreading
the servers over the ready nodes in the order of their host names (broker-i on node i, the
quorum member i on node i), and refuses when there are fewer nodes than brokers unless
``--allow-colocated``. Each broker advertises ``<its service name>:19092`` on the stack's overlay
network to the other brokers, and ``<its node's address>:<its port>`` (a host-mode published
port) to clients outside the swarm; its data is a volume local to its node, kept when Swarm
restarts it there.

Every agent (the pilot's, the examples') is a service too, on a node holding the lab home at
the same path (node label ``smartcar-lab.<component>``, else the first node labelled
``smartcar-lab.home``, else the first node; an agent fed over the network, like flume-4's
aggregators, on another of those nodes), its config a swarm config, its metrics port published
in host mode on that node. A drill's kill (``kill``, ``kill_agent``) kills the task's container
through its node's engine and scales the service to none, so it stays down until started again.

The image reaches the nodes without a registry: labctl builds (or finds) it on this machine's
engine and, for every node whose engine it can reach (the node label ``smartcar-lab.engine``,
for example ``ssh://admin@server02`` or ``tcp://10.0.0.2:2375``), streams ``docker save`` into
that engine's ``docker load`` when the node lacks it.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import socket
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labctl.backends.base import AGENT, AgentLaunch, AgentRun, ComponentState, Progress
from labctl.backends.compose import (
    AGENT_CONF,
    AGENT_METRICS_PORT,
    LAB_HOME,
    SECOND,
    AgentService,
    agent_service,
    render,
    server_service,
    to_yaml,
)
from labctl.backends.compose import agent_variables as compose_agent_variables
from labctl.backends.container import (
    BY_ADDRESS_VARIABLE,
    EXTERNAL_HOST_VARIABLE,
    container_port,
)
from labctl.backends.docker import EngineBackend
from labctl.backends.image import ensure_image
from labctl.errors import LabError, NotRunningError, PortInUseError, PrerequisiteError, UsageError
from labctl.kafka.config import CONTAINER_DATA
from labctl.paths import LabPaths
from labctl.spec import ClusterSpec

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container
    from docker.models.nodes import Node
    from docker.models.services import Service

STACK_LABEL = "com.docker.stack.namespace"  # what `docker stack deploy` labels its objects with
PLACEMENT_LABEL = "smartcar-lab"  # node label prefix: smartcar-lab.<server>=true pins a server
HOME_NODE_LABEL = "smartcar-lab.home"  # the node holding the lab home (agents run there)
AGENT_LABEL = "smartcar-lab.agent"  # a service's label: the agent component it runs
ENGINE_LABEL = "smartcar-lab.engine"  # a node's engine as labctl may reach it (image loading)
FAILED = ("failed", "rejected", "orphaned")
# Swarm restarts a task whose healthcheck fails `retries` times in a row (Docker alone only marks
# it unhealthy). Probing no more often than every 5 s makes that 15 s or more of failures:
# longer than a broker's ZooKeeper session (6 s) and than a loaded host's pauses. The Docker
# backend's 1 s ZooKeeper probe only speeds up `up`; it costs ~0.14 s of CPU each second for
# the life of the lab (a python process per probe, measured under load on 2 cores).
PROBE_INTERVAL_S = 5


def placement_label(server: str) -> str:
    return f"{PLACEMENT_LABEL}.{server}"


@dataclass(frozen=True)
class SwarmNode:
    """A ready node of the swarm, as placement sees it."""

    id: str
    hostname: str
    address: str
    labels: dict[str, str]

    @staticmethod
    def of(node: Node) -> SwarmNode:
        attrs = node.attrs
        return SwarmNode(str(node.id), attrs["Description"]["Hostname"],
                         attrs["Status"].get("Addr", ""),
                         dict(attrs["Spec"].get("Labels") or {}))  # fmt: skip


def place(servers: list[str], brokers: list[str], nodes: list[SwarmNode],
          allow_colocated: bool) -> dict[str, SwarmNode]:  # fmt: skip
    """Each server's node: the node labelled for it, else spread in host-name order (server i
    of its kind on node i). A sentence (UsageError) when that cannot be done."""
    nodes = sorted(nodes, key=lambda n: n.hostname)
    if not nodes:
        raise UsageError("the swarm has no ready node to run the lab on.")
    if len(nodes) < len(brokers) and not allow_colocated:
        raise UsageError(
            f"the swarm has {len(nodes)} ready node(s) ({', '.join(n.hostname for n in nodes)}) "
            f"for {len(brokers)} brokers, which need one node each; add nodes "
            "(`docker swarm join`), start fewer brokers (--brokers), or allow brokers to "
            "share a node with --allow-colocated."
        )
    placed: dict[str, SwarmNode] = {}
    for server in servers:
        label = placement_label(server)
        holders = [n for n in nodes if n.labels.get(label) == "true"]
        if len(holders) > 1:
            raise UsageError(
                f"the node label {label}=true is on {len(holders)} nodes "
                f"({', '.join(n.hostname for n in holders)}), so {server} has no one place; "
                f"remove it from all but one (`docker node update --label-rm {label} NODE`)."
            )
        if holders:
            placed[server] = holders[0]
        else:
            index = int(server.rsplit("-", 1)[1]) if server[-1].isdigit() else 0
            placed[server] = nodes[index % len(nodes)]
    shared = [b for b in brokers if any(placed[o].id == placed[b].id for o in brokers if o < b)]
    if shared and not allow_colocated:
        where = ", ".join(f"{b} on {placed[b].hostname}" for b in shared)
        raise UsageError(f"node labels put several brokers on one node ({where}); move the "
                         "labels, or allow it with --allow-colocated.")  # fmt: skip
    return placed


def place_agent(component: str, apart: bool, nodes: list[SwarmNode],
                busy: Counter[str]) -> SwarmNode:  # fmt: skip
    """An agent's node: the one labelled for it; else, of the nodes holding the lab home
    (labelled ``smartcar-lab.home``, else every node, in host-name order), the first, or for an
    agent that runs ``apart`` (fed over the network) the one running the fewest of the lab's
    agents (``busy``: by node id), the first excluded where there is another."""
    nodes = sorted(nodes, key=lambda n: n.hostname)
    if not nodes:
        raise UsageError("the swarm has no ready node to run the agent on.")
    pinned = [n for n in nodes if n.labels.get(placement_label(component)) == "true"]
    if pinned:
        return pinned[0]
    homes = [n for n in nodes if n.labels.get(HOME_NODE_LABEL) == "true"] or nodes
    if not apart:
        return homes[0]
    return min(homes[1:] or homes, key=lambda n: busy[n.id])


class SwarmBackend(EngineBackend):
    kind = "swarm"
    help = "services of a Docker Swarm stack, each broker on its own node (DOCKER_HOST: a manager)"
    ready_timeout = 600.0  # images loaded first; JVMs on busy nodes take minutes

    def __init__(self, paths: LabPaths, spec: ClusterSpec) -> None:
        super().__init__(paths, spec)
        self._placed: dict[str, SwarmNode] = {}

    @property
    def started_by(self) -> str:
        return f"labctl up --backend swarm (stack {self.project})"

    def _service_name(self, name: str) -> str:
        return f"{self.project}_{name}"

    def _services(self) -> list[Service]:
        return list(self.client.services.list(filters={"label": f"{STACK_LABEL}={self.project}"}))

    def _service(self, name: str) -> Service | None:
        import docker.errors

        try:
            return self.client.services.get(self._service_name(name))
        except docker.errors.NotFound:
            return None

    def _nodes(self) -> list[SwarmNode]:
        ready = [n for n in self.client.nodes.list()
                 if n.attrs["Status"].get("State") == "ready"
                 and n.attrs["Spec"].get("Availability") == "active"]  # fmt: skip
        return [SwarmNode.of(n) for n in ready]

    def _node_names(self) -> dict[str, str]:
        return {str(n.id): n.attrs["Description"]["Hostname"] for n in self.client.nodes.list()}

    # -- servers --------------------------------------------------------------------------
    def check(self) -> None:
        info = self.client.info()
        swarm = info.get("Swarm") or {}
        if not swarm.get("ControlAvailable"):
            state = swarm.get("LocalNodeState") or "inactive"
            raise PrerequisiteError(
                f"the Docker engine {info.get('Name', '?')} (DOCKER_HOST or the current Docker "
                f"context) is not a swarm manager (swarm: {state}); run `docker swarm init` "
                "there, or point DOCKER_HOST at a manager of your swarm."
            )
        self._placed = place(list(self.spec.ports()), self.spec.broker_names, self._nodes(),
                             self.spec.allow_colocated)  # fmt: skip

    def require_free(self, ports: dict[str, int]) -> None:
        """Each port on the node its server will publish it on (something answering there is
        another program: the lab's own services are not running, or they would not be asked)."""
        taken = []
        for name, port in ports.items():
            node = self._placed.get(name)
            if node is None or not node.address:
                continue
            with socket.socket() as sock:
                sock.settimeout(2)
                if sock.connect_ex((node.address, port)) == 0:
                    taken.append(f"{port} ({name}) on node {node.hostname}")
        if taken:
            raise PortInUseError(
                f"port{'s' if len(taken) > 1 else ''} {', '.join(taken)} "
                f"{'are' if len(taken) > 1 else 'is'} taken by another program, so nothing was "
                "started; stop it or pick other ports with --base-port / --zookeeper-port."
            )

    def prepare(self, progress: Progress) -> None:
        local = _local_engine() or self.client
        self._image = ensure_image(local, progress)
        self._pin(progress)
        self._distribute(local, progress)
        self.spec.hosts = {name: node.address for name, node in self._placed.items()}

    def _pin(self, progress: Progress) -> None:
        """Set each server's node label where the user did not."""
        for name, placed in self._placed.items():
            label = placement_label(name)
            if placed.labels.get(label) == "true":
                continue
            progress(f"pinning {name} to node {placed.hostname} ({label}=true)")
            node = self.client.nodes.get(placed.id)
            spec = dict(node.attrs["Spec"])
            spec["Labels"] = {**(spec.get("Labels") or {}), label: "true"}
            node.update(spec)

    def _distribute(self, local: docker.DockerClient, progress: Progress) -> None:
        """``docker save | docker load`` into every node that lacks the image and whose engine
        labctl can reach (the manager's, or a node's ``smartcar-lab.engine`` label)."""
        import docker.errors

        assert self._image is not None
        manager = str(self.client.info().get("Swarm", {}).get("NodeID", ""))
        engines: dict[str, tuple[str, docker.DockerClient]] = {}
        for node in {n.id: n for n in self._placed.values()}.values():
            url = node.labels.get(ENGINE_LABEL)
            if node.id == manager and not url:
                engines[node.id] = (node.hostname, self.client)
            elif url:
                engines[node.id] = (node.hostname, _engine(url, 600))
        image = local.images.get(self._image)

        def load(hostname: str, engine: docker.DockerClient) -> None:
            try:
                engine.images.get(str(self._image))
                return
            except docker.errors.ImageNotFound:
                pass
            except Exception as exc:
                raise LabError(f"labctl cannot reach node {hostname}'s engine to hand it the "
                               f"image ({type(exc).__name__}: {exc}).") from None  # fmt: skip
            progress(f"loading the image into node {hostname} (docker save | docker load)")
            engine.api.load_image(image.save(chunk_size=1 << 20))
            repository, tag = str(self._image).rsplit(":", 1)
            engine.images.get(str(image.id)).tag(repository, tag)

        if _same_engine(local, self.client):
            engines.pop(manager, None)
        with ThreadPoolExecutor(max_workers=max(1, len(engines))) as pool:
            for future in [pool.submit(load, *e) for e in engines.values()]:
                future.result()

    def not_running(self) -> list[str]:
        return [name for name, state in zip(self.spec.ports(), self.states(), strict=True)
                if not state.running]  # fmt: skip

    def _network(self) -> str:
        import docker.errors

        name = f"{self.project}_default"
        try:
            self.client.networks.get(name)
        except docker.errors.NotFound:
            self.client.networks.create(name, driver="overlay", attachable=True,
                                        labels={STACK_LABEL: self.project})  # fmt: skip
        return name

    def _variables(self, name: str) -> dict[str, str]:
        """What a server's container is told: its node's address, and (brokers) to advertise
        its own address on the overlay network (labctl.node)."""
        return {EXTERNAL_HOST_VARIABLE: self.spec.host_of(name), BY_ADDRESS_VARIABLE: "1"}

    def stack(self) -> dict[str, Any]:
        """The servers as a stack file (``docker stack deploy -c``): the compose rendering with
        each service's ``deploy`` section, host-mode ports and the overlay network."""
        project = render(self.spec, self._target())
        project["services"].pop("topic", None)  # `up` creates the topic itself
        for name, service in project["services"].items():
            service.pop("depends_on", None)  # Swarm ignores it; labctl starts in order
            service.pop("ports", None)
            published = self.spec.ports()[name]
            service["ports"] = [{"target": container_port(name), "published": published,
                                 "protocol": "tcp", "mode": "host"}]  # fmt: skip
            service["environment"] = self._variables(name)
            service["healthcheck"] = _swarm_healthcheck(service["healthcheck"])
            service["deploy"] = {"placement": {"constraints": [
                f"node.labels.{placement_label(name)} == true"]},
                "endpoint_mode": "dnsrr", "restart_policy": {"condition": "any"}}  # fmt: skip
        project["networks"] = {"default": {"driver": "overlay", "attachable": True}}
        return project

    def start(self, names: list[str], progress: Progress, deadline: float,
              started: list[str]) -> None:  # fmt: skip
        network = self._network()
        self.paths.home.mkdir(parents=True, exist_ok=True)
        self.paths.home.joinpath("docker-stack.yml").write_text(to_yaml(self.stack(), (
            f"The lab's stack on the swarm, as labctl deployed it (stack {self.project});\n"
            "`labctl down` removes it (or `docker stack rm` it).")))  # fmt: skip
        for name in names:
            if name.startswith("broker-"):
                for member in self.spec.quorum_names:
                    self._wait_running(member, deadline, progress)
            node = self._placed[name]
            progress(f"starting {name} on node {node.hostname} ({node.address}:"
                     f"{self.spec.ports()[name]})")  # fmt: skip
            self._create(name, network)
            started.append(name)
        for name in names:  # Swarm's view too: `status` right after `up` shows them running
            self._wait_running(name, deadline, progress)

    def _create(self, name: str, network: str) -> None:
        import docker.errors
        from docker.types import (
            EndpointSpec,
            Healthcheck,
            Mount,
            NetworkAttachmentConfig,
            RestartPolicy,
        )

        service = server_service(self.spec, name, self._target())
        old = self._service(name)
        if old is not None:
            old.remove()
        check = _swarm_healthcheck(service["healthcheck"])
        seconds = {k: int(str(check[k]).rstrip("s")) * SECOND
                   for k in ("interval", "timeout", "start_period")}  # fmt: skip
        labels = {STACK_LABEL: self.project, "smartcar-lab.server": name}
        port = self.spec.ports()[name]
        try:
            self.client.services.create(
                service["image"], args=service["command"], name=self._service_name(name),
                hostname=name, labels=labels, container_labels=labels, init=True,
                env=[f"{k}={v}" for k, v in self._variables(name).items()],
                constraints=[f"node.labels.{placement_label(name)}==true"],
                endpoint_spec=EndpointSpec(mode="dnsrr",
                                           ports={port: (container_port(name), "tcp", "host")}),
                networks=[NetworkAttachmentConfig(network, aliases=[name])],
                mounts=[Mount(str(CONTAINER_DATA), f"{self.project}_{name}-data",
                              labels={STACK_LABEL: self.project})],
                healthcheck=Healthcheck(test=check["test"], retries=check["retries"],
                                        **seconds),
                restart_policy=RestartPolicy(condition="any", delay=2 * SECOND),
                stop_grace_period=20 * SECOND,
            )  # fmt: skip
        except docker.errors.APIError as exc:
            raise LabError(
                f"the swarm could not create {name}: {exc.explanation or exc}."
            ) from None

    def _tasks(self, name: str) -> list[dict[str, Any]]:
        service = self._service(name)
        if service is None:
            return []
        import docker.errors

        try:
            tasks = service.tasks()
        except docker.errors.NotFound:
            return []
        return sorted(tasks, key=lambda t: str(t.get("CreatedAt", "")), reverse=True)

    def _wait_running(self, name: str, deadline: float, progress: Progress) -> None:
        progress(f"waiting for {name} to be healthy")
        while time.monotonic() < deadline:
            problem = self.died(name)
            if problem:
                from labctl.errors import ReadinessTimeout

                raise ReadinessTimeout(problem)
            if any(t["Status"]["State"] == "running" for t in self._tasks(name)):
                return
            time.sleep(0.5)
        from labctl.errors import ReadinessTimeout

        raise ReadinessTimeout(f"{name} was not healthy in time; see `labctl logs {name}`.")

    def stop(self, names: list[str] | None = None, timeout: float = 20.0) -> list[str]:
        order = list(reversed(list(self.spec.ports())))  # brokers first, then the quorum
        stopped = []
        for name in (n for n in order if names is None or n in names):
            service = self._service(name)
            if service is None:
                continue
            running = any(t["Status"]["State"] == "running" for t in self._tasks(name))
            service.remove()
            self._wait_gone(name, time.monotonic() + timeout + 10)
            if running:
                stopped.append(name)
        if names is None:  # the whole lab: its agents' services and configs too, its network
            for service in self._services():
                service.remove()
            self._remove_network()
            for config in self.client.configs.list(
                filters={"label": f"{STACK_LABEL}={self.project}"}
            ):
                config.remove()
        return stopped

    def _wait_gone(self, name: str, deadline: float) -> None:
        """Until a removed service's tasks are gone (their containers stopped)."""
        import docker.errors

        wanted = {"name": self._service_name(name)}
        while time.monotonic() < deadline:
            try:
                if not self.client.api.tasks(filters=wanted):
                    return
            except docker.errors.NotFound:
                return
            time.sleep(0.3)

    def _remove_network(self) -> None:
        import docker.errors

        for network in self.client.networks.list(
            filters={"label": f"{STACK_LABEL}={self.project}"}
        ):
            deadline = time.monotonic() + 60  # detached once the last task stopped
            while True:
                try:
                    network.remove()
                    break
                except docker.errors.APIError as exc:
                    if time.monotonic() > deadline:
                        raise LabError(f"the network {network.name} is still in use "
                                       f"({exc.explanation}); `docker network rm` it once "
                                       "its containers stopped.") from None  # fmt: skip
                    time.sleep(0.3)

    def purge(self) -> None:
        """The services and network, then each node's volumes (where labctl reaches its engine:
        the manager's, or a node's ``smartcar-lab.engine`` label)."""
        import shutil

        import docker as sdk

        self.stop()
        for node in self._nodes():
            url = node.labels.get(ENGINE_LABEL)
            engine = _engine(url, 60) if url else None
            if engine is None and node.id == self.client.info()["Swarm"].get("NodeID"):
                engine = self.client
            if engine is None:
                continue
            for volume in engine.volumes.list(filters={"label": f"{STACK_LABEL}={self.project}"}):
                for _ in range(50):  # released a moment after the task's container is gone
                    try:
                        volume.remove(force=True)
                        break
                    except sdk.errors.APIError:
                        time.sleep(0.2)
        shutil.rmtree(self.paths.data_dir, ignore_errors=True)
        shutil.rmtree(self.paths.logs_dir, ignore_errors=True)

    def states(self) -> list[ComponentState]:
        """Each server's latest task and its node; a task Swarm still counts as running on a
        node that stopped answering (engine stopped, host down) is shown as not running."""
        nodes = {str(n.id): n for n in self.client.nodes.list()}
        rows = []
        for name, port in self.spec.ports().items():
            tasks = self._tasks(name)
            running = next((t for t in tasks if t["Status"]["State"] == "running"), None)
            latest = running or (tasks[0] if tasks else None)
            if latest is None:
                rows.append(ComponentState(name, port, False, None, None))
                continue
            node = nodes.get(str(latest.get("NodeID", "")))
            hostname = node.attrs["Description"]["Hostname"] if node else "no node"
            node_state = node.attrs["Status"].get("State", "unknown") if node else "gone"
            state = latest["Status"]["State"]
            if running is not None and node_state != "ready":
                running, state = None, f"node {node_state}"
            if node is None and latest["Status"].get("Err"):  # not placed: Swarm says why
                state = f"{state}: {latest['Status']['Err']}"
            where = f"node {hostname}" + ("" if running else f" ({state})")
            rows.append(ComponentState(name, port, running is not None, where,
                                       _uptime(latest) if running else None))  # fmt: skip
        return rows

    def died(self, name: str) -> str | None:
        """The latest task's error when the service has no running task and its latest failed
        (Swarm restarts it; an image missing on a node fails every time)."""
        tasks = self._tasks(name)
        if not tasks or any(t["Status"]["State"] in ("running", "starting") for t in tasks[:1]):
            return None
        latest = tasks[0]
        if latest["Status"]["State"] not in FAILED:
            return None
        node = self._node_names().get(str(latest.get("NodeID", "")), "no node")
        error = latest["Status"].get("Err") or latest["Status"].get("Message") or "?"
        if "No such image" in error:
            return (f"{name} failed on node {node}: {error}; label that node with "
                    f"{ENGINE_LABEL}=<its engine, e.g. ssh://user@{node}> so labctl hands "
                    "it the image, or `docker save | docker load` it there "
                    "(docs/multi-host.md).")  # fmt: skip
        return (f"{name} failed on node {node}: {error} (`labctl logs {name}`, "
                f"`docker service ps {self._service_name(name)}`).")  # fmt: skip

    def kill(self, name: str) -> None:
        """Its task's container killed through its node's engine, and the service scaled to
        none so Swarm does not restart it: down until `labctl up` (a crash drill)."""
        self._kill_task(name)

    def _kill_task(self, name: str) -> None:
        container = self._task_container(name)
        if container is None:
            where = self.agent_where(name)
            raise (NotRunningError(f"{name} is not running.") if where is None else LabError(
                f"killing {name} needs the engine of its {where} (the {ENGINE_LABEL} node "
                "label, docs/multi-host.md); stop that node's Docker instead."))  # fmt: skip
        container.kill()
        service = self._service(name)
        if service is not None:
            service.scale(0)  # before Swarm's restart delay (2 s) runs out

    def logs(self, name: str, follow: bool) -> Iterator[bytes]:
        service = self._service(name)
        if service is None:
            raise NotRunningError(f"{name} has no service; start the lab with `labctl up`.")
        chunks = service.logs(stdout=True, stderr=True, follow=follow)
        if follow:
            yield from chunks
        else:
            yield b"".join(chunks)

    # -- the agent ------------------------------------------------------------------------
    # An agent is a service too, on a node that holds the lab home at the same path (its
    # working dirs, driving log, state and log file), with its config handed over as a swarm
    # config and its metrics published in host mode on that node.
    def _agent_node(self, launch: AgentLaunch) -> SwarmNode:
        busy: Counter[str] = Counter()
        if launch.apart:
            for component in self.agent_components():
                busy.update(str(t.get("NodeID", "")) for t in self._tasks(component)
                            if t["Status"]["State"] == "running")  # fmt: skip
        return place_agent(launch.component, launch.apart, self._nodes(), busy)

    def _free_port_on(self, node: SwarmNode) -> int:
        for _ in range(100):
            port = random.randrange(20000, 40000)
            with socket.socket() as sock:
                sock.settimeout(1)
                if sock.connect_ex((node.address, port)) != 0:
                    return port
        raise LabError(f"no free port found on node {node.hostname}.")

    def _conf(self, component: str, conf: Path) -> tuple[str, str]:
        """(id, name) of a swarm config holding the agent's config file."""
        import docker.errors

        data = conf.read_bytes()
        name = f"{self.project}_{component}-{hashlib.sha256(data).hexdigest()[:12]}"
        try:
            found = self.client.configs.get(name)
        except docker.errors.NotFound:
            found = self.client.configs.create(name=name, data=data,
                                               labels={STACK_LABEL: self.project})  # fmt: skip
        return str(found.id), name

    def start_agent(self, launch: AgentLaunch) -> AgentRun:
        from docker.types import (
            ConfigReference,
            EndpointSpec,
            Mount,
            NetworkAttachmentConfig,
            RestartPolicy,
        )

        if self._image is None:
            self._image = ensure_image(_local_engine() or self.client, lambda _: None)
        component = launch.component
        self.paths.logs_dir.mkdir(parents=True, exist_ok=True)
        launch.state_dir.mkdir(parents=True, exist_ok=True)
        node = self._agent_node(launch)
        self._placed = {component: node}
        self._pin(lambda _: None)
        port = launch.monitoring_port or self._free_port_on(node)
        agent = AgentService.of(launch, self.paths.home)
        rendered = agent_service(self.spec, agent, self._target())
        conf_id, conf_name = self._conf(component, launch.conf_file)
        labels = {STACK_LABEL: self.project, AGENT_LABEL: component}
        old = self._service(component)
        if old is not None:
            old.remove()
            self._wait_gone(component, time.monotonic() + 60)
        self.client.services.create(
            rendered["image"], args=rendered["command"], name=self._service_name(component),
            hostname=component, user=rendered["user"], labels=labels, container_labels=labels,
            env=[f"{k}={v}" for k, v in rendered["environment"].items()], init=True,
            constraints=[f"node.labels.{placement_label(component)}==true"],
            endpoint_spec=EndpointSpec(mode="dnsrr",
                                       ports={port: (AGENT_METRICS_PORT, "tcp", "host")}),
            networks=[NetworkAttachmentConfig(self._network(), aliases=[component])],
            mounts=[Mount(LAB_HOME, str(self.paths.home.resolve()), type="bind")],
            configs=[ConfigReference(conf_id, conf_name, filename=AGENT_CONF, mode=0o444)],
            restart_policy=RestartPolicy(condition="on-failure", delay=2 * SECOND),
            stop_grace_period=40 * SECOND,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            problem = self.died(component)
            if problem:
                raise LabError(problem)
            if self.agent_where(component) is not None:
                return AgentRun(f"node {node.hostname}", port, host=node.address)
            time.sleep(0.3)
        raise LabError(f"the agent {component} did not start on node {node.hostname} in time; "
                       f"see {self.agent_log_of(component)}.")  # fmt: skip

    def agent_where(self, component: str = AGENT) -> str | None:
        tasks = self._tasks(component)
        running = next((t for t in tasks if t["Status"]["State"] == "running"), None)
        if running is None:
            return None
        return f"node {self._node_names().get(str(running.get('NodeID', '')), '?')}"

    def _task_container(self, name: str) -> Container | None:
        """The container of a server's or agent's running task, through its node's engine
        (the manager's, or the ``smartcar-lab.engine`` label); None where labctl cannot reach
        it."""
        import docker.errors

        task = next((t for t in self._tasks(name) if t["Status"]["State"] == "running"),
                    None)  # fmt: skip
        if task is None:
            return None
        node = self.client.nodes.get(task["NodeID"])
        url = (node.attrs["Spec"].get("Labels") or {}).get(ENGINE_LABEL)
        manager = self.client.info()["Swarm"].get("NodeID")
        engine = _engine(url, 60) if url else (self.client if node.id == manager else None)
        if engine is None:
            return None
        try:
            return engine.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
        except (docker.errors.NotFound, KeyError):
            return None

    def agent_has_open(self, path: Path, component: str = AGENT) -> bool:
        """Asked inside the agent's container (its processes' open files), the path as the
        container sees it; True where labctl cannot look (no engine label on that node)."""
        container = self._task_container(component)
        if container is None:
            return self.agent_where(component) is not None
        inside = f"{LAB_HOME}/{path.resolve().relative_to(self.paths.home.resolve())}"
        probe = ("import os,sys\n"
                 "for p in os.listdir('/proc'):\n"
                 " d=f'/proc/{p}/fd'\n"
                 " try: fds=os.listdir(d)\n"
                 " except OSError: continue\n"
                 " for f in fds:\n"
                 "  try:\n"
                 "   if os.readlink(f'{d}/{f}')==sys.argv[1]: sys.exit(0)\n"
                 "  except OSError: pass\n"
                 "sys.exit(1)\n")  # fmt: skip
        result = container.exec_run(["python", "-c", probe, inside])
        return bool(result.exit_code == 0)

    def stop_agent(self, timeout: float = 40.0, component: str = AGENT) -> bool:
        service = self._service(component)
        if service is None:
            return False
        running = self.agent_where(component) is not None
        service.remove()
        self._wait_gone(component, time.monotonic() + timeout + 10)
        return running

    def kill_agent(self, component: str = AGENT) -> None:
        """Killed as a server is (``kill``): down until it is started again."""
        if self.agent_where(component) is not None:
            self._kill_task(component)

    def agent_components(self) -> list[str]:
        services = self.client.services.list(
            filters={"label": [f"{STACK_LABEL}={self.project}", AGENT_LABEL]})  # fmt: skip
        return sorted(str(s.attrs["Spec"]["Labels"][AGENT_LABEL]) for s in services)

    def agent_host(self, component: str) -> str:
        return component  # its alias on the stack's overlay network

    def agent_env(self, launch: AgentLaunch) -> dict[str, str]:
        return compose_agent_variables(self.spec, AgentService.of(launch, self.paths.home))


def _swarm_healthcheck(check: dict[str, Any]) -> dict[str, Any]:
    """A rendered healthcheck probing no more often than every ``PROBE_INTERVAL_S``."""
    interval = max(int(str(check["interval"]).rstrip("s")), PROBE_INTERVAL_S)
    return {**check, "interval": f"{interval}s"}


def _local_engine() -> docker.DockerClient | None:
    """This machine's own engine (the image is built here), when one answers."""
    import docker

    for url in ("unix:///var/run/docker.sock",):
        with contextlib.suppress(Exception):
            client = docker.DockerClient(base_url=url, timeout=600)
            client.ping()
            return client
    return None


def _engine(url: str, timeout: int) -> docker.DockerClient:
    """A node's engine from its ``smartcar-lab.engine`` label (``ssh://`` through the ssh
    client of this machine, as the docker CLI does)."""
    import docker

    return docker.DockerClient(
        base_url=url, timeout=timeout, use_ssh_client=url.startswith("ssh://")
    )


def _same_engine(a: docker.DockerClient, b: docker.DockerClient) -> bool:
    return bool(a.info().get("ID") == b.info().get("ID"))


def _uptime(task: dict[str, Any]) -> float | None:
    stamp = str(task["Status"].get("Timestamp", ""))[:26].rstrip("Z")
    try:
        at = datetime.fromisoformat(stamp.split(".")[0] + "+00:00").timestamp()
    except ValueError:
        return None
    return round(time.time() - at, 1)
