"""The lab's agent: ``python -m agents`` with the pilot config, run by the lab's backend (a
detached process, or a container of the project image), logging to ``<home>/logs/agent.log``.

The config's ``${SMARTCAR_WORKING}`` and ``${SMARTCAR_BROKERS}`` come from the lab (its working
directory and the brokers' bootstrap list), so the file stays identical to the book's example
apart from paths and addresses. The monitoring port is recorded in ``run/agent.json``.

The driving-log hand-over: ``tail -F`` prints the last 10 lines of its file when it starts, so
a new agent would put 10 lines of an earlier run into the topic again. A new agent that follows
the log with a command therefore starts on an empty driving log: a finished log (no simulation
holds the lab's simulation lock) is archived as ``runs/driver-<time>.log`` first. ``start``
returns only once the log is open in the agent or one of its commands (``tail``), so nothing
written after it can be missed (the backend tells, for a process or a container alike).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from importlib import resources
from pathlib import Path

from agents.config.properties import load_properties
from labctl.backends import AgentLaunch
from labctl.cluster import Cluster
from labctl.errors import LabError, NotRunningError
from labctl.paths import LabPaths
from labctl.pilot.simulation import SimulationBusy, simulation_lock
from labctl.spec import ClusterSpec

AGENT_NAME = "SmartCar_Agent"
START_TIMEOUT = 30.0  # s for the agent to answer and open the driving log


EXAMPLES = ("3.1", "3.2", "3.4", "4.2")  # the book's agent configs shipped with the lab
PILOT_EXAMPLE = "3.4"  # the collection pilot's final shape: both flows


def pilot_conf(example: str = PILOT_EXAMPLE) -> Path:
    """The shipped config of one of the book's examples."""
    return Path(str(resources.files("labctl.pilot") / "conf" / f"ex{example}-SmartCar_Agent.conf"))


def exactly_once_conf() -> Path:
    """The pilot's config with the driving log written exactly once (TAILDIR, exactlyOnce)."""
    return pilot_conf().with_name("ex3.4-SmartCar_Agent-exactly-once.conf")


def log_file(paths: LabPaths) -> Path:
    return paths.logs_dir / "agent.log"


def running(cluster: Cluster) -> str | None:
    """Where the lab's agent runs ("pid 1234", "container 3f2a9c01be77"), None if it does not."""
    return cluster.backend.agent_where()


def agent_env(paths: LabPaths, spec: ClusterSpec) -> dict[str, str]:
    return {**os.environ, "SMARTCAR_WORKING": str(paths.working_dir),
            "SMARTCAR_BROKERS": spec.bootstrap}  # fmt: skip


def state(paths: LabPaths) -> dict[str, object]:
    try:
        return json.loads((paths.run_dir / "agent.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def metrics(paths: LabPaths, timeout: float = 3.0) -> dict[str, dict[str, str]]:
    port = state(paths).get("monitoring_port")
    if not port:
        raise NotRunningError("the agent is not running (no monitoring port recorded).")
    host = state(paths).get("host") or "127.0.0.1"
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout) as resp:
        return json.loads(resp.read())


def start(cluster: Cluster, conf: Path | None = None, name: str = AGENT_NAME,
          monitoring_port: int | None = None, log_level: str = "INFO") -> str:  # fmt: skip
    """Start the agent unless it runs; returns where it runs once its metrics endpoint answers
    (and, if it follows the driving log, once it has the log open)."""
    paths, spec, backend = cluster.paths, cluster.spec, cluster.backend
    where = backend.agent_where()
    if where is not None:
        return where
    conf = (conf or pilot_conf()).resolve()
    for d in paths.working_dirs():
        d.mkdir(parents=True, exist_ok=True)
    env = agent_env(paths, spec)
    follows = reads_driving_log(conf, env, paths)
    if follows == "command":
        fresh_driving_log(paths)
    else:  # TAILDIR resumes from its position file: the log must stay where it is
        paths.realtime_log.touch(exist_ok=True)
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    launch = AgentLaunch(conf, name, paths.agents_dir / name, monitoring_port, log_level)
    run = backend.start_agent(launch)
    record(paths, run.where, run.monitoring_port, str(conf), name, run.pid, run.host)
    deadline = time.monotonic() + START_TIMEOUT
    waiting_for = "its metrics endpoint to answer"
    while time.monotonic() < deadline:
        if backend.agent_where() is None:
            raise LabError(f"the agent exited at start; see {log_file(paths)}.")
        try:
            metrics(paths, timeout=1)
        except OSError:
            time.sleep(0.1)
            continue
        if not follows or backend.agent_has_open(paths.realtime_log):
            return run.where
        waiting_for = f"it to open {paths.realtime_log}"
        time.sleep(0.05)
    raise LabError(
        f"the agent did not start in {START_TIMEOUT:.0f} s (waited for {waiting_for}); "
        f"see {log_file(paths)}."
    )


def record(paths: LabPaths, where: str, monitoring_port: int, conf: str, name: str,
           pid: int | None = None, host: str = "127.0.0.1") -> None:  # fmt: skip
    """Note where the lab's agent runs and answers (``run/agent.json``), for every command."""
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    found = {"pid": pid, "where": where, "conf_file": conf, "name": name,
             "monitoring_port": monitoring_port, "host": host}  # fmt: skip
    (paths.run_dir / "agent.json").write_text(json.dumps(found))


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


def stop(cluster: Cluster, timeout: float = 40.0) -> bool:
    """Stop the agent gracefully (it drains its channels); True if one was running."""
    return cluster.backend.stop_agent(timeout)
