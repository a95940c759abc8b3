"""Fixtures of the Docker tests: a real engine, the project image built once per session, and
containers of it started with testcontainers (``node``, ``kafka_container``), and a simulated
three-host swarm (``swarm``: Docker engines in containers, ``tests.docker.swarm_hosts``).

Every test here needs a Docker engine; where none answers (a laptop without Docker), they skip
with that one reason. `.ci/run` provisions an engine on CI, so there they run. testcontainers'
reaper (Ryuk) is off: its image lives on Docker Hub, which CI cannot reach; every fixture here
stops what it started.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from labctl.errors import PrerequisiteError

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import HealthcheckWaitStrategy

from labctl.backends.container import container_port, healthcheck, server_command
from labctl.spec import ClusterSpec
from tests.conftest import free_port_block
from tests.docker.swarm_hosts import SimulatedSwarm, simulated_swarm

if TYPE_CHECKING:
    import docker


@functools.cache
def _engine() -> docker.DockerClient | str:
    from labctl.backends.docker import connect

    try:
        return connect()
    except PrerequisiteError as exc:
        return str(exc)


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    client = _engine()
    if isinstance(client, str):
        pytest.skip(f"no Docker engine: {client}")
    return client


@pytest.fixture(scope="session")
def lab_image(engine: docker.DockerClient) -> str:
    """The project image, built (or found up to date) once per test session."""
    from labctl.backends.image import ensure_image

    return ensure_image(engine, lambda _: None)


def node(image: str, command: list[str], health: str | None = None) -> DockerContainer:
    """A container of the project image running one of its roles (``python -m labctl.node``),
    with that role's healthcheck when it has one."""
    container = DockerContainer(image).with_command(command).with_kwargs(init=True)
    if health is not None:
        container = container.with_kwargs(init=True, healthcheck=healthcheck(health))
        container = container.waiting_for(HealthcheckWaitStrategy().with_startup_timeout(120))
    return container


def publish(container: DockerContainer, port: int, host_port: int) -> DockerContainer:
    """Publish *port* on the host's 127.0.0.1 only (testcontainers binds every address)."""
    container.ports[f"{port}/tcp"] = ("127.0.0.1", host_port)  # type: ignore[assignment]
    return container


@pytest.fixture(scope="session")
def kafka_container(lab_image: str) -> Iterator[str]:
    """One ZooKeeper and one broker of the project image (testcontainers, each healthy before
    the next starts) on a network of their own: the bootstrap address on 127.0.0.1. For
    Kafka-level tests on any machine with an engine; `kafka_cluster` runs local processes."""
    base = free_port_block(1)
    spec = ClusterSpec(brokers=1, base_port=base)
    with Network() as network:
        zookeeper = node(lab_image, server_command(spec, "zookeeper"), "zookeeper")
        zookeeper = zookeeper.with_network(network).with_network_aliases("zookeeper")
        broker = node(lab_image, server_command(spec, "broker-0"), "broker-0")
        broker = publish(broker.with_network(network).with_network_aliases("broker-0"),
                         container_port("broker-0"), base)  # fmt: skip
        with zookeeper, broker:
            yield f"127.0.0.1:{base}"


@pytest.fixture(scope="session")
def swarm(engine: docker.DockerClient, lab_image: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedSwarm]:  # fmt: skip
    """Three simulated hosts joined as one swarm (``tests.docker.swarm_hosts``), sharing a
    folder for lab homes (``swarm.shared[0]``) at the same path, as an NFS export would."""
    homes = tmp_path_factory.mktemp("swarm-homes")
    # SMARTCAR_TEST_TAG: a word in the names of what the test run creates (a shared engine)
    name = f"smartcar-swarm-test-{os.environ.get('SMARTCAR_TEST_TAG', '')}{os.getpid()}"
    with simulated_swarm(engine, name, mounts=(homes,)) as hosts:
        yield hosts
