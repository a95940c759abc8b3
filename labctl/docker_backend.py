"""The Docker Compose backend: the same lab shape as containers (``docker-compose.yml``).

``up`` runs ``docker compose up -d`` for ZooKeeper and the brokers, then waits for the same
readiness as the local backend (brokers registered, a controller, SmartCar-Topic with leaders
and full ISR) through the published ports. It needs a Docker engine: when none answers, the
user is told so, with the local backend as the way on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from labctl.cluster import Cluster, ClusterSpec, Progress
from labctl.errors import LabError, PrerequisiteError
from labctl.paths import LabPaths

COMPOSE_FILE = Path(__file__).resolve().parents[1] / "docker-compose.yml"
# Confluent Platform line carrying each Apache Kafka line (the images docker-compose.yml uses).
CONFLUENT_FOR_KAFKA = {"3.9": "7.9"}
SERVICES = ["zookeeper", "broker-0", "broker-1", "broker-2"]


def docker_spec() -> ClusterSpec:
    """The compose file's fixed shape, as the local backend describes a lab."""
    return ClusterSpec(brokers=3, zookeeper_port=2181, base_port=9092, backend="docker")


def require_engine() -> None:
    """PrerequisiteError unless a Docker engine answers."""
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:
        raise PrerequisiteError(
            f"no Docker engine answers ({type(exc).__name__}); start Docker, or use the "
            "local backend (the default: `labctl up`)."
        ) from None
    if shutil.which("docker") is None:
        raise PrerequisiteError("the docker command is not on PATH; install Docker Compose.")
    if not COMPOSE_FILE.exists():
        raise PrerequisiteError(f"{COMPOSE_FILE} is missing; run labctl from a project checkout.")


def compose_argv(*args: str) -> list[str]:
    return ["docker", "compose", "-f", str(COMPOSE_FILE), "-p", "smartcar-lab", *args]


def compose(paths: LabPaths, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        compose_argv(*args),
        capture_output=True, text=True,
        env={**os.environ, "LABCTL_WORKING": str(paths.working_dir)},
    )  # fmt: skip
    if result.returncode != 0:
        raise LabError(f"docker compose {' '.join(args)} failed: {result.stderr.strip()[-300:]}")
    return result


def up(paths: LabPaths, progress: Progress = lambda _: None, timeout: float = 180.0) -> float:
    began = time.monotonic()
    require_engine()
    spec = docker_spec()
    for d in paths.working_dirs():
        d.mkdir(parents=True, exist_ok=True)
    paths.state_file.parent.mkdir(parents=True, exist_ok=True)
    paths.state_file.write_text(json.dumps(spec.to_json(), indent=2) + "\n")
    progress("docker compose up -d (pulling images the first time)")
    compose(paths, "up", "-d", *SERVICES)
    progress("waiting for brokers and a controller")
    Cluster(paths, spec).wait_ready(began + timeout, progress, check_processes=False)
    return time.monotonic() - began


def down(paths: LabPaths, purge: bool = False) -> None:
    require_engine()
    compose(paths, "down", *(["--volumes"] if purge else []))


def components(paths: LabPaths) -> list[dict[str, object]]:
    """The compose services as `labctl status` rows (container state instead of a pid)."""
    require_engine()
    out = compose(paths, "ps", "--all", "--format", "json").stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    by_service = {r.get("Service"): r for r in rows}
    spec = docker_spec()
    ports = dict(zip(SERVICES, [spec.zookeeper_port, *spec.broker_ports], strict=True))
    return [{"component": name, "port": ports[name], "pid": None,
             "state": "running" if by_service.get(name, {}).get("State") == "running"
             else "stopped", "uptime_s": None} for name in SERVICES]  # fmt: skip
