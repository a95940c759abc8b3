"""The shape of a lab, as ``lab.json`` records it: brokers, quorum, ports, topic, backend.

Every backend reads the same spec; only where the servers run differs. Host-side clients
(``labctl``, ``verify``, the tests) reach the brokers at ``127.0.0.1:<base_port + i>``: the
local backend listens there, the Docker backend publishes its containers' ports there; a Swarm
lab's brokers publish the same ports on their nodes, whose addresses ``hosts`` records.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from labctl.errors import LabHomeError
from labctl.paths import LabPaths
from labctl.versions import KAFKA_VERSION

TOOL = "labctl"
STATE_FORMAT = 1
TOPIC = "SmartCar-Topic"
CONTROLLER_ID_BASE = 100  # KRaft controllers' node ids (brokers are 0..n-1)


@dataclass(frozen=True)
class Architecture:
    """One of the book's three Kafka architectures, and the command that builds it here."""

    name: str
    command: str
    what: str


SINGLE, MULTI_BROKER, MULTI_NODE = (
    Architecture("single broker / single node", "labctl up --brokers 1",
                 "one ZooKeeper and one broker on this machine; the topic has RF 1, so a "
                 "broker lost is the topic lost (the book's first setup)"),
    Architecture("multi-broker / single node", "labctl up",
                 "one ZooKeeper and three brokers as processes of this machine, each on its "
                 "own port and log dir; SmartCar-Topic has RF 3 and min ISR 2, so acks=all "
                 "writes go on with one broker down, but the machine is one point of failure"),
    Architecture("multi-broker / multi-node", "labctl up --backend docker",
                 "each broker its own node: its own container, hostname, filesystem (volume) "
                 "and address on the lab's bridge network; replication goes over that network, "
                 "as between the book's server01-03 (docker-compose.yml builds the same)"),
)  # fmt: skip
ARCHITECTURES = (SINGLE, MULTI_BROKER, MULTI_NODE)


@dataclass
class TopicSpec:
    name: str = TOPIC
    partitions: int = 1  # the book's topic
    replication_factor: int = 0  # 0: min(3, brokers)

    def configs(self) -> dict[str, str]:
        """Topic configs: acks=all survives one broker loss at RF>=3; LogAppendTime stamps each
        record with the broker's append time, which `labctl verify` uses for latency."""
        min_isr = 2 if self.replication_factor >= 3 else 1
        return {"min.insync.replicas": str(min_isr), "message.timestamp.type": "LogAppendTime"}


