"""Server configs of a lab (ZooKeeper, KRaft controllers, brokers), rendered by one function
for every backend, so local processes and containers run the same Kafka with the same settings.

Only the addresses differ, and a ``Network`` says what they are:

- ``Loopback`` (the local backend): every server on 127.0.0.1 at the spec's ports.
- ``Bridge`` (the Docker backend): every server a host of its own on a user-defined bridge
  network (``zookeeper``, ``broker-0``, ...) at fixed container ports; brokers advertise an
  ``INTERNAL`` listener to each other and to agent containers, and an ``EXTERNAL`` listener at
  the port published on the host's 127.0.0.1 for clients on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labctl.spec import CONTROLLER_ID_BASE, ClusterSpec

SESSION_TIMEOUT_MS = 6000
# Peer ports of a ZooKeeper ensemble member on loopback: client port + these offsets.
ZK_QUORUM_OFFSET, ZK_ELECTION_OFFSET = 100, 200
# Container ports on a bridge network (the host ports are the spec's, published on 127.0.0.1).
ZK_CLIENT, ZK_QUORUM, ZK_ELECTION = 2181, 2888, 3888
CONTROLLER_PORT, EXTERNAL_PORT, INTERNAL_PORT = 9093, 9092, 19092
CONTAINER_DATA = Path("/var/lib/smartcar/data")

LOG4J = (
    "log4j.rootLogger=INFO, stdout\n"
    "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
    "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
    "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
    "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.zookeeper=WARN\n"
    "log4j.logger.state.change.logger=WARN\nlog4j.logger.kafka.request.logger=WARN\n"
)


@dataclass(frozen=True)
class Loopback:
    """Every server on 127.0.0.1 at the spec's ports; data under the lab home."""

    data_root: Path

    def data_dir(self, name: str) -> Path:
        return self.data_root / name

    def quorum_bind(self, spec: ClusterSpec, index: int) -> tuple[str, int]:
        return "127.0.0.1", spec.quorum_ports[index]

    def quorum_peer(self, spec: ClusterSpec, index: int) -> tuple[str, int]:
        return "127.0.0.1", spec.quorum_ports[index]

    def zookeeper_peer_ports(self, spec: ClusterSpec, index: int) -> tuple[str, int, int]:
        port = spec.quorum_ports[index]
        return "127.0.0.1", port + ZK_QUORUM_OFFSET, port + ZK_ELECTION_OFFSET

    def broker_listeners(self, spec: ClusterSpec, index: int) -> dict[str, object]:
        kraft = ",CONTROLLER:PLAINTEXT" if spec.mode == "kraft" else ""
        return {"listeners": f"PLAINTEXT://127.0.0.1:{spec.broker_ports[index]}",
                "listener.security.protocol.map": f"PLAINTEXT:PLAINTEXT{kraft}",
                "inter.broker.listener.name": "PLAINTEXT"}  # fmt: skip

    def bootstrap(self, spec: ClusterSpec) -> str:
        return spec.bootstrap


@dataclass(frozen=True)
class Bridge:
    """Each server its own host on a bridge (or Swarm overlay) network; data in the
    container's volume. ``external_host``: where clients outside reach the published ports
    (127.0.0.1 on one host; a Swarm node's address). ``internal_host``: the address a broker
    advertises to the other brokers, where its name will not do (a Swarm service's name
    resolves only once it is healthy, and it is healthy only once the controller reached it);
    empty: its name."""

    external_host: str = "127.0.0.1"
    internal_host: str = ""

    def data_dir(self, name: str) -> Path:
        return CONTAINER_DATA

    def quorum_bind(self, spec: ClusterSpec, index: int) -> tuple[str, int]:
        return "0.0.0.0", ZK_CLIENT if spec.mode == "zookeeper" else CONTROLLER_PORT

    def quorum_peer(self, spec: ClusterSpec, index: int) -> tuple[str, int]:
        return spec.quorum_names[index], self.quorum_bind(spec, index)[1]

    def zookeeper_peer_ports(self, spec: ClusterSpec, index: int) -> tuple[str, int, int]:
        return spec.quorum_names[index], ZK_QUORUM, ZK_ELECTION

    def broker_listeners(self, spec: ClusterSpec, index: int) -> dict[str, object]:
        kraft = ",CONTROLLER:PLAINTEXT" if spec.mode == "kraft" else ""
        return {
            "listeners": f"INTERNAL://0.0.0.0:{INTERNAL_PORT},EXTERNAL://0.0.0.0:{EXTERNAL_PORT}",
            "advertised.listeners": f"INTERNAL://{self.internal_host or spec.broker_names[index]}:"
                                    f"{INTERNAL_PORT},"
                                    f"EXTERNAL://{self.external_host}:{spec.broker_ports[index]}",
            "listener.security.protocol.map": f"INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT{kraft}",
            "inter.broker.listener.name": "INTERNAL",
        }  # fmt: skip

    def bootstrap(self, spec: ClusterSpec) -> str:
        """The brokers as containers on the lab's network reach them (agents)."""
        return ",".join(f"{name}:{INTERNAL_PORT}" for name in spec.broker_names)


Network = Loopback | Bridge


