"""`docker compose up -d` (v2) and `docker-compose up -d` (v1) on the project image: each CLI
present here brings the whole lab up, the agent container collects files handed over on the
host, and `down -v` leaves nothing behind. Uses the book's ports (2181, 9092-9094, 41414)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from labctl.cluster import Cluster, ClusterSpec
from labctl.paths import LabPaths
from tests.labctl.test_cluster import read_all
from tests.labctl.test_compose_file import compose_cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["v2", "v1"])
def compose(request: pytest.FixtureRequest, lab_image: str, tmp_path: Path) -> Iterator[
        tuple[list[str], Path]]:  # fmt: skip
    cli = compose_cli(request.param)
    if cli is None:
        pytest.skip(f"Compose {request.param} is not installed")
    working = tmp_path / "working"
    for folder in ("car-batch-log", "driver-realtime-log", "SmartCar"):
        (working / folder).mkdir(parents=True)
    env = {**os.environ, "SMARTCAR_UID": str(os.getuid()), "SMARTCAR_GID": str(os.getgid()),
           "SMARTCAR_WORKING_DIR": str(working)}  # fmt: skip
    argv = [*cli, "-f", str(ROOT / "docker-compose.yml"),
            "-p", f"smartcar-test-{uuid.uuid4().hex[:6]}"]  # fmt: skip
    try:
        yield argv, working
    finally:
        subprocess.run([*argv, "down", "-v"], env=env, capture_output=True, timeout=120)
    assert subprocess.run([*argv, "ps", "-q"], env=env, capture_output=True,
                          text=True).stdout.strip() == ""  # fmt: skip


def test_compose_brings_the_lab_up_and_the_agent_collects(
    compose: tuple[list[str], Path], engine: docker.DockerClient
) -> None:
    argv, working = compose
    env = {**os.environ, "SMARTCAR_UID": str(os.getuid()), "SMARTCAR_GID": str(os.getgid()),
           "SMARTCAR_WORKING_DIR": str(working)}  # fmt: skip
    up = subprocess.run([*argv, "up", "-d"], env=env, capture_output=True, text=True,
                        timeout=300)  # fmt: skip
    assert up.returncode == 0, up.stderr[-2000:]
    project = argv[argv.index("-p") + 1]
    label = {"label": f"com.docker.compose.project={project}"}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        states = {c.labels["com.docker.compose.service"]: c.attrs["State"]
                  for c in engine.containers.list(all=True, filters=label)}  # fmt: skip
        if states.get("agent", {}).get("Health", {}).get("Status") == "healthy":
            break
        time.sleep(1)
    assert states["topic"]["ExitCode"] == 0 and states["topic"]["Status"] == "exited"
    assert {s: states[s]["Health"]["Status"] for s in states if s != "topic"} == {
        s: "healthy" for s in ("zookeeper", "broker-0", "broker-1", "broker-2", "agent")
    }
    cluster = Cluster(LabPaths(working), ClusterSpec())  # the book's ports, as compose has them
    assert cluster.topic_configs("SmartCar-Topic")["min.insync.replicas"] == "2"
    # the host hands the agent a status file and appends driving records
    staged = working / "SmartCar" / "SmartCarStatusInfo_20160101.txt"
    staged.write_text("SmartCar Status Info\n20160101000000,A0001,90\n")
    staged.rename(working / "car-batch-log" / staged.name)
    records = [f"20160101000000,A{i:04d},compose".encode() for i in range(20)]
    with open(working / "driver-realtime-log" / "SmartCarDriverInfo.log", "ab") as log:
        log.write(b"garbage line\n" + b"\n".join(records) + b"\n")
    assert read_all(cluster, "SmartCar-Topic", 20) == records
    deadline = time.monotonic() + 30
    while (working / "car-batch-log" / staged.name).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (working / "car-batch-log" / staged.name).exists()  # consumed and deleted
    logs = subprocess.run([*argv, "logs", "agent"], env=env, capture_output=True, text=True)
    events = [line for line in logs.stdout.splitlines() if "LoggerSink] Event:" in line]
    assert len(events) == 1 and "20160101000000,A" in events[0]  # the header was filtered
