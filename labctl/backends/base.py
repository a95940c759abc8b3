"""What a backend must do: where a lab's servers and its agents run, behind one interface.

``labctl`` and the pilot talk to a ``Backend`` and never ask which one they hold: the local
backend runs detached ``java`` and ``python`` processes, the Docker backend runs containers
of the project image. Both publish the same ports on 127.0.0.1, so everything that talks to
Kafka or ZooKeeper (readiness, status, verify, consume, produce) is shared and lives in
``labctl.cluster``. What differs between kinds that is not behaviour is a class attribute.
Helpers a backend may use live in ``labctl.backends.tools``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from labctl.errors import LabError
from labctl.paths import LabPaths
from labctl.spec import MULTI_BROKER, MULTI_NODE, SINGLE, Architecture, ClusterSpec

if TYPE_CHECKING:
    from labctl.supervisor import Managed

Progress = Callable[[str], None]
AGENT = "agent"


@dataclass(frozen=True)
class ComponentState:
    """One server or agent as `labctl status` shows it."""

    name: str
    port: int | None
    running: bool
    where: str | None  # "pid 1234" or "container 3f2a9c01be77"
    uptime_s: float | None
    pid: int | None = None  # a local process's (a container's processes are the engine's)


@dataclass(frozen=True)
class AgentLaunch:
    """What to run as the lab's agent (or as one of several, named by ``component``)."""

    conf_file: Path
    name: str
    state_dir: Path  # its trackers, positions and dead letters (lab home: agents/<name>)
    monitoring_port: int | None = None  # on the host's 127.0.0.1; None: any free port
    log_level: str = "INFO"
    component: str = AGENT  # its process or container name: "agent", or "agent-<role>"
    env: dict[str, str] = field(default_factory=dict)  # more variables for its config
    # Fed over the network, not by the lab's files (flume-4's aggregators): a backend of
    # several hosts may run it on another host than the agents that read files.
    apart: bool = False


def is_agent(component: str) -> bool:
    """An agent's process or container name ("agent", or "agent-<role>" for examples)."""
    return component == AGENT or component.startswith(f"{AGENT}-")


@dataclass(frozen=True)
class AgentRun:
    """A started agent: where it runs and where its metrics answer on this host."""

    where: str
    monitoring_port: int
    pid: int | None = None  # a local process's
    host: str = "127.0.0.1"  # where the metrics port answers (a Swarm node's address)


class Backend(ABC):
    """Starts, stops and watches one lab's servers and agents."""

    kind: ClassVar[str]  # the name `--backend` takes and lab.json records
    help: ClassVar[str]  # what `--backend <kind>` runs, in a few words
    ready_timeout: ClassVar[float]  # s from start to ready (after any build)
    own_nodes: ClassVar[bool]  # each server a node of its own (host name, filesystem, address)
    compose_project: str | None = None  # the Compose project the lab's containers belong to

    def __init__(self, paths: LabPaths, spec: ClusterSpec) -> None:
        self.paths = paths
        self.spec = spec

    @property
    def started_by(self) -> str:
        """How the lab was started, as `status` says it."""
        return f"labctl up --backend {self.kind}"

    @property
    def architecture(self) -> Architecture:
        """Which of the book's three Kafka architectures this lab is."""
        if self.spec.brokers == 1:
            return SINGLE
        return MULTI_NODE if self.own_nodes else MULTI_BROKER

    # -- servers --------------------------------------------------------------------------
    @abstractmethod
    def check(self) -> None:
        """PrerequisiteError unless what this backend needs is there (java, a Docker engine)."""

    def require_free(self, ports: dict[str, int]) -> None:
        """PortInUseError naming every port (by server) that is taken where it would listen."""
        from labctl.ports import require_free

        require_free(ports)

    @abstractmethod
    def prepare(self, progress: Progress) -> None:
        """Get what starting needs (Kafka, the image), once the ports are known to be free."""

    @abstractmethod
    def not_running(self) -> list[str]:
        """The servers that are not running, in start order (the quorum first)."""

    @abstractmethod
    def start(self, names: list[str], progress: Progress, deadline: float,
              started: list[str]) -> None:  # fmt: skip
        """Start the named servers in order (brokers once the quorum listens), appending
        each to ``started`` as soon as it runs, so a failure part-way can stop them."""

    @abstractmethod
    def stop(self, names: list[str] | None = None, timeout: float = 20.0) -> list[str]:
        """Stop the named servers (default: all, brokers first); returns those stopped."""

    @abstractmethod
    def purge(self) -> None:
        """Delete the servers' data (and the Docker backend's containers and volumes)."""

    @abstractmethod
    def states(self) -> list[ComponentState]:
        """Every server, the quorum first."""

    @abstractmethod
    def died(self, name: str) -> str | None:
        """A sentence saying that server exited, with its last log line; None if it did not."""

    def exited(self) -> str | None:
        """The first server that exited, as ``died`` says it; None if none did."""
        return next(filter(None, (self.died(name) for name in self.spec.ports())), None)

    @abstractmethod
    def kill(self, name: str) -> None:
        """Kill a server at once (SIGKILL, `docker kill`): for failure drills."""

    @abstractmethod
    def logs(self, name: str, follow: bool) -> Iterator[bytes]:
        """A server's or the agent's log, as chunks of bytes."""

    def process(self, name: str) -> Managed:
        """A server's or agent's process on this host (drills that watch or kill it): only
        where the lab's parts are processes of this host."""
        raise LabError(f"{name} is not a process of this host with the {self.kind} backend; "
                       "use kill() or kill_agent().")  # fmt: skip

    # -- the agent ------------------------------------------------------------------------
    # ``component`` names one of several agents (the examples run up to six); the pilot's
    # agent is "agent". Every agent's config sees the same variables (``agent_env``).
    @abstractmethod
    def start_agent(self, launch: AgentLaunch) -> AgentRun:
        """Start the agent (the caller made sure none runs)."""

    @abstractmethod
    def agent_where(self, component: str = AGENT) -> str | None:
        """Where the agent runs ("pid 1234", "container ..."), None if it does not."""

    @abstractmethod
    def agent_has_open(self, path: Path, component: str = AGENT) -> bool:
        """Has the agent (or a command it runs, like ``tail -F``) this file of the lab home
        open?"""

    @abstractmethod
    def stop_agent(self, timeout: float = 40.0, component: str = AGENT) -> bool:
        """Stop the agent gracefully (it drains its channels); True if one was running."""

    @abstractmethod
    def kill_agent(self, component: str = AGENT) -> None:
        """Kill the agent at once (a failure drill)."""

    @abstractmethod
    def agent_components(self) -> list[str]:
        """Every agent this lab has a process or container of ("agent", "agent-<role>")."""

    @abstractmethod
    def agent_host(self, component: str) -> str:
        """The host name another agent of this lab reaches that agent at."""

    @abstractmethod
    def agent_env(self, launch: AgentLaunch) -> dict[str, str]:
        """The variables an agent's config may use: ``SMARTCAR_WORKING`` (the working dir),
        ``SMARTCAR_STATE`` (its state dir), ``SMARTCAR_BROKERS`` (every broker),
        ``SMARTCAR_BROKER_<i>`` (one broker), ``SMARTCAR_BIND`` (the address listening sources
        bind so other agents reach them), and the launch's own."""

    @property
    def agent_log(self) -> Path:
        """The agent's log file (both backends write it in the lab home)."""
        return self.agent_log_of(AGENT)

    def agent_log_of(self, component: str) -> Path:
        return self.paths.logs_dir / f"{component}.log"
