"""What every example shares: its agents (started, watched, killed, stopped), its input (the
smart-car simulator's files) and what it reads back (Kafka topics, file_roll folders, logs).

An example runs in a lab that is up (``labctl up``), on whichever backend the lab has: its
agents are ``agent-<example>-<role>`` processes or containers, their configs rendered under
``<home>/examples/<example>/`` with the lab's variables (``Backend.agent_env``), their state
under ``<home>/agents/<component>/`` and their logs in ``<home>/logs/<component>.log``. Checks
read Kafka, files and logs, never the agents' own counters (those only pace the run).
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import NewTopic

from labctl.backends import AgentLaunch
from labctl.checks import Report
from labctl.cluster import Cluster
from labctl.errors import LabError
from labctl.kafka.reader import read_records
from labctl.paths import LabPaths
from labctl.waiting import wait_for
from simulator.handoff import hand_off
from simulator.status import write_status_file

RECORD = re.compile(rb"^\d{14},")
START_TIMEOUT = 60.0  # s for an agent to answer on its metrics port
Progress = Callable[[str], None]


@dataclass
class Scale:
    """How much data an example moves."""

    cars: int = 2  # cars per status file (21,601 records a car a day)
    seed: int = 7
    exactly_once: bool = False  # the example's exactly-once variant (flume-4)


@dataclass
class Agent:
    component: str
    name: str  # the agent's name in its config
    conf: Path
    monitoring_port: int
    launch: AgentLaunch
    host: str = "127.0.0.1"  # where its metrics answer (a Swarm node's address)


@dataclass
class ExampleRun:
    """One run of an example in a lab: its agents, folders and what it measured."""

    example: str
    cluster: Cluster
    progress: Progress = lambda _: None
    number: int = 0  # the seed's architecture it runs
    agents: dict[str, Agent] = field(default_factory=dict)
    report: Report = field(default_factory=Report)

    @property
    def paths(self) -> LabPaths:
        return self.cluster.paths

    @property
    def home(self) -> Path:
        """Rendered configs and staging files of this example."""
        return self.paths.home / "examples" / self.example

    def working(self, *parts: str) -> Path:
        """A folder under the working dir (agents see it as ${SMARTCAR_WORKING}/examples/...)."""
        path = self.paths.working_dir.joinpath("examples", self.example, *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def state(self, role: str) -> Path:
        return self.paths.agents_dir / self.component(role)

    def component(self, role: str) -> str:
        return component_name(self.example, role)

    def fresh(self, roles: Iterable[str]) -> None:
        """Leave nothing of an earlier run: the example's folders, its agents' state."""
        for path in (
            self.home,
            self.paths.working_dir / "examples" / self.example,
            *(self.state(r) for r in roles),
        ):
            shutil.rmtree(path, ignore_errors=True)
        self.home.mkdir(parents=True, exist_ok=True)

    # -- agents ----------------------------------------------------------------------------
    def start(
        self, role: str, conf_name: str, name: str, env: dict[str, str] | None = None,
        extra: str = "", apart: bool = False,
    ) -> Agent:  # fmt: skip
        """Start one agent from a shipped config (plus *extra* properties); returns once its
        metrics answer. ``apart``: fed over the network, it may run on a host of its own."""
        backend = self.cluster.backend
        component = self.component(role)
        conf = self.home / f"{role}.conf"
        if not conf.exists():
            conf.write_text(shipped_conf(conf_name) + extra)
        launch = AgentLaunch(conf, name, self.state(role), component=component,
                             env=dict(env or {}), apart=apart)  # fmt: skip
        self.progress(f"starting {component}")
        backend.stop_agent(component=component)
        return self._started(role, launch)

    def restart(self, role: str) -> Agent:
        """Start an agent again (after a kill) with its launch of before."""
        return self._started(role, self.agents[role].launch)

    def _started(self, role: str, launch: AgentLaunch) -> Agent:
        run = self.cluster.backend.start_agent(launch)
        agent = Agent(launch.component, launch.name, launch.conf_file, run.monitoring_port,
                      launch, run.host)  # fmt: skip
        self.agents[role] = agent
        self.report.figures.setdefault("where", {})[role] = run.where
        self._wait_answering(role)
        return agent

    def _wait_answering(self, role: str) -> None:
        """Until the agent's metrics answer; LabError at once if it exited, or in time."""
        backend = self.cluster.backend
        component = self.agents[role].component
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if backend.agent_where(component) is None:
                raise LabError(
                    f"{component} exited at start; see {backend.agent_log_of(component)}."
                )
            if self.answers(role):
                return
            time.sleep(0.2)
        raise LabError(
            f"{component} did not answer in {START_TIMEOUT:.0f} s; see "
            f"{backend.agent_log_of(component)}."
        )

    def answers(self, role: str) -> bool:
        """Do the agent's metrics answer (at its host)?"""
        try:
            self.metrics(role)
            return True
        except OSError:
            return False

    def metrics(self, role: str) -> dict[str, dict[str, str]]:
        agent = self.agents[role]
        url = f"http://{agent.host}:{agent.monitoring_port}/metrics"
        with urllib.request.urlopen(url, timeout=3) as resp:
            data: dict[str, dict[str, str]] = json.loads(resp.read())
        return data

    def counter(self, role: str, key: str, name: str) -> int:
        """One counter of one component (``SINK.k1``), 0 if the agent does not answer."""
        try:
            return int(self.metrics(role).get(key, {}).get(name, 0))
        except (OSError, ValueError):
            return 0

    def kill(self, role: str) -> None:
        self.progress(f"SIGKILL {self.agents[role].component}")
        self.cluster.backend.kill_agent(self.agents[role].component)

    def stop_all(self) -> None:
        for agent in self.agents.values():
            self.cluster.backend.stop_agent(component=agent.component)

    def log(self, role: str) -> Path:
        return self.cluster.backend.agent_log_of(self.agents[role].component)

    def check_records(self, name: str, want: list[bytes], got: list[bytes],
                      once: bool = True, why_duplicates: str = "") -> int:  # fmt: skip
        """A check that *got* holds every record of *want* and nothing else, each once (with
        *once*; else duplicates get a check of their own, counted and explained). Returns
        the duplicates."""
        missing, dups, odd = tally(want, got)
        self.report.add(self.number, name, missing == odd == 0 and (dups == 0 or not once),
                        f"{len(got):,} for {len(want):,}: {missing} missing, {dups} "
                        f"duplicates, {odd} unexpected")  # fmt: skip
        if not once:
            self.report.add(self.number, "duplicates counted and reported", True,
                            f"{dups} duplicates ({why_duplicates})")  # fmt: skip
        return dups

    # -- Kafka -----------------------------------------------------------------------------
    def topic(self, purpose: str, replicas: list[int] | None = None) -> str:
        """A new topic for this run (one partition; on the given brokers, else RF min(3, n))."""
        name = f"{self.example}-{purpose}-{uuid.uuid4().hex[:6]}"
        admin = self.cluster.admin()
        if replicas is None:
            rf = min(3, self.cluster.spec.brokers)
            new = NewTopic(name, 1, rf)
        else:
            # confluent-kafka wants the partition count beside an assignment (RF -1)
            new = NewTopic(
                name, num_partitions=1, replication_factor=-1, replica_assignment=[replicas]
            )
        for future in admin.create_topics([new], operation_timeout=20).values():
            future.result()
        return name

    def wait_leader(self, topic: str, timeout: float = 60.0) -> None:
        """Until *topic*'s partition has a leader (after its broker was started again)."""
        admin = self.cluster.admin()  # one client for every poll, not a new one each time

        def led() -> bool:
            try:
                md = admin.list_topics(topic, timeout=3).topics[topic]
            except KafkaException:
                return False
            return md.error is None and all(p.leader >= 0 for p in md.partitions.values())

        wait(f"topic {topic} to have a leader", led, timeout)

    def read_topic(
        self, topic: str, expect: int, idle: float = 15.0, committed: bool = False
    ) -> list[tuple[bytes, dict[str, str]]]:
        """(value, headers) of every record of *topic* (one partition), read from the start
        until *expect* records came and the end offset is reached, or nothing came for *idle*
        s (verify's reader; *committed*: as a read_committed reader sees them)."""
        got = read_records(self.cluster.client_config(), topic, {0: 0}, expect, idle=idle,
                           batch=10000, committed=committed)  # fmt: skip
        return [(r.value, r.headers) for r in got]


