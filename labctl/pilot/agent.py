"""The lab's agent: ``python -m agents`` run detached with the pilot config, pid and log files.

The config's ``${SMARTCAR_WORKING}`` and ``${SMARTCAR_BROKERS}`` come from the lab (its working
directory and the brokers' bootstrap list), so the file stays identical to the book's example
apart from paths and addresses. The monitoring port is recorded in ``run/agent.json``.

The driving-log hand-over: ``tail -F`` prints the last 10 lines of its file when it starts, so
a new agent would put 10 lines of an earlier run into the topic again. A new agent that follows
the log with a command therefore starts on an empty driving log: a finished log (no simulation
holds the lab's simulation lock) is archived as ``runs/driver-<time>.log`` first. ``start``
returns only once the log is open in the agent or one of its commands (``tail``), so nothing
written after it can be missed.
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

import psutil

from agents.config.properties import load_properties
from labctl.cluster import ClusterSpec
from labctl.errors import LabError, NotRunningError
from labctl.paths import LabPaths
from labctl.pilot.simulation import SimulationBusy, simulation_lock
from labctl.supervisor import Managed

AGENT_NAME = "SmartCar_Agent"
START_TIMEOUT = 30.0  # s for the agent to answer and open the driving log


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
    env = agent_env(paths, spec)
    follows = reads_driving_log(conf, env, paths)
    if follows == "command":
        fresh_driving_log(paths)
    else:  # TAILDIR resumes from its position file: the log must stay where it is
        paths.realtime_log.touch(exist_ok=True)
    port = _free_port()
    argv = [sys.executable, "-m", "agents", "--conf-file", str(conf), "--name", name,
            "--monitoring-port", str(port),
            "--state-dir", str(paths.agents_dir / name)]  # fmt: skip
    pid = m.start(argv, env)
    (paths.run_dir / "agent.json").write_text(
        json.dumps({"pid": pid, "conf_file": str(conf), "name": name, "monitoring_port": port})
    )
    deadline = time.monotonic() + START_TIMEOUT
    waiting_for = "its metrics endpoint to answer"
    while time.monotonic() < deadline:
        proc = m.process()
        if proc is None:
            raise LabError(f"the agent exited at start; see {m.log_file}.")
        try:
            metrics(paths, timeout=1)
        except OSError:
            time.sleep(0.1)
            continue
        if not follows or _has_open(proc, paths.realtime_log):
            return pid
        waiting_for = f"it to open {paths.realtime_log}"
        time.sleep(0.05)
    raise LabError(
        f"the agent did not start in {START_TIMEOUT:.0f} s (waited for {waiting_for}); "
        f"see {m.log_file}."
    )


def fresh_driving_log(paths: LabPaths) -> Path | None:
    """Archive a finished driving log so a new ``tail -F`` replays none of it; returns where.

    While a simulation writes the log, it is left alone (its lines belong to that run; a
    restarted tail -F then repeats up to 10 of them, which verify counts as duplicates). The
    log is created empty if missing: GNU tail -F started on a file that does not exist yet
    polls it once a second for good (no inotify).
    """
    log = paths.realtime_log
    archived = None
    try:
        with simulation_lock(paths):
            if log.exists() and log.stat().st_size > 0:
                paths.runs_dir.mkdir(parents=True, exist_ok=True)
                archived = _unused(paths.runs_dir / f"driver-{time.strftime('%Y%m%d-%H%M%S')}")
                log.rename(archived)
            log.touch(exist_ok=True)
    except SimulationBusy:
        log.touch(exist_ok=True)
    return archived


def _unused(stem: Path) -> Path:
    n = 0
    while (candidate := stem.with_name(f"{stem.name}{f'-{n}' if n else ''}.log")).exists():
        n += 1
    return candidate


def reads_driving_log(conf: Path, env: dict[str, str], paths: LabPaths) -> str | None:
    """How the agent config reads the driving log's folder: ``"command"`` (exec, e.g.
    tail -F), ``"file"`` (TAILDIR, which keeps positions) or None."""
    folder = str(paths.realtime_log_dir)
    found = None
    for e in load_properties(str(conf), env).entries.values():
        if folder in e.value:
            if e.key.endswith(".command"):
                return "command"
            found = "file"
    return found


def _has_open(proc: psutil.Process, path: Path) -> bool:
    """Is *path* open in *proc* or one of its children (the exec source's command)?"""
    target = str(path)
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return False
    for p in family:
        try:
            if any(f.path == target for f in p.open_files()):
                return True
        except psutil.Error:
            continue
    return False


def stop(paths: LabPaths, timeout: float = 40.0) -> bool:
    return managed(paths).stop(timeout)