def server_properties(spec: ClusterSpec, name: str, net: Network) -> str:
    """The ``.properties`` file of one server of the lab (``zookeeper[-i]``, ``controller-i``,
    ``broker-i``)."""
    if name.startswith("zookeeper"):
        values = _zookeeper(spec, spec.quorum_names.index(name), net)
    elif name.startswith("controller-"):
        values = _controller(spec, int(name.split("-")[1]), net)
    elif name.startswith("broker-"):
        values = _broker(spec, int(name.split("-")[1]), net)
    else:
        raise ValueError(f"no server called {name!r}")
    return "".join(f"{key}={value}\n" for key, value in values.items())


def server_main(name: str) -> tuple[str, str]:
    """(Java main class, heap size) of a server."""
    if name.startswith("zookeeper"):
        return "org.apache.zookeeper.server.quorum.QuorumPeerMain", "256m"
    return "kafka.Kafka", "256m" if name.startswith("controller-") else "512m"


def java_command(java: str, classpath: str, name: str, config: Path, log4j: Path) -> list[str]:
    """The server's JVM: a fixed heap (-Xms = -Xmx, as Kafka's own start scripts) and a
    metaspace sized for Kafka's classes, so a young server does not stop for full
    collections while the heap or metaspace grows (pauses of 150 ms seen in a lab's first
    seconds with a 64 MB start; docs/performance.md)."""
    main, heap = server_main(name)
    return [java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:MetaspaceSize=96m", "-XX:+UseSerialGC",
            "-Djava.awt.headless=true", f"-Dlog4j.configuration=file:{log4j}", "-cp", classpath,
            main, str(config)]  # fmt: skip


def controller_voters(spec: ClusterSpec, net: Network) -> str:
    return ",".join(f"{CONTROLLER_ID_BASE + i}@{host}:{port}"
                    for i in range(spec.quorum)
                    for host, port in [net.quorum_peer(spec, i)])  # fmt: skip


def _zookeeper(spec: ClusterSpec, index: int, net: Network) -> dict[str, object]:
    host, port = net.quorum_bind(spec, index)
    values: dict[str, object] = {
        "dataDir": net.data_dir(spec.quorum_names[index]), "clientPort": port,
        "clientPortAddress": host, "maxClientCnxns": 0, "tickTime": 2000,
        "admin.enableServer": "false", "4lw.commands.whitelist": "ruok,srvr,stat,dump",
    }  # fmt: skip
    if spec.quorum > 1:  # a real ensemble: each server knows its peers (its id is in myid)
        values.update({"initLimit": 10, "syncLimit": 5, "quorumListenOnAllIPs": "true"})
        for i in range(spec.quorum):
            peer, quorum_port, election_port = net.zookeeper_peer_ports(spec, i)
            values[f"server.{i + 1}"] = f"{peer}:{quorum_port}:{election_port}"
    return values


def zookeeper_myid(spec: ClusterSpec, name: str) -> str | None:
    """The ``myid`` file's content of an ensemble member (None for a single server)."""
    return f"{spec.quorum_names.index(name) + 1}\n" if spec.quorum > 1 else None


def _controller(spec: ClusterSpec, index: int, net: Network) -> dict[str, object]:
    host, port = net.quorum_bind(spec, index)
    return {
        "process.roles": "controller", "node.id": CONTROLLER_ID_BASE + index,
        "controller.quorum.voters": controller_voters(spec, net),
        "listeners": f"CONTROLLER://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
        "log.dirs": net.data_dir(f"controller-{index}"),
    }  # fmt: skip


def _broker(spec: ClusterSpec, index: int, net: Network) -> dict[str, object]:
    n = spec.brokers
    if spec.mode == "kraft":
        coordination: dict[str, object] = {
            "process.roles": "broker", "node.id": index,
            "controller.quorum.voters": controller_voters(spec, net),
            "controller.listener.names": "CONTROLLER",
        }  # fmt: skip
    else:
        coordination = {
            "broker.id": index,
            "zookeeper.connect": ",".join(f"{h}:{p}" for i in range(spec.quorum)
                                          for h, p in [net.quorum_peer(spec, i)]),
            "zookeeper.connection.timeout.ms": 18000,
            # A killed broker's registration lives until its session expires; keep it
            # short so `labctl up` can bring it back soon (ZooKeeper's floor: 4 s).
            "zookeeper.session.timeout.ms": SESSION_TIMEOUT_MS,
        }  # fmt: skip
    return {
        **coordination, **net.broker_listeners(spec, index),
        "log.dirs": net.data_dir(f"broker-{index}"),
        "num.partitions": 1, "default.replication.factor": min(3, n),
        "offsets.topic.replication.factor": min(3, n), "offsets.topic.num.partitions": 5,
        "transaction.state.log.replication.factor": min(3, n),
        "transaction.state.log.min.isr": min(2, n), "transaction.state.log.num.partitions": 5,
        "group.initial.rebalance.delay.ms": 0, "num.network.threads": 2,
        "num.io.threads": 4, "log.retention.hours": 168,
        "controlled.shutdown.enable": "true", "replica.lag.time.max.ms": 10000,
        # The last broker to stop has nobody to hand its leaders to; Kafka's 3 retries
        # 5 s apart made it outlive `down`'s grace and get killed. 1 s apart is enough here.
        "controlled.shutdown.retry.backoff.ms": 1000,
    }  # fmt: skip