def component_name(example: str, role: str) -> str:
    """An example agent's process or container name."""
    return f"agent-{example}-{role}"


def shipped_conf(name: str) -> str:
    return shipped_conf_path(name).read_text()


def shipped_conf_path(name: str) -> Path:
    """A shipped example config in the package (a file of the checkout or the install)."""
    return Path(str(resources.files("labctl.examples").joinpath("conf", name)))


def wait(what: str, cond: Callable[[], object], timeout: float, step: float = 0.2) -> None:
    """Until *cond* holds, or LabError naming *what* was waited for."""
    if not wait_for(cond, timeout, step=step):
        raise LabError(f"timed out after {timeout:.0f} s waiting for {what}")


def status_day(run: ExampleRun, date: str, scale: Scale, spool: Path) -> list[bytes]:
    """The day's status file of ``scale.cars`` cars, handed to *spool*; its valid records."""
    staging = run.home / "staging"
    manifest = write_status_file(date, scale.cars, staging, seed=scale.seed)
    path = Path(manifest.output)
    records = [line for line in path.read_bytes().splitlines() if RECORD.match(line)]
    hand_off(path, spool)
    return records


def tally(expected: list[bytes], got: Iterable[bytes]) -> tuple[int, int, int]:
    """(missing, duplicates, unexpected) of *got* against the *expected* records (each once)."""
    seen = Counter(got)
    want = set(expected)
    missing = sum(1 for r in want if r not in seen)
    duplicates = sum(n - 1 for r, n in seen.items() if r in want and n > 1)
    unexpected = sum(n for r, n in seen.items() if r not in want)
    return missing, duplicates, unexpected


