"""The local backend: ZooKeeper (or KRaft controllers), the brokers and the agent as detached
processes of this host (``java`` from the Kafka distribution in the cache, ``python -m agents``),
known by their pid files, logging to ``<home>/logs/<name>.log``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from labctl.backends.base import (
    AGENT,
    AgentLaunch,
    AgentRun,
    Backend,
    ComponentState,
    Progress,
    is_agent,
)
from labctl.backends.tools import (
    agent_variables,
    file_logs,
    last_line,
    tree_has_open,
    wait_port,
)
from labctl.errors import LabError
from labctl.kafka.config import LOG4J, Loopback, java_command, server_properties, zookeeper_myid
from labctl.kafka.dist import ensure_kafka, require_java
from labctl.kafka.zookeeper import wait_session_expired
from labctl.paths import LabPaths
from labctl.supervisor import Managed


class LocalBackend(Backend):
    kind = "local"
    help = "processes on this host"
    ready_timeout = 90.0
    own_nodes = False
    started_by = "labctl up (processes of this host)"

    def _net(self) -> Loopback:
        return Loopback(self.paths.data_dir)

    def managed(self, name: str) -> Managed:
        """A server's or the agent's process handle."""
        return process_handle(self.paths, name)

    def process(self, name: str) -> Managed:
        return self.managed(name)

    # -- servers --------------------------------------------------------------------------
    def check(self) -> None:
        self._java = require_java()

    def prepare(self, progress: Progress) -> None:
        progress("resolving Apache Kafka (cached after the first time)")
        self._classpath = ensure_kafka().classpath

    def not_running(self) -> list[str]:
        return [name for name in self.spec.ports() if self.managed(name).process() is None]

    def start(self, names: list[str], progress: Progress, deadline: float,
              started: list[str]) -> None:  # fmt: skip
        for directory in (self.paths.config_dir, self.paths.data_dir, self.paths.logs_dir,
                          self.paths.run_dir):  # fmt: skip
            directory.mkdir(parents=True, exist_ok=True)
        (self.paths.config_dir / "log4j.properties").write_text(LOG4J)
        ports = self.spec.ports()
        for name in names:
            if name.startswith("broker-"):  # the quorum must answer before any broker starts
                for member in self.spec.quorum_names:
                    wait_port(ports[member], deadline, partial(self.died, member), member)
                wait_session_expired(self.spec, name, deadline, progress)
            config = self._write_config(name)
            if self.spec.mode == "kraft":
                self._format_storage(name, progress)
            progress(f"starting {name} on port {ports[name]}")
            command = java_command(self._java, self._classpath, name, config,
                                   self.paths.config_dir / "log4j.properties")  # fmt: skip
            self.managed(name).start(command, {**os.environ, "LABCTL_HOME": str(self.paths.home)})
            started.append(name)

    def _write_config(self, name: str) -> Path:
        config = self.paths.config_dir / f"{name}.properties"
        config.write_text(server_properties(self.spec, name, self._net()))
        if name.startswith("zookeeper"):
            data = self._net().data_dir(name)
            data.mkdir(parents=True, exist_ok=True)
            myid = zookeeper_myid(self.spec, name)
            if myid:
                (data / "myid").write_text(myid)
        return config

    def _format_storage(self, name: str, progress: Progress) -> None:
        """KRaft nodes need their log dirs formatted with the cluster id, once."""
        if (self._net().data_dir(name) / "meta.properties").exists():
            return
        progress(f"formatting {name}'s storage for KRaft")
        result = subprocess.run(
            [self._java, "-Xmx128m", "-cp", self._classpath, "kafka.tools.StorageTool", "format",
             "-t", self.spec.cluster_id, "-c", str(self.paths.config_dir / f"{name}.properties"),
             "--ignore-formatted"], capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise LabError(f"formatting {name}'s storage failed: "
                           f"{last_line(result.stderr or result.stdout)[-300:]}")  # fmt: skip

    def stop(self, names: list[str] | None = None, timeout: float = 20.0) -> list[str]:
        order = list(reversed(list(self.spec.ports())))  # brokers first, then the quorum
        chosen = [n for n in order if names is None or n in names]
        return [name for name in chosen if self.managed(name).stop(timeout)]

    def purge(self) -> None:
        import shutil

        shutil.rmtree(self.paths.data_dir, ignore_errors=True)
        shutil.rmtree(self.paths.logs_dir, ignore_errors=True)

    def states(self) -> list[ComponentState]:
        rows = []
        for name, port in self.spec.ports().items():
            proc = self.managed(name).process()
            rows.append(ComponentState(
                name, port, proc is not None, f"pid {proc.pid}" if proc else None,
                round(time.time() - proc.create_time(), 1) if proc else None,
                proc.pid if proc else None,
            ))  # fmt: skip
        return rows

    def died(self, name: str) -> str | None:
        managed = self.managed(name)
        if managed.process() is not None:
            return None
        tail = last_line(managed.log_file.read_bytes()) if managed.log_file.exists() else ""
        return (f"{name} exited during start-up; last log line: {tail!r} "
                f"(full log: {managed.log_file}).")  # fmt: skip

    def kill(self, name: str) -> None:
        self.managed(name).kill()

    def logs(self, name: str, follow: bool) -> Iterator[bytes]:
        return file_logs(name, self.managed(name).log_file, follow)

    # -- the agent ------------------------------------------------------------------------
    def start_agent(self, launch: AgentLaunch) -> AgentRun:
        port = launch.monitoring_port or _free_port()
        argv = [sys.executable, "-m", "agents", "--conf-file", str(launch.conf_file),
                "--name", launch.name, "--monitoring-port", str(port),
                "--state-dir", str(launch.state_dir), "--log-level", launch.log_level]  # fmt: skip
        pid = self.managed(launch.component).start(argv, {**os.environ, **self.agent_env(launch)})
        return AgentRun(f"pid {pid}", port, pid)

    def agent_env(self, launch: AgentLaunch) -> dict[str, str]:
        return agent_variables(launch, str(self.paths.working_dir), str(launch.state_dir),
                               "127.0.0.1", self.spec.bootstrap.split(","))  # fmt: skip

    def agent_host(self, component: str) -> str:
        return "127.0.0.1"

    def agent_components(self) -> list[str]:
        found = sorted(p.stem for p in self.paths.run_dir.glob(f"{AGENT}*.pid"))
        return [name for name in found if is_agent(name)]

    def agent_where(self, component: str = AGENT) -> str | None:
        proc = self.managed(component).process()
        return None if proc is None else f"pid {proc.pid}"

    def agent_has_open(self, path: Path, component: str = AGENT) -> bool:
        proc = self.managed(component).process()
        return proc is not None and tree_has_open(proc.pid, str(path))

    def stop_agent(self, timeout: float = 40.0, component: str = AGENT) -> bool:
        return self.managed(component).stop(timeout)

    def kill_agent(self, component: str = AGENT) -> None:
        self.managed(component).kill()


def process_handle(paths: LabPaths, name: str) -> Managed:
    """A local server's or agent's pid file, log file, and a token of its command line."""
    token = "-m agents" if is_agent(name) else f"{paths.config_dir / name}.properties"
    return Managed(name, paths.run_dir / f"{name}.pid", paths.logs_dir / f"{name}.log", token)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
