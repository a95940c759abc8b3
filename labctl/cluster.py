"""A lab: its shape (``lab.json``), its backend (where the servers and the agent run), and
everything that talks to its Kafka and ZooKeeper through the ports on 127.0.0.1.

``up()`` is idempotent: it starts what is not running and returns only when every broker is
registered, a controller is elected and every partition of the pilot's topic has a leader and
a full ISR. Every port is checked before anything starts, and a failed or interrupted ``up``
stops what it started. ``down()`` stops the agent, then the brokers, then the quorum.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from confluent_kafka import ElectionType, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from labctl.backends import Backend, backend_for
from labctl.errors import LabHomeError, NotRunningError, ReadinessTimeout
from labctl.kafka.config import SESSION_TIMEOUT_MS
from labctl.kafka.zookeeper import zk_four_letters
from labctl.paths import LabPaths
from labctl.ports import free_port_block, port_free
from labctl.spec import (
    STATE_FORMAT,
    TOOL,
    TOPIC,
    ClusterSpec,
    TopicSpec,
    load_spec,
    mark_purged,
)

if TYPE_CHECKING:
    from labctl.supervisor import Managed

Progress = Callable[[str], None]

__all__ = ["SESSION_TIMEOUT_MS", "STATE_FORMAT", "TOOL", "TOPIC", "Cluster", "ClusterSpec",
           "TopicSpec", "free_port_block", "load_spec", "port_free"]  # fmt: skip


class Cluster:
    """A lab's ZooKeeper (or KRaft controllers), brokers and agent, in one home."""

    def __init__(self, paths: LabPaths, spec: ClusterSpec, bootstrap: str | None = None) -> None:
        self.paths = paths
        self.spec = spec
        self._bootstrap = bootstrap  # other than the spec's inside containers
        self._backend: Backend | None = None

    @property
    def bootstrap(self) -> str:
        """The brokers' addresses (the spec's, which a Swarm lab's `up` records on the way)."""
        return self._bootstrap or self.spec.bootstrap

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = backend_for(self.paths, self.spec)
        return self._backend

    @classmethod
    def open(cls, paths: LabPaths) -> Cluster:
        """The lab recorded in a home; NotRunningError if there is none."""
        spec = load_spec(paths)
        if spec is None:
            raise NotRunningError(f"there is no lab in {paths.home}; start one with `labctl up`.")
        return cls(paths, spec)

    # -- lifecycle ----------------------------------------------------------------------
    def up(self, progress: Progress = lambda _: None, timeout: float | None = None) -> float:
        """Start what is not running and wait until ready; returns the seconds it took.
        Nothing starts unless every port it needs is free; on failure or Ctrl-C, what this
        call started is stopped again."""
        began = time.monotonic()
        backend = self.backend
        backend.check()
        missing = backend.not_running()
        ports = self.spec.ports()
        backend.require_free({name: ports[name] for name in missing})
        backend.prepare(progress)
        self._write_home()
        deadline = time.monotonic() + (timeout or backend.ready_timeout)
        started: list[str] = []
        try:
            backend.start(missing, progress, deadline, started)
            progress("waiting for brokers and a controller")
            self.wait_ready(deadline, progress)
            if started:
                self.settle_leaders(deadline, progress)
        except BaseException:
            if started:
                progress(f"stopping what this start began: {', '.join(started)}")
                everything = set(started) == set(ports)
                backend.stop(None if everything else started, timeout=10)
            raise
        return time.monotonic() - began

    def _write_home(self) -> None:
        try:
            self.paths.home.mkdir(parents=True, exist_ok=True)
            self.paths.state_file.write_text(json.dumps(self.spec.to_json(), indent=2) + "\n")
            for directory in self.paths.working_dirs():
                directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabHomeError(
                f"{self.paths.home} cannot hold a lab ({exc.strerror}: {exc.filename}); "
                "choose a writable directory with --home."
            ) from None

    def down(self, purge: bool = False, timeout: float = 20.0) -> list[str]:
        """Stop the agents, the brokers, then the quorum; returns the names stopped. ``purge``
        also deletes the data and logs (and the Docker backend's volumes), and marks the
        recorded shape as a default only: the next `up` may be given another."""
        backend = self.backend
        stopped = [c for c in backend.agent_components() if backend.stop_agent(component=c)]
        stopped += self.backend.stop(timeout=timeout)
        if purge:
            self.backend.purge()
            mark_purged(self.paths)
        return stopped

    def kill(self, name: str) -> None:
        """Kill one server at once, as a crash would (failure drills)."""
        self.backend.kill(name)

    def broker(self, index: int) -> Managed:
        """A broker's process on this host (tests and drills of backends that have one)."""
        return self.backend.process(f"broker-{index}")

    # -- what the servers say -----------------------------------------------------------
    def quorum_health(self) -> tuple[int, str]:
        """(members serving, what was seen): ZooKeeper's ``ruok``, or a KRaft controller's
        state as its backend sees it."""
        running = {s.name: s.running for s in self.backend.states()}
        seen = []
        for name, port in zip(self.spec.quorum_names, self.spec.quorum_ports, strict=True):
            if self.spec.mode == "zookeeper":
                ok = self.zk_four_letters("ruok", port) == "imok"
            else:
                ok = running.get(name, False)
            seen.append(f"{name} {'ok' if ok else 'down'}")
        return sum(s.endswith(" ok") for s in seen), ", ".join(seen)

    def zk_four_letters(self, word: str, port: int | None = None) -> str:
        """A ZooKeeper four-letter command's answer ('' if ZooKeeper does not answer)."""
        port = port or self.spec.zookeeper_port
        names = dict(zip(self.spec.quorum_ports, self.spec.quorum_names, strict=True))
        return zk_four_letters(word, port, self.spec.host_of(names.get(port, "")))

    def admin(self) -> AdminClient:
        return AdminClient(self.client_config())

    def client_config(self) -> dict[str, str | int | float | bool]:
        """confluent-kafka settings for this lab (librdkafka's connect noise silenced)."""
        return {"bootstrap.servers": self.bootstrap, "log_level": 0}

    def brokers_answer(self, timeout: float = 3.0) -> bool:
        """Does any broker answer at all (a quick check before a command waits on them)?"""
        try:
            self.admin().list_topics(timeout=timeout)
        except KafkaException:
            return False
        return True

    def wait_ready(
        self, deadline: float, progress: Progress = lambda _: None, check_processes: bool = True
    ) -> None:
        """Until every broker is registered, a controller elected and every partition of the
        topic has a leader and a full ISR. ``check_processes``: fail fast if a server died."""
        admin = self.admin()
        problem = "no answer from the brokers"
        created = False
        while time.monotonic() < deadline:
            if check_processes:
                died = self.backend.exited()
                if died:
                    raise ReadinessTimeout(died)
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
                    problem = self.partition_problem(metadata) or ""
                    if not problem:
                        return
            except KafkaException as exc:
                problem = str(exc)
            time.sleep(0.3)
        raise ReadinessTimeout(f"the cluster was not ready in time ({problem}); "
                               "see `labctl logs <component>`.")  # fmt: skip

    def settle_leaders(self, deadline: float, progress: Progress = lambda _: None) -> None:
        """Move each partition of the topic to its preferred leader before anyone writes.

        After brokers (re)start, the first broker up leads everything. Kafka's controller
        moves leadership back to the preferred replicas by itself, 5 s after it is elected
        (then every 5 minutes): under the book's ``requiredAcks = 1``, records the old leader
        acknowledged but had not yet replicated are then cut from the log. Doing that move
        now, while nothing writes, is what makes `up` mean settled.
        """
        admin = self.admin()
        topic = self.spec.topic.name
        asked_at = 0.0
        seen = "no metadata"
        while time.monotonic() < deadline:
            try:
                parts = admin.list_topics(topic, timeout=3).topics[topic].partitions
            except (KafkaException, KeyError):
                parts = {}
            moving = [pid for pid, part in parts.items()
                      if part.replicas and part.leader != part.replicas[0]]  # fmt: skip
            if parts and not moving:
                return
            problem = self.partition_problem_of(parts)
            seen = problem or "; ".join(f"partition {pid} led by {parts[pid].leader}, preferred "
                                        f"{parts[pid].replicas[0]}" for pid in moving)  # fmt: skip
            if moving and not problem and time.monotonic() - asked_at > 3:  # again after 3 s
                progress(f"moving {len(moving)} partition(s) of {topic} to their preferred leader")
                future = admin.elect_leaders(
                    ElectionType.PREFERRED, [TopicPartition(topic, pid) for pid in moving]
                )
                try:
                    future.result(timeout=10)  # bounded: a slow answer is asked again
                except KafkaException as exc:  # ELECTION_NOT_NEEDED is fine; others: say them
                    seen += f" (last election: {exc})"
                except TimeoutError:
                    seen += " (last election: no answer in 10 s)"
                asked_at = time.monotonic()
            time.sleep(0.3)
        raise ReadinessTimeout(
            f"the partitions of {topic} did not settle on their preferred leaders in time "
            f"({seen}); see `labctl logs <component>`."
        )

    @staticmethod
    def partition_problem_of(parts: Any) -> str | None:
        for pid, part in parts.items():
            if part.leader < 0:
                return f"partition {pid} has no leader"
            if len(part.isrs) < len(part.replicas):
                return f"partition {pid} ISR {part.isrs} is not full ({part.replicas})"
        return None

    def partition_problem(self, metadata: Any) -> str | None:
        topic = metadata.topics[self.spec.topic.name]
        if topic.error is not None:
            return str(topic.error)
        return self.partition_problem_of(topic.partitions)

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
