"""The local backend: a real ZooKeeper and real Kafka brokers as detached `java` processes.

One ``Cluster`` per lab home. ``up()`` is idempotent: it starts what is not running and
returns only when every broker is registered, a controller is elected and every partition of
the pilot's topic has a leader and a full ISR. The shape is recorded in ``lab.json``.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from labctl.errors import (
    LabError,
    LabHomeError,
    NotRunningError,
    PortInUseError,
    ReadinessTimeout,
)
from labctl.kafka.dist import KAFKA_VERSION, ensure_kafka, require_java
from labctl.paths import LabPaths
from labctl.supervisor import Managed

TOOL = "labctl"
STATE_FORMAT = 1
TOPIC = "SmartCar-Topic"

Progress = Callable[[str], None]


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
    backend: str = "local"
    mode: str = "zookeeper"  # or "kraft"
    kafka_version: str = KAFKA_VERSION
    quorum: int = 1  # ZooKeeper servers, or KRaft controllers
    cluster_id: str = ""  # KRaft only: the id its storage is formatted with

    def __post_init__(self) -> None:
        if self.topic.replication_factor <= 0:
            self.topic.replication_factor = min(3, self.brokers)
        if self.mode not in ("zookeeper", "kraft"):
            raise ValueError(f"unknown mode {self.mode!r}")
        if self.mode == "kraft" and not self.cluster_id:
            self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")

    @property
    def quorum_ports(self) -> list[int]:
        """Client ports of the ZooKeeper servers, or listener ports of the KRaft controllers."""
        return [self.zookeeper_port + i for i in range(self.quorum)]

    @property
    def quorum_names(self) -> list[str]:
        if self.mode == "kraft":
            return [f"controller-{i}" for i in range(self.quorum)]
        return ["zookeeper"] if self.quorum == 1 else [f"zookeeper-{i}" for i in range(self.quorum)]

    @property
    def zookeeper_connect(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.quorum_ports)

    @property
    def controller_voters(self) -> str:
        return ",".join(f"{CONTROLLER_ID_BASE + i}@127.0.0.1:{p}"
                        for i, p in enumerate(self.quorum_ports))  # fmt: skip

    def describe(self) -> str:
        quorum = (f"{self.quorum} KRaft controller(s)" if self.mode == "kraft"
                  else f"{self.quorum} ZooKeeper server(s)")  # fmt: skip
        return f"{quorum} + {self.brokers} broker(s)"

    @property
    def broker_ports(self) -> list[int]:
        return [self.base_port + i for i in range(self.brokers)]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.broker_ports)

    def to_json(self) -> dict:
        return {"tool": TOOL, "format": STATE_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> ClusterSpec:
        fields = {k: v for k, v in data.items() if k not in ("tool", "format")}
        fields["topic"] = TopicSpec(**fields.get("topic", {}))
        return cls(**fields)


SESSION_TIMEOUT_MS = 6000
CONTROLLER_ID_BASE = 100  # KRaft controllers' node ids (brokers are 0..n-1)
# Peer ports of a ZooKeeper ensemble member: client port + these offsets.
ZK_QUORUM_OFFSET, ZK_ELECTION_OFFSET = 100, 200


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int) -> int:
    """The first of ``size`` consecutive free ports, away from the book's (2181, 9092...),
    for labs that must not collide with a lab the user runs (tests, benchmarks)."""
    for _ in range(200):
        base = random.randrange(20000, 40000)
        if all(port_free(base + i) for i in range(size)):
            return base
    raise LabError("no block of free ports found")


def load_spec(paths: LabPaths) -> ClusterSpec | None:
    """The recorded shape, None for an empty or new home, LabHomeError for anything else."""
    if not paths.state_file.exists():
        if paths.home.exists() and any(paths.home.iterdir()):
            raise LabHomeError(
                f"{paths.home} has files but no lab.json, so it is not a lab home; "
                "choose an empty directory with --home."
            )
        return None
    try:
        data = json.loads(paths.state_file.read_text())
    except (OSError, ValueError) as exc:
        raise LabHomeError(f"{paths.state_file} is not valid JSON ({exc}); "
                           "remove the home or choose another with --home.") from exc  # fmt: skip
    if not isinstance(data, dict) or data.get("tool") != TOOL or data.get("format") != STATE_FORMAT:
        raise LabHomeError(
            f"{paths.state_file} was not written by this version of labctl; "
            "choose another --home or remove that directory."
        )
    try:
        return ClusterSpec.from_json(data)
    except TypeError as exc:
        raise LabHomeError(f"{paths.state_file} is damaged ({exc}); remove it and run up.") from exc


class Cluster:
    """A lab's ZooKeeper and brokers in one home."""

    def __init__(self, paths: LabPaths, spec: ClusterSpec) -> None:
        self.paths = paths
        self.spec = spec

    @classmethod
    def open(cls, paths: LabPaths) -> Cluster:
        """The lab recorded in a home; NotRunningError if there is none."""
        spec = load_spec(paths)
        if spec is None:
            raise NotRunningError(f"there is no lab in {paths.home}; start one with `labctl up`.")
        return cls(paths, spec)

    # -- components ---------------------------------------------------------------------
    def quorum(self) -> list[tuple[Managed, int]]:
        """The ZooKeeper servers or KRaft controllers, with their ports."""
        names, ports = self.spec.quorum_names, self.spec.quorum_ports
        return [(self._managed(n), p) for n, p in zip(names, ports, strict=True)]

    def broker(self, index: int) -> Managed:
        return self._managed(f"broker-{index}")

    def components(self) -> list[tuple[Managed, int]]:
        """Every component with its port, the quorum first."""
        brokers = [(self.broker(i), p) for i, p in enumerate(self.spec.broker_ports)]
        return [*self.quorum(), *brokers]

    def quorum_health(self) -> tuple[int, str]:
        """(members serving, what was seen): ZooKeeper's ``ruok``, or a KRaft controller's
        process and port."""
        seen = []
        for managed, port in self.quorum():
            if self.spec.mode == "zookeeper":
                ok = self.zk_four_letters("ruok", port) == "imok"
            else:
                ok = managed.process() is not None and not port_free(port)
            seen.append(f"{managed.name} {'ok' if ok else 'down'}")
        return sum(s.endswith(" ok") for s in seen), ", ".join(seen)

    def _managed(self, name: str) -> Managed:
        token = f"{self.paths.config_dir / name}.properties"
        return Managed(name, self.paths.run_dir / f"{name}.pid",
                       self.paths.logs_dir / f"{name}.log", token)  # fmt: skip

    # -- lifecycle ----------------------------------------------------------------------
    def up(self, progress: Progress = lambda _: None, timeout: float = 90.0) -> float:
        """Start what is not running and wait until ready; returns the seconds it took."""
        began = time.monotonic()
        java = require_java()
        dist = ensure_kafka()
        self.paths.home.mkdir(parents=True, exist_ok=True)
        for directory in (self.paths.config_dir, self.paths.data_dir, self.paths.logs_dir,
                          self.paths.run_dir, *self.paths.working_dirs()):  # fmt: skip
            directory.mkdir(parents=True, exist_ok=True)
        self.paths.state_file.write_text(json.dumps(self.spec.to_json(), indent=2) + "\n")
        self._write_log4j()
        if self.spec.mode == "kraft":
            self._format_storage(java, dist.classpath, progress)
        deadline = began + timeout
        self._start_missing(self.quorum(), java, dist.classpath, deadline, progress)
        for member, member_port in self.quorum():
            self._wait_port(member, member_port, deadline)
        brokers = [(self.broker(i), p) for i, p in enumerate(self.spec.broker_ports)]
        self._start_missing(brokers, java, dist.classpath, deadline, progress)
        progress("waiting for brokers and a controller")
        self.wait_ready(began + timeout, progress)
        return time.monotonic() - began

    def _start_missing(self, members: list[tuple[Managed, int]], java: str, classpath: str,
                       deadline: float, progress: Progress) -> None:  # fmt: skip
        for managed, port in members:
            if managed.process() is not None:
                continue
            if not port_free(port):
                raise PortInUseError(
                    f"port {port} for {managed.name} is taken by another program; "
                    "stop it or pick other ports with --base-port / --zookeeper-port."
                )
            if managed.name.startswith("broker-"):
                self._wait_old_session(managed.name, deadline, progress)
            progress(f"starting {managed.name} on port {port}")
            managed.start(self._command(java, classpath, managed.name), self._env())

    def _wait_old_session(self, name: str, deadline: float, progress: Progress) -> None:
        """A broker killed moments ago is still registered in ZooKeeper; starting it now would
        fail with NodeExists. Wait (at most a session timeout) until ZooKeeper dropped it."""
        if self.spec.mode != "zookeeper":
            return
        node = f"/brokers/ids/{int(name.split('-')[1])}"
        waited = False
        while time.monotonic() < deadline and node in self.zk_four_letters("dump"):
            if not waited:
                progress(f"waiting for ZooKeeper to expire {name}'s old session")
                waited = True
            time.sleep(0.5)

    def zk_four_letters(self, word: str, port: int | None = None) -> str:
        """A ZooKeeper four-letter command's answer ('' if ZooKeeper does not answer)."""
        try:
            with socket.create_connection(
                ("127.0.0.1", port or self.spec.zookeeper_port), 3
            ) as sock:
                sock.sendall(word.encode())
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError:
            return ""
        return b"".join(chunks).decode("utf-8", "replace")

    def _format_storage(self, java: str, classpath: str, progress: Progress) -> None:
        """KRaft nodes need their log dirs formatted with the cluster id, once."""
        for name in [*self.spec.quorum_names, *(f"broker-{i}" for i in range(self.spec.brokers))]:
            if (self.paths.data_dir / name / "meta.properties").exists():
                continue
            progress(f"formatting {name}'s storage for KRaft")
            config = self._write_config(name)
            result = subprocess.run(
                [java, "-Xmx128m", "-cp", classpath, "kafka.tools.StorageTool", "format",
                 "-t", self.spec.cluster_id, "-c", str(config), "--ignore-formatted"],
                capture_output=True, text=True, env=self._env(),
            )  # fmt: skip
            if result.returncode != 0:
                raise LabError(f"formatting {name}'s storage failed: "
                               f"{(result.stderr or result.stdout).strip()[-300:]}")  # fmt: skip

    def down(self, purge: bool = False, timeout: float = 20.0) -> list[str]:
        """Stop brokers, then the quorum; returns the names stopped. ``purge`` deletes data."""
        stopped = [m.name for m, _ in reversed(self.components()) if m.stop(timeout)]
        if purge:
            shutil.rmtree(self.paths.data_dir, ignore_errors=True)
            shutil.rmtree(self.paths.logs_dir, ignore_errors=True)
        return stopped

    def admin(self) -> AdminClient:
        return AdminClient(self.client_config())

    def client_config(self) -> dict[str, object]:
        """confluent-kafka settings for this lab (librdkafka's connect noise silenced)."""
        return {"bootstrap.servers": self.spec.bootstrap, "log_level": 0}

    def wait_ready(
        self, deadline: float, progress: Progress = lambda _: None, check_processes: bool = True
    ) -> None:
        """Until every broker is registered, a controller elected and every partition of the
        topic has a leader and a full ISR. ``check_processes``: fail fast if a local process
        died (the Docker backend has containers instead)."""
        admin = self.admin()
        problem = "no answer from the brokers"
        created = False
        while time.monotonic() < deadline:
            if check_processes:
                self._check_alive()
            try:
                metadata = admin.list_topics(timeout=3)
                if len(metadata.brokers) < self.spec.brokers or metadata.controller_id < 0:
                    problem = f"{len(metadata.brokers)} of {self.spec.brokers} brokers registered"
                elif self.spec.topic.name not in metadata.topics:
                    if not created:
                        progress(f"creating topic {self.spec.topic.name}")
                        self._create_topic(admin)
                        created = True
                    problem = f"topic {self.spec.topic.name} not yet in metadata"
                else:
                    problem = self.partition_problem(metadata)
                    if problem is None:
                        return
            except KafkaException as exc:
                problem = str(exc)
            time.sleep(0.3)
        raise ReadinessTimeout(f"the cluster was not ready in time ({problem}); see logs in "
                               f"{self.paths.logs_dir}.")  # fmt: skip

    def partition_problem(self, metadata) -> str | None:
        topic = metadata.topics[self.spec.topic.name]
        if topic.error is not None:
            return str(topic.error)
        for pid, part in topic.partitions.items():
            if part.leader < 0:
                return f"partition {pid} has no leader"
            if len(part.isrs) < len(part.replicas):
                return f"partition {pid} ISR {part.isrs} is not full ({part.replicas})"
        return None

    def _create_topic(self, admin: AdminClient, topic: TopicSpec | None = None) -> None:
        topic = topic or self.spec.topic
        new = NewTopic(topic.name, topic.partitions, topic.replication_factor,
                       config=topic.configs())  # fmt: skip
        for future in admin.create_topics([new], operation_timeout=20).values():
            try:
                future.result()
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 0) -> None:
        """Create a topic shaped like the pilot's (RF 0: min(3, brokers)); exists is fine."""
        rf = replication_factor or min(3, self.spec.brokers)
        self._create_topic(self.admin(), TopicSpec(name, partitions, rf))

    def topic_configs(self, name: str) -> dict[str, str]:
        resource = ConfigResource("topic", name)
        admin = self.admin()
        result = admin.describe_configs([resource])[resource].result(timeout=10)
        return {key: entry.value for key, entry in result.items()}

    def _check_alive(self, only: Managed | None = None) -> None:
        for managed in [only] if only else [m for m, _ in self.components()]:
            if managed.process() is None:
                tail = _tail(managed.log_file)
                raise ReadinessTimeout(
                    f"{managed.name} exited during start-up; last log line: {tail!r} "
                    f"(full log: {managed.log_file})."
                )

    def _wait_port(self, managed: Managed, port: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive(managed)
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise ReadinessTimeout(f"{managed.name} did not open port {port}; see {managed.log_file}.")

    # -- rendering ----------------------------------------------------------------------
    def _write_config(self, name: str) -> Path:
        config = self.paths.config_dir / f"{name}.properties"
        if name.startswith("zookeeper"):
            index = 0 if name == "zookeeper" else int(name.split("-")[1])
            config.write_text(self._zookeeper_properties(index))
        elif name.startswith("controller-"):
            config.write_text(self._controller_properties(int(name.split("-")[1])))
        else:
            config.write_text(self._broker_properties(int(name.split("-")[1])))
        return config

    def _command(self, java: str, classpath: str, name: str) -> list[str]:
        config = self._write_config(name)
        if name.startswith("zookeeper"):
            main, heap = "org.apache.zookeeper.server.quorum.QuorumPeerMain", "-Xmx256m"
        elif name.startswith("controller-"):
            main, heap = "kafka.Kafka", "-Xmx256m"
        else:
            main, heap = "kafka.Kafka", "-Xmx512m"
        log4j = self.paths.config_dir / "log4j.properties"
        return [java, "-Xms64m", heap, "-XX:+UseSerialGC", "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{log4j}", "-cp", classpath, main,
                str(config)]  # fmt: skip

    def _env(self) -> dict[str, str]:
        return {**os.environ, "LABCTL_HOME": str(self.paths.home)}

    def _zookeeper_properties(self, index: int) -> str:
        name = self.spec.quorum_names[index]
        data = self.paths.data_dir / name
        data.mkdir(parents=True, exist_ok=True)
        values: dict[str, object] = {
            "dataDir": data, "clientPort": self.spec.quorum_ports[index],
            "clientPortAddress": "127.0.0.1", "maxClientCnxns": 0, "tickTime": 2000,
            "admin.enableServer": "false", "4lw.commands.whitelist": "ruok,srvr,stat,dump",
        }  # fmt: skip
        if self.spec.quorum > 1:  # a real ensemble: each server knows its peers and its id
            (data / "myid").write_text(f"{index + 1}\n")
            values.update({"initLimit": 10, "syncLimit": 5})
            for i, port in enumerate(self.spec.quorum_ports):
                values[f"server.{i + 1}"] = (f"127.0.0.1:{port + ZK_QUORUM_OFFSET}:"
                                             f"{port + ZK_ELECTION_OFFSET}")  # fmt: skip
        return _properties(values)

    def _controller_properties(self, index: int) -> str:
        port = self.spec.quorum_ports[index]
        return _properties({
            "process.roles": "controller", "node.id": CONTROLLER_ID_BASE + index,
            "controller.quorum.voters": self.spec.controller_voters,
            "listeners": f"CONTROLLER://127.0.0.1:{port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
            "log.dirs": self.paths.data_dir / f"controller-{index}",
        })  # fmt: skip

    def _broker_properties(self, index: int) -> str:
        n = self.spec.brokers
        port = self.spec.broker_ports[index]
        if self.spec.mode == "kraft":
            coordination: dict[str, object] = {
                "process.roles": "broker", "node.id": index,
                "controller.quorum.voters": self.spec.controller_voters,
                "controller.listener.names": "CONTROLLER",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name": "PLAINTEXT",
            }  # fmt: skip
        else:
            coordination = {
                "broker.id": index, "zookeeper.connect": self.spec.zookeeper_connect,
                "zookeeper.connection.timeout.ms": 18000,
                # A killed broker's registration lives until its session expires; keep it
                # short so `labctl up` can bring it back soon (ZooKeeper's floor: 4 s).
                "zookeeper.session.timeout.ms": SESSION_TIMEOUT_MS,
            }  # fmt: skip
        return _properties({
            **coordination, "listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "log.dirs": self.paths.data_dir / f"broker-{index}",
            "num.partitions": 1, "default.replication.factor": min(3, n),
            "offsets.topic.replication.factor": min(3, n), "offsets.topic.num.partitions": 5,
            "transaction.state.log.replication.factor": min(3, n),
            "transaction.state.log.min.isr": min(2, n), "transaction.state.log.num.partitions": 5,
            "group.initial.rebalance.delay.ms": 0, "num.network.threads": 2,
            "num.io.threads": 4, "log.retention.hours": 168,
            "controlled.shutdown.enable": "true", "replica.lag.time.max.ms": 10000,
        })  # fmt: skip

    def _write_log4j(self) -> None:
        (self.paths.config_dir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, stdout\n"
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.zookeeper=WARN\n"
            "log4j.logger.state.change.logger=WARN\nlog4j.logger.kafka.request.logger=WARN\n"
        )


def _properties(values: dict[str, object]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""