def consumed(spool: Path) -> bool:
    """No file is left in a spool dir (its hidden tracker folder aside)."""
    return not any(not p.name.startswith(".") for p in spool.iterdir())


def lines_under(folder: Path) -> list[bytes]:
    """Every line of every file under *folder* (a file_roll sink's output)."""
    out: list[bytes] = []
    if folder.exists():
        for f in sorted(p for p in folder.rglob("*") if p.is_file()):
            out.extend(f.read_bytes().splitlines())
    return out


class Example(ABC):
    """One of the seed's four architectures, runnable in a lab."""

    number: int
    name: str
    title: str
    figure: str  # the seed figure it is
    brokers: int = 0  # brokers it needs
    roles: tuple[str, ...] = ()

    def compose_agents(self) -> dict[str, tuple[str, str, dict[str, str]]]:
        """Each role's (shipped config, agent name, variables) for a Compose project."""
        raise LabError(f"{self.name}'s agents are started by `labctl example run {self.name}`; "
                       "`labctl compose --example` renders flume-4's.")  # fmt: skip

    @abstractmethod
    def run(self, run: ExampleRun, scale: Scale) -> None:
        """Start the agents, feed them, break what the architecture is about, check."""

    def execute(self, cluster: Cluster, scale: Scale, progress: Progress) -> Report:
        """The run and its report; every agent stopped at the end, whatever happened."""
        if cluster.spec.brokers < self.brokers:
            raise LabError(
                f"{self.name} needs {self.brokers} brokers; this lab has "
                f"{cluster.spec.brokers} (labctl up --brokers {self.brokers})"
            )
        run = ExampleRun(self.name, cluster, progress, number=self.number)
        run.fresh(self.roles)
        started = time.monotonic()
        try:
            self.run(run, scale)
        finally:
            run.stop_all()
        run.report.figures["seconds"] = round(time.monotonic() - started, 1)
        run.report.figures["backend"] = cluster.spec.backend
        return run.report