@dataclass
class ClusterSpec:
    """The shape of a lab: what `lab.json` records."""

    brokers: int = 3
    zookeeper_port: int = 2181
    base_port: int = 9092
    topic: TopicSpec = field(default_factory=TopicSpec)
    backend: str = "local"  # a kind of labctl.backends.BACKENDS
    mode: str = "zookeeper"  # or "kraft"
    kafka_version: str = KAFKA_VERSION
    quorum: int = 1  # ZooKeeper servers, or KRaft controllers
    cluster_id: str = ""  # KRaft only: the id its storage is formatted with
    # A container lab's Compose project: "" for the one labctl names after the home. A lab
    # that `docker compose up` started is adopted with its project and compose files.
    project: str = ""
    compose_files: list[str] = field(default_factory=list)
    # Where host-side clients reach each server, by name: "" (127.0.0.1) on one host; a
    # Swarm lab's servers answer at their node's address (recorded by `up`).
    hosts: dict[str, str] = field(default_factory=dict)
    allow_colocated: bool = False  # Swarm: several brokers may share a node

    def __post_init__(self) -> None:
        if self.topic.replication_factor <= 0:
            self.topic.replication_factor = min(3, self.brokers)
        if self.mode not in ("zookeeper", "kraft"):
            raise ValueError(f"unknown mode {self.mode!r}")
        if self.mode == "kraft" and not self.cluster_id:
            self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")

    @property
    def quorum_ports(self) -> list[int]:
        """Host ports of the ZooKeeper servers, or of the KRaft controllers."""
        return [self.zookeeper_port + i for i in range(self.quorum)]

    @property
    def quorum_names(self) -> list[str]:
        if self.mode == "kraft":
            return [f"controller-{i}" for i in range(self.quorum)]
        return ["zookeeper"] if self.quorum == 1 else [f"zookeeper-{i}" for i in range(self.quorum)]

    @property
    def broker_names(self) -> list[str]:
        return [f"broker-{i}" for i in range(self.brokers)]

    @property
    def broker_ports(self) -> list[int]:
        return [self.base_port + i for i in range(self.brokers)]

    def ports(self) -> dict[str, int]:
        """Every server's host port by name, the quorum first."""
        return dict(zip([*self.quorum_names, *self.broker_names],
                        [*self.quorum_ports, *self.broker_ports], strict=True))  # fmt: skip

    def host_of(self, name: str) -> str:
        """The address a host-side client reaches a server at (127.0.0.1 unless recorded)."""
        return self.hosts.get(name) or "127.0.0.1"

    @property
    def bootstrap(self) -> str:
        """The brokers as clients on this host reach them."""
        pairs = zip(self.broker_names, self.broker_ports, strict=True)
        return ",".join(f"{self.host_of(name)}:{port}" for name, port in pairs)

    def describe(self) -> str:
        quorum = (f"{self.quorum} KRaft controller(s)" if self.mode == "kraft"
                  else f"{self.quorum} ZooKeeper server(s)")  # fmt: skip
        return f"{quorum} + {self.brokers} broker(s)"

    def shape(self) -> dict[str, Any]:
        """What `up` flags decide (a second `up` with other flags is refused)."""
        return {"backend": self.backend, "brokers": self.brokers, "mode": self.mode,
                "quorum": self.quorum, "zookeeper_port": self.zookeeper_port,
                "base_port": self.base_port, "partitions": self.topic.partitions,
                "replication_factor": self.topic.replication_factor}  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"tool": TOOL, "format": STATE_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterSpec:
        fields = {k: v for k, v in data.items() if k not in ("tool", "format", "purged")}
        fields["topic"] = TopicSpec(**fields.get("topic", {}))
        return cls(**fields)


def purged(paths: LabPaths) -> bool:
    """Was the lab in this home purged (`down --purge`) since it last ran? Its shape is then
    only a default: flags given to the next `up` make a new lab."""
    try:
        return json.loads(paths.state_file.read_text()).get("purged") is True
    except (OSError, ValueError, AttributeError):
        return False


def mark_purged(paths: LabPaths) -> None:
    try:
        data = json.loads(paths.state_file.read_text())
        paths.state_file.write_text(json.dumps({**data, "purged": True}, indent=2) + "\n")
    except (OSError, ValueError, TypeError):
        pass  # no readable lab.json: nothing to mark


def load_spec(paths: LabPaths) -> ClusterSpec | None:
    """The recorded shape, None for an empty or new home, LabHomeError for anything else."""
    home = paths.home
    try:
        if home.exists() and not home.is_dir():
            raise LabHomeError(f"{home} is not a directory; choose a directory with --home.")
        if not paths.state_file.exists():
            # A home where only labctl has written (e.g. an `up` that found its ports taken)
            # is still a new home; anything else is somebody's directory.
            own = paths.own_entries()
            if home.exists() and any(p.name not in own for p in home.iterdir()):
                raise LabHomeError(
                    f"{home} has files but no lab.json, so it is not a lab home; "
                    "choose an empty directory with --home."
                )
            return None
        text = paths.state_file.read_text()
    except OSError as exc:
        raise LabHomeError(f"{home} cannot be read ({exc.strerror}); "
                           "choose another directory with --home.") from None  # fmt: skip
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LabHomeError(f"{paths.state_file} is not valid JSON ({exc}); "
                           "remove the home or choose another with --home.") from exc  # fmt: skip
    if not isinstance(data, dict) or data.get("tool") != TOOL or data.get("format") != STATE_FORMAT:
        raise LabHomeError(
            f"{paths.state_file} was not written by this version of labctl; "
            "choose another --home or remove that directory."
        )
    try:
        return ClusterSpec.from_json(data)
    except (TypeError, ValueError) as exc:
        raise LabHomeError(f"{paths.state_file} is damaged ({exc}); remove it and run up.") from exc
