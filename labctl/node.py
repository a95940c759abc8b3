"""The project image's entry point: one image serves every part of a lab, by command.

    python -m labctl.node server broker-0 --brokers 3 --base-port 9092   # ZooKeeper, brokers,
    python -m labctl.node topic --brokers 3                              #  KRaft controllers
    python -m labctl.node agent [--log-file F] -- --conf-file C --name N ...
    python -m labctl.node health broker-0                                # the healthchecks

``server`` renders the server's config with the same code as the local backend
(``labctl.kafka.config``, addresses of a bridge network) and execs ``java``; ``topic`` creates
SmartCar-Topic with the lab's settings and returns once every partition has a leader and a full
ISR; ``agent`` execs ``python -m agents``; ``health`` exits 0 when the part is ready.
Flags give the lab's shape (``labctl.backends.container`` writes and reads them).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from labctl.backends.container import (
    AGENT_METRICS_PORT,
    BY_ADDRESS_VARIABLE,
    EXTERNAL_HOST_VARIABLE,
    add_shape_arguments,
    spec_from,
)
from labctl.kafka.config import (
    CONTROLLER_PORT,
    INTERNAL_PORT,
    LOG4J,
    ZK_CLIENT,
    Bridge,
    java_command,
    server_properties,
    zookeeper_myid,
)
from labctl.spec import ClusterSpec

CONF_DIR = Path("/tmp/smartcar")  # rendered configs: the container's own, rebuilt each start


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m labctl.node", description=__doc__)
    roles = parser.add_subparsers(dest="role", required=True)
    server = roles.add_parser("server", help="run ZooKeeper, a KRaft controller or a broker")
    server.add_argument("name", help="zookeeper, zookeeper-N, controller-N or broker-N")
    add_shape_arguments(server)
    topic = roles.add_parser("topic", help="create SmartCar-Topic and wait until it is ready")
    add_shape_arguments(topic)
    topic.add_argument("--timeout", type=float, default=120.0)
    health = roles.add_parser("health", help="exit 0 when the part is ready")
    health.add_argument("name", help="a server's name, or agent")
    agent = roles.add_parser("agent", help="run python -m agents with the arguments after --")
    agent.add_argument("--log-file", help="append the agent's output to this file")
    agent.add_argument("agent_args", nargs=argparse.REMAINDER)
    return parser.parse_args(argv)


def kafka_classpath() -> str:
    return f"{os.environ.get('LAB_KAFKA_LIBS', '/opt/kafka/libs')}/*"


def run_server(spec: ClusterSpec, name: str) -> int:
    if name not in spec.ports():
        print(f"error: {name} is not a server of this lab ({', '.join(spec.ports())}).")
        return 2
    own = socket.gethostbyname(socket.gethostname()) if os.environ.get(BY_ADDRESS_VARIABLE) else ""
    net = Bridge(os.environ.get(EXTERNAL_HOST_VARIABLE) or "127.0.0.1", own)
    CONF_DIR.mkdir(parents=True, exist_ok=True)
    config, log4j = CONF_DIR / f"{name}.properties", CONF_DIR / "log4j.properties"
    config.write_text(server_properties(spec, name, net))
    log4j.write_text(LOG4J)
    data = net.data_dir(name)
    data.mkdir(parents=True, exist_ok=True)
    myid = zookeeper_myid(spec, name) if name.startswith("zookeeper") else None
    if myid:
        (data / "myid").write_text(myid)
    if spec.mode == "kraft" and not (data / "meta.properties").exists():
        subprocess.run(["java", "-Xmx128m", "-cp", kafka_classpath(), "kafka.tools.StorageTool",
                        "format", "-t", spec.cluster_id, "-c", str(config),
                        "--ignore-formatted"], check=True)  # fmt: skip
    command = java_command("java", kafka_classpath(), name, config, log4j)
    sys.stdout.flush()
    os.execvp(command[0], command)


def run_topic(spec: ClusterSpec, timeout: float) -> int:
    """SmartCar-Topic created and ready, through the brokers' INTERNAL listeners, and every
    partition on its preferred leader (what `labctl up` does before anyone writes)."""
    from labctl.cluster import Cluster
    from labctl.errors import LabError
    from labctl.paths import LabPaths

    cluster = Cluster(LabPaths(CONF_DIR), spec, bootstrap=Bridge().bootstrap(spec))
    deadline = time.monotonic() + timeout
    say = lambda message: print(message, flush=True)  # noqa: E731
    try:
        cluster.wait_ready(deadline, say, check_processes=False)
        cluster.settle_leaders(deadline, say)
    except LabError as exc:
        print(f"error: {exc}", flush=True)
        return 1
    print(f"{spec.topic.name} ready: {spec.describe()}", flush=True)
    return 0


def healthy(name: str) -> bool:
    """Ready, as the part itself can tell from inside its container."""
    if name == "agent":
        import urllib.request

        url = f"http://127.0.0.1:{AGENT_METRICS_PORT}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return bool(response.status == 200)
        except OSError:
            return False
    if name.startswith("zookeeper"):
        from labctl.kafka.zookeeper import zk_four_letters

        return zk_four_letters("ruok", ZK_CLIENT) == "imok"
    if name.startswith("controller-"):
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", CONTROLLER_PORT)) == 0
    from confluent_kafka.admin import AdminClient

    index = int(name.split("-")[1])
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{INTERNAL_PORT}", "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=4)
    except Exception:
        return False
    return index in metadata.brokers and metadata.controller_id >= 0


def run_agent(log_file: str | None, agent_args: list[str]) -> int:
    args = agent_args[1:] if agent_args[:1] == ["--"] else agent_args
    if log_file:
        os.makedirs(os.path.dirname(log_file), exist_ok=True)
        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    command = [sys.executable, "-m", "agents", *args]
    os.execv(command[0], command)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.role == "agent":
        return run_agent(args.log_file, args.agent_args)
    if args.role == "health":
        return 0 if healthy(args.name) else 1
    if args.role == "server":
        return run_server(spec_from(args), args.name)
    return run_topic(spec_from(args), args.timeout)


if __name__ == "__main__":
    sys.exit(main())
