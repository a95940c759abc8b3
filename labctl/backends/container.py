"""What a container of the project image is told, for every engine that runs one: its command
(``python -m labctl.node`` with a role and the lab's shape as flags), the ports it listens on
inside, its healthcheck, and where an agent container finds its files.

``labctl.node`` (the image's entry point) parses the flags that ``spec_flags`` writes, with
``add_shape_arguments`` and ``spec_from`` beside it here, so the two cannot drift.
"""

from __future__ import annotations

import argparse
from typing import Any

from labctl.backends.base import AGENT, is_agent
from labctl.kafka.config import CONTROLLER_PORT, EXTERNAL_PORT, ZK_CLIENT
from labctl.spec import ClusterSpec, TopicSpec

AGENT_METRICS_PORT = 41414  # the book's monitoring port, inside the agent's container
WORKING, AGENT_CONF, LOGS = "/working", "/lab/agent.conf", "/lab/logs"
AGENT_STATE = "/lab/state"
# Where clients outside reach a broker's published port (Bridge.external_host): a Swarm
# node's address; unset on one host (127.0.0.1).
EXTERNAL_HOST_VARIABLE = "SMARTCAR_EXTERNAL_HOST"
# Set (to 1): a broker advertises its own address to the other brokers instead of its name
# (Bridge.internal_host); a Swarm service's name resolves only once its task is healthy.
BY_ADDRESS_VARIABLE = "SMARTCAR_ADVERTISE_ADDRESS"
SECOND = 1_000_000_000  # healthcheck durations are in nanoseconds
# A grace period only (healthy at the first check that passes): 3 JVMs starting at once on 2
# busy cores took 2.5 min to open a KRaft controller's port here, and Compose gives up on a
# dependency that turned unhealthy.
START_PERIOD_S = 180


def spec_flags(spec: ClusterSpec) -> list[str]:
    """The flags that give a node the lab's shape (what ``spec_from`` reads back)."""
    flags = ["--brokers", str(spec.brokers), "--base-port", str(spec.base_port)]
    if spec.mode != "zookeeper" or spec.quorum != 1:
        flags += ["--mode", spec.mode, "--quorum", str(spec.quorum)]
    if spec.mode == "kraft":
        flags += ["--cluster-id", spec.cluster_id]
    if spec.topic.partitions != 1 or spec.topic.replication_factor != min(3, spec.brokers):
        flags += ["--partitions", str(spec.topic.partitions),
                  "--replication-factor", str(spec.topic.replication_factor)]  # fmt: skip
    return flags


def server_command(spec: ClusterSpec, name: str) -> list[str]:
    """The container command of one server of the lab."""
    return ["server", name, *spec_flags(spec)]


def topic_command(spec: ClusterSpec) -> list[str]:
    """The one-shot container that creates the lab's topic and waits until it is ready."""
    return ["topic", *spec_flags(spec)]


def add_shape_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags ``spec_flags`` writes, on a node's command line."""
    parser.add_argument("--brokers", type=int, default=3)
    parser.add_argument(
        "--base-port",
        type=int,
        default=9092,
        help="host port of broker-0's EXTERNAL listener (published)",
    )
    parser.add_argument("--mode", choices=["zookeeper", "kraft"], default="zookeeper")
    parser.add_argument("--quorum", type=int, default=1)
    parser.add_argument("--cluster-id", default="")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--replication-factor", type=int, default=0)


def spec_from(args: argparse.Namespace) -> ClusterSpec:
    """The lab's shape from a node's command line."""
    topic = TopicSpec(partitions=args.partitions, replication_factor=args.replication_factor)
    return ClusterSpec(brokers=args.brokers, base_port=args.base_port, topic=topic,
                       mode=args.mode, quorum=args.quorum,
                       cluster_id=args.cluster_id)  # fmt: skip


def healthcheck(name: str) -> dict[str, Any]:
    """Ready, as ``python -m labctl.node health`` tells it (durations in nanoseconds)."""
    quick = name.startswith(("zookeeper", "controller-"))  # `up` waits on these
    part = AGENT if is_agent(name) else name
    return {"test": ["CMD", "python", "-m", "labctl.node", "health", part],
            "interval": (1 if quick else 5) * SECOND, "timeout": 10 * SECOND, "retries": 3,
            "start_period": START_PERIOD_S * SECOND}  # fmt: skip


def container_port(name: str) -> int:
    """The port a server listens on inside its container (published at the spec's port)."""
    if name.startswith("zookeeper"):
        return ZK_CLIENT
    return CONTROLLER_PORT if name.startswith("controller-") else EXTERNAL_PORT


def read_server_command(command: list[str]) -> tuple[str, ClusterSpec] | None:
    """(server name, the lab's shape) from a server container's command; None if it is not
    one (``server_command``'s inverse)."""
    if len(command) < 2 or command[0] != "server":
        return None
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("name")
    add_shape_arguments(parser)
    try:
        args, extra = parser.parse_known_args(command[1:])
        return (args.name, spec_from(args)) if not extra else None
    except (argparse.ArgumentError, ValueError, SystemExit):
        return None
