"""What a backend is: where a lab's servers and its agent run, behind one small interface.

``labctl`` and the pilot talk to a ``Backend`` and never ask which one they hold: the local
backend runs detached ``java`` and ``python`` processes, the Docker backend runs containers
of the project image. Both publish the same ports on 127.0.0.1, so everything that talks to
Kafka or ZooKeeper (readiness, status, verify, consume, produce) is shared and lives in
``labctl.cluster``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import ClassVar

import psutil

from labctl.errors import NotRunningError
from labctl.paths import LabPaths
from labctl.spec import ClusterSpec

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


def is_agent(component: str) -> bool:
    """An agent's process or container name ("agent", or "agent-<role>" for examples)."""
    return component == AGENT or component.startswith(f"{AGENT}-")


@dataclass(frozen=True)
class AgentRun:
    """A started agent: where it runs and where its metrics answer on this host."""

    where: str
    monitoring_port: int
    pid: int | None = None  # a local process's


class Backend(ABC):
    """Starts, stops and watches one lab's servers and agent."""

    kind: ClassVar[str]

    def __init__(self, paths: LabPaths, spec: ClusterSpec) -> None:
        self.paths = paths
        self.spec = spec

    # -- servers --------------------------------------------------------------------------
    @abstractmethod
    def check(self) -> None:
        """PrerequisiteError unless what this backend needs is there (java, a Docker engine)."""

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


def agent_variables(launch: AgentLaunch, working: str, state: str, bind: str,
                    brokers: list[str]) -> dict[str, str]:  # fmt: skip
    """``Backend.agent_env``'s variables, from the values a backend gives them."""
    return {"SMARTCAR_WORKING": working, "SMARTCAR_STATE": state, "SMARTCAR_BIND": bind,
            "SMARTCAR_BROKERS": ",".join(brokers),
            **{f"SMARTCAR_BROKER_{i}": b for i, b in enumerate(brokers)}, **launch.env}  # fmt: skip


def file_logs(name: str, log: Path, follow: bool) -> Iterator[bytes]:
    """A log file's content, then (``follow``) what is appended to it, as ``tail -F`` does."""
    if not log.exists():
        raise NotRunningError(f"{name} has no log yet ({log}).")
    if not follow:
        yield log.read_bytes()
        return
    with subprocess.Popen(["tail", "-n", "+1", "-F", str(log)],
                          stdout=subprocess.PIPE, bufsize=0) as tail:  # fmt: skip
        out = tail.stdout
        assert out is not None
        try:
            yield from iter(partial(out.read, 65536), b"")
        finally:
            tail.terminate()


def tree_has_open(pid: int, path: str) -> bool:
    """Is *path* open in process *pid* or one of its children? (Paths as that process sees
    them: a container's processes see their own mounts.)"""
    try:
        proc = psutil.Process(pid)
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return False
    return any(path in _open_paths(member) for member in family)


def _open_paths(proc: psutil.Process) -> set[str]:
    """What a process has open. From /proc where there is one: psutil drops paths that do not
    exist in *our* mount namespace, which a container's are not."""
    fds = Path(f"/proc/{proc.pid}/fd")
    try:
        if fds.is_dir():
            found = set()
            for fd in os.listdir(fds):
                with contextlib.suppress(OSError):
                    found.add(os.readlink(fds / fd))
            return found
        return {f.path for f in proc.open_files()}
    except (OSError, psutil.Error):
        return set()


def zk_four_letters(word: str, port: int) -> str:
    """A ZooKeeper four-letter command's answer on 127.0.0.1 ('' if nothing answers)."""
    try:
        with socket.create_connection(("127.0.0.1", port), 3) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return ""
    return b"".join(chunks).decode("utf-8", "replace")


def wait_session_expired(spec: ClusterSpec, name: str, deadline: float,
                         progress: Progress) -> None:  # fmt: skip
    """A broker killed moments ago is still registered in ZooKeeper; starting it now would
    fail with NodeExists. Wait until ZooKeeper serves (a restarted ZooKeeper restores the
    old sessions from its log before it answers), then until it dropped that registration
    (at most a session timeout)."""
    if spec.mode != "zookeeper" or not name.startswith("broker-"):
        return
    node = f"/brokers/ids/{int(name.split('-')[1])}"
    said = ""
    while time.monotonic() < deadline:
        dumps = [zk_four_letters("dump", port) for port in spec.quorum_ports]
        serving = [d for d in dumps if "ephemeral nodes dump" in d]
        if serving and not any(node in d.split() for d in serving):
            return
        news = (
            f"waiting for ZooKeeper to expire {name}'s old session"
            if serving
            else "waiting for ZooKeeper to serve"
        )
        if news != said:
            progress(news)
            said = news
        time.sleep(0.2)


def wait_port(port: int, deadline: float, alive: Callable[[], str | None], what: str) -> None:
    """Until something accepts connections on 127.0.0.1:port; ``alive`` returns a sentence
    when the server died, which ends the wait at once."""
    from labctl.errors import ReadinessTimeout

    while time.monotonic() < deadline:
        problem = alive()
        if problem:
            raise ReadinessTimeout(problem)
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ReadinessTimeout(f"{what} did not open port {port} in time.")


def last_line(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""
