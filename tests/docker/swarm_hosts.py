"""A simulated swarm of three hosts for the Swarm backend's tests: three Docker engines, each in
a container of its own (Debian's ``docker.io`` on the lab's base image, ``swarm/Dockerfile``),
on a bridge network the fixture creates, joined as one swarm (the first the manager).

Each host's engine answers on ``tcp://<its address>:2375`` of that network only (nothing is
published on this machine), and each node carries the ``smartcar-lab.engine`` label with that
address: what a user sets on real hosts so labctl can hand a node the project image
(docs/multi-host.md). The node image is built once and kept (tagged with a digest of its
files, so a changed Dockerfile rebuilds it, from Docker's layer cache where it can).

The hosts run with every capability but ``SYS_RESOURCE`` instead of ``--privileged``: a
machine whose own engine runs in a container without that capability (this one) refuses
``--privileged``; the entry point makes the cgroup hierarchies writable instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

NODE_FILES = Path(__file__).parent / "swarm"
NODE_IMAGE = "smartcar-swarm-node"
ENGINE_PORT = 2375
ENGINE_LABEL = "smartcar-lab.engine"


@dataclass(frozen=True)
class SimulatedSwarm:
    """The three hosts: their names, addresses and engines (the first is the manager)."""

    name: str  # the prefix of everything the fixture created (containers, network)
    hosts: list[str]
    addresses: list[str]
    shared: tuple[Path, ...] = ()  # folders every host sees at the same path

    @property
    def manager_url(self) -> str:
        return self.engine_url(0)

    def engine_url(self, index: int) -> str:
        return f"tcp://{self.addresses[index]}:{ENGINE_PORT}"


def node_image(client: docker.DockerClient) -> str:
    """The simulated host's image, built once per version of its files."""
    import docker.errors

    digest = hashlib.sha256()
    for path in sorted(NODE_FILES.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    tag = f"{NODE_IMAGE}:{digest.hexdigest()[:12]}"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        client.images.build(path=str(NODE_FILES), tag=tag, rm=True, forcerm=True)
    return tag


def _engine(url: str, deadline: float) -> docker.DockerClient:
    import docker

    while True:
        try:
            client = docker.DockerClient(base_url=url, timeout=120)
            client.ping()
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def simulated_swarm(client: docker.DockerClient, name: str, hosts: int = 3,
                    mounts: tuple[Path, ...] = ()) -> Iterator[SimulatedSwarm]:  # fmt: skip
    """``hosts`` engines joined as one swarm; ``mounts``: folders of this machine every host
    sees at the same path (a lab home the hosts share, as an NFS export would)."""
    image = node_image(client)
    network = client.networks.create(name, driver="bridge", labels={"smartcar-test": name})
    containers: list[Container] = []
    try:
        for i in range(hosts):
            containers.append(client.containers.run(
                image, name=f"{name}-host{i}", hostname=f"host{i}", detach=True,
                network=network.name, cap_add=["ALL"], cap_drop=["SYS_RESOURCE"],
                security_opt=["seccomp=unconfined", "apparmor=unconfined"],
                volumes={str(m): {"bind": str(m), "mode": "rw"} for m in mounts},
                labels={"smartcar-test": name},
            ))  # fmt: skip
        addresses = []
        for container in containers:
            container.reload()
            addresses.append(container.attrs["NetworkSettings"]["Networks"][name]["IPAddress"])
        swarm = SimulatedSwarm(name, [f"host{i}" for i in range(hosts)], addresses, mounts)
        deadline = time.monotonic() + 120
        engines = [_engine(swarm.engine_url(i), deadline) for i in range(hosts)]
        engines[0].swarm.init(advertise_addr=addresses[0], listen_addr=f"{addresses[0]}:2377")
        token = engines[0].swarm.attrs["JoinTokens"]["Worker"]
        for i, engine in enumerate(engines[1:], 1):
            engine.swarm.join(remote_addrs=[f"{addresses[0]}:2377"], join_token=token,
                              advertise_addr=addresses[i],
                              listen_addr=f"{addresses[i]}:2377")  # fmt: skip
        for node in engines[0].nodes.list():
            hostname = node.attrs["Description"]["Hostname"]
            index = swarm.hosts.index(hostname)
            spec = dict(node.attrs["Spec"])
            spec["Labels"] = {**spec.get("Labels", {}), ENGINE_LABEL: swarm.engine_url(index)}
            node.update(spec)
        yield swarm
    finally:
        for container in containers:
            with contextlib.suppress(Exception):
                container.remove(force=True, v=True)
        with contextlib.suppress(Exception):
            network.remove()
