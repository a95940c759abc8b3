"""The lab's agent: ``python -m agents`` run detached with the pilot config, pid and log files.

The config's ``${SMARTCAR_WORKING}`` and ``${SMARTCAR_BROKERS}`` come from the lab (its working
directory and the brokers' bootstrap list), so the file stays identical to the book's example
apart from paths and addresses. The monitoring port is recorded in ``run/agent.json``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.request
from importlib import resources
from pathlib import Path

from labctl.cluster import ClusterSpec
from labctl.errors import LabError, NotRunningError
from labctl.paths import LabPaths
from labctl.supervisor import Managed

AGENT_NAME = "SmartCar_Agent"


EXAMPLES = ("3.1", "3.2", "3.4", "4.2")  # the book's agent configs shipped with the lab
PILOT_EXAMPLE = "3.4"  # the collection pilot's final shape: both flows


def pilot_conf(example: str = PILOT_EXAMPLE) -> Path:
    """The shipped config of one of the book's examples."""
    return Path(str(resources.files("labctl.pilot") / "conf" / f"ex{example}-SmartCar_Agent.conf"))


def managed(paths: LabPaths) -> Managed:
    return Managed("agent", paths.run_dir / "agent.pid", paths.logs_dir / "agent.log",
                   "-m agents")  # fmt: skip


def agent_env(paths: LabPaths, spec: ClusterSpec) -> dict[str, str]:
    return {**os.environ, "SMARTCAR_WORKING": str(paths.working_dir),
            "SMARTCAR_BROKERS": spec.bootstrap}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def state(paths: LabPaths) -> dict[str, object]:
    try:
        return json.loads((paths.run_dir / "agent.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def metrics(paths: LabPaths, timeout: float = 3.0) -> dict[str, dict[str, str]]:
    port = state(paths).get("monitoring_port")
    if not port:
        raise NotRunningError("the agent is not running (no monitoring port recorded).")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as resp:
        return json.loads(resp.read())


def start(paths: LabPaths, spec: ClusterSpec, conf: Path | None = None,
          name: str = AGENT_NAME) -> int:  # fmt: skip
    """Start the agent unless it runs; returns its pid once its metrics endpoint answers."""
    m = managed(paths)
    proc = m.process()
    if proc is not None:
        return proc.pid
    conf = (conf or pilot_conf()).resolve()
    for d in paths.working_dirs():
        d.mkdir(parents=True, exist_ok=True)
    # GNU tail -F started on a file that does not exist yet falls back to polling it once a
    # second for good (no inotify), which would add up to a second to every driving record.
    paths.realtime_log.touch(exist_ok=True)
    port = _free_port()
    argv = [sys.executable, "-m", "agents", "--conf-file", str(conf), "--name", name,
            "--monitoring-port", str(port)]  # fmt: skip
    pid = m.start(argv, agent_env(paths, spec))
    (paths.run_dir / "agent.json").write_text(
        json.dumps({"pid": pid, "conf_file": str(conf), "name": name, "monitoring_port": port})
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if m.process() is None:
            raise LabError(f"the agent exited at start; see {m.log_file}.")
        try:
            metrics(paths, timeout=1)
            return pid
        except OSError:
            time.sleep(0.2)
    raise LabError(f"the agent's metrics endpoint did not answer in 20 s; see {m.log_file}.")


def stop(paths: LabPaths, timeout: float = 40.0) -> bool:
    return managed(paths).stop(timeout)
