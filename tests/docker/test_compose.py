"""Compose and labctl on one lab: the README's Compose walkthrough run as written (parsed from
README.md); every shape `labctl compose` renders brought up with Compose v2 (testcontainers'
compose module) and driven by labctl; the shipped file with v1; hand-edited files labctl must
refuse in one sentence without touching them; two candidate labs -> `--project`.

Each project has a private name, lab home and ports (``SMARTCAR_PORT_<SERVICE>``), never the
book's, and is taken down with its volumes at the end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
import yaml
from testcontainers.compose import DockerCompose

from labctl.backends.compose import PROJECT_LABEL, port_variable
from labctl.backends.container import read_server_command
from labctl.kafka.reader import read_records
from labctl.spec import ClusterSpec
from simulator.handoff import hand_off
from simulator.status import write_status_file
from tests.conftest import free_port_block
from tests.labctl.test_compose_file import SHAPES, compose_cli, labctl_compose, with_defaults
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
CHECKOUT = ("docker-compose.yml", "Dockerfile", "pyproject.toml", "README.md", "agents",
            "labctl", "simulator", ".venv")  # fmt: skip


def labctl(*args: object, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labctl", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def private_env(project: str, home: Path | None, spec: ClusterSpec) -> dict[str, str]:
    """The environment that gives a Compose project its own name, home and free ports."""
    base = free_port_block(len(spec.ports()) + 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABCTL_", "SMARTCAR_"))}
    env.update(COMPOSE_PROJECT_NAME=project, SMARTCAR_UID=str(os.getuid()),
               SMARTCAR_GID=str(os.getgid()), COLUMNS="200")  # fmt: skip
    if home is not None:
        env["LABCTL_HOME"] = str(home)
    names = [*spec.broker_names, *spec.quorum_names]  # brokers first: base_port, base_port + 1..
    for i, name in enumerate(names):
        env[port_variable(name)] = str(base + i)
    env[port_variable("agent")] = str(base + len(names))
    return env


def containers(engine: docker.DockerClient, project: str) -> list[str]:
    found = engine.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    return [c.name for c in found]


def down(project: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(["docker", "compose", "-p", project, "down", "-v", "--remove-orphans"],
                   cwd=cwd, env=env, capture_output=True, timeout=300)  # fmt: skip


def walkthrough() -> str:
    """The README's Compose block, as written."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Docker Compose") :]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_compose_walkthrough_runs_as_written(
    engine: docker.DockerClient, lab_image: str, tmp_path: Path
) -> None:
    if compose_cli("v2") is None:
        pytest.skip("Compose v2 is not installed (.ci/compose-v2 builds it)")
    clone = tmp_path / "clone"  # a checkout of its own: the block's .lab is its
    clone.mkdir()
    for name in CHECKOUT:
        (clone / name).symlink_to(ROOT / name)
    project = f"smartcar-readme-{uuid.uuid4().hex[:6]}"
    env = private_env(project, None, ClusterSpec())
    script = walkthrough()
    assert "docker compose up -d --wait" in script and "labctl pilot" in script
    try:
        done = subprocess.run(["bash", "-euxo", "pipefail", "-c", script], cwd=clone, env=env,
                              capture_output=True, text=True, timeout=1200)  # fmt: skip
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        out = " ".join(done.stdout.split())
        assert f"started by docker compose (project {project}" in out
        assert "pilot PASSED" in out and "FAIL" not in out
        assert containers(engine, project) == []  # `labctl down`: no container left
    finally:
        down(project, clone, env)


@pytest.fixture
def compose_lab(lab_image: str, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:  # fmt: skip
    """``up(*labctl compose flags) -> lab home``: a rendered project brought up with Compose v2
    by testcontainers (`up --wait`: every service healthy, `topic` done), down at the end."""
    if compose_cli("v2") is None:
        pytest.skip("Compose v2 is not installed (.ci/compose-v2 builds it)")
    started: list[DockerCompose] = []

    def up(*flags: str) -> Path:
        rendered = tmp_path / "project" / "docker-compose.yml"
        rendered.parent.mkdir()
        labctl_compose(*flags, "-o", str(rendered))
        project = yaml.safe_load(rendered.read_text())
        server = next(s for s in project["services"].values() if s["command"][0] == "server")
        read = read_server_command(with_defaults(server["command"]))
        assert read is not None
        spec = read[1]
        home = tmp_path / "home"
        (home / "working").mkdir(parents=True)
        name = f"smartcar-tc-{uuid.uuid4().hex[:6]}"
        for key, value in private_env(name, home, spec).items():
            monkeypatch.setenv(key, value)
        compose = DockerCompose(rendered.parent, compose_file_name="docker-compose.yml")
        started.append(compose)
        compose.start()
        return home

    yield up
    for compose in started:
        compose.stop()


def status(home: Path) -> dict:
    result = labctl("status", "--json", env=dict(os.environ), cwd=home.parent)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("shape", ["1 broker", "3 ZooKeepers", "KRaft, 3 controllers"])
def test_each_shape_comes_up_with_compose_and_labctl_drives_it(
    compose_lab: Callable[..., Path], shape: str
) -> None:
    home = compose_lab(*SHAPES[shape])
    seen = status(home)
    assert seen["started_by"].startswith("docker compose (project smartcar-tc-")
    assert all(c["state"] == "running" for c in seen["components"]), seen["components"]
    brokers = json.loads((home / "lab.json").read_text())["brokers"]
    assert seen["brokers"] == list(range(brokers)) and seen["agent"]
    (partition,) = seen["partitions"]
    assert partition["leader"] == partition["replicas"][0]  # `topic` settled the leaders
    assert sorted(partition["isr"]) == sorted(partition["replicas"])
    topics = labctl("topics", "--create", "tour", env=dict(os.environ), cwd=home.parent)
    assert topics.returncode == 0, topics.stderr


def test_flume_4_s_agents_come_up_with_compose_and_every_record_arrives(
    compose_lab: Callable[..., Path], tmp_path: Path
) -> None:
    home = compose_lab(*SHAPES["flume-4's agents"])
    seen = status(home)
    records: list[bytes] = []
    staging = tmp_path / "staging"
    for n, collector in enumerate(("c1", "c2", "c3", "c4")):
        spool = home / "working" / "examples" / "flume-4" / f"spool-{collector}"
        spool.mkdir(parents=True, exist_ok=True)
        made = Path(write_status_file(f"2016010{n + 1}", 1, staging, seed=n).output)
        records += [line for line in made.read_bytes().splitlines() if line[:14].isdigit()]
        hand_off(made, spool)
    config = {"bootstrap.servers": seen["bootstrap"], "log_level": 0}
    got = read_records(config, "flume-4-aggregated", {0: 0}, len(records), idle=60)
    assert sorted(r.value for r in got) == sorted(records)  # each once: nothing was killed
    assert {r.headers["collector"] for r in got} == {"c1", "c2", "c3", "c4"}


def test_labctl_up_makes_a_lab_compose_lists(engine: docker.DockerClient, lab_image: str,
                                             tmp_path: Path) -> None:  # fmt: skip
    home = tmp_path / "lab"
    base = free_port_block(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABCTL_")}
    up = labctl("up", "--backend", "docker", "--brokers", "1", "--home", home,
                "--zookeeper-port", base, "--base-port", base + 1,
                env=env, cwd=tmp_path)  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        seen = json.loads(labctl("status", "--json", "--home", home, env=env, cwd=tmp_path).stdout)
        project = seen["project"]
        assert seen["started_by"] == f"labctl up --backend docker (Compose project {project})"
        v1 = ["-f", str(home / "docker-compose.yml")]  # v1 needs a file: the one labctl applied
        for cli, options in ((compose_cli("v2"), []), (compose_cli("v1"), v1)):
            if cli is None:
                continue
            listed = subprocess.run([*cli, "-p", project, *options, "ps"], capture_output=True,
                                    text=True, timeout=60, cwd=tmp_path)  # fmt: skip
            assert listed.returncode == 0, listed.stderr
            assert "zookeeper" in listed.stdout and "broker-0" in listed.stdout, listed.stdout
        if compose_cli("v2") is not None:
            logs = subprocess.run(["docker", "compose", "-p", project, "logs", "broker-0"],
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
            assert "KafkaServer id=0] started" in logs.stdout
    finally:
        assert labctl("down", "--purge", "--home", home, env=env, cwd=tmp_path).returncode == 0
    assert containers(engine, project) == []


def test_the_shipped_file_with_compose_v1(engine: docker.DockerClient, lab_image: str,
                                          tmp_path: Path) -> None:  # fmt: skip
    cli = compose_cli("v1")
    if cli is None:
        pytest.skip("Compose v1 (Debian's docker-compose) is not installed")
    project = f"smartcar-v1-{uuid.uuid4().hex[:6]}"
    home = tmp_path / "home"
    (home / "working").mkdir(parents=True)
    env = private_env(project, home, ClusterSpec())
    argv = [*cli, "-f", str(ROOT / "docker-compose.yml"), "-p", project]
    try:
        up = subprocess.run([*argv, "up", "-d"], env=env, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
        assert up.returncode == 0, up.stderr[-2000:]

        def agent_healthy() -> bool:
            found = engine.containers.list(filters={"label": f"{PROJECT_LABEL}={project}"})
            return any(c.labels.get("com.docker.compose.service") == "agent"
                       and c.attrs["State"].get("Health", {}).get("Status") == "healthy"
                       for c in found)  # fmt: skip

        wait_for(agent_healthy, 240, "v1's agent to be healthy")
        seen = json.loads(labctl("status", "--json", env=env, cwd=tmp_path).stdout)
        assert seen["started_by"].startswith(f"docker compose (project {project}")
        assert seen["brokers"] == [0, 1, 2] and seen["agent"]
        stopped = labctl("down", env=env, cwd=tmp_path)
        assert stopped.returncode == 0, stopped.stderr
        assert containers(engine, project) == []
    finally:
        subprocess.run([*argv, "down", "-v"], env=env, capture_output=True, timeout=300)


def without_broker_2(project: dict) -> None:
    del project["services"]["broker-2"]
    del project["services"]["topic"]["depends_on"]["broker-2"]


HAND_EDITS = {
    "a service missing": (without_broker_2, "has no service broker-2"),
    "another image": (lambda p: p["services"]["broker-1"].update(image="debian:bookworm-slim"),
                      "from the image debian:bookworm-slim, not the project image"),
    "ports changed": (lambda p: p["services"]["broker-1"].update(ports=["127.0.0.1::9092"]),
                      "for broker-1, where the lab expects"),
}  # fmt: skip


@pytest.mark.parametrize("edit", HAND_EDITS)
def test_a_hand_edited_file_labctl_cannot_read_is_one_sentence_and_left_alone(
    engine: docker.DockerClient, lab_image: str, tmp_path: Path, edit: str
) -> None:
    if compose_cli("v2") is None:
        pytest.skip("Compose v2 is not installed (.ci/compose-v2 builds it)")
    change, sentence = HAND_EDITS[edit]
    project = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    change(project)
    edited = tmp_path / "docker-compose.yml"
    edited.write_text(yaml.safe_dump(project))
    (tmp_path / "labctl").symlink_to(ROOT / "labctl")  # the agent's config mount
    name = f"smartcar-edit-{uuid.uuid4().hex[:6]}"
    home = tmp_path / "home"
    env = private_env(name, home, ClusterSpec())
    try:  # created, not started: what labctl reads is there, no JVM needed
        made = subprocess.run(["docker", "compose", "create"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert made.returncode == 0, made.stderr
        before = sorted(containers(engine, name))
        for command in (["status"], ["down"], ["down", "--purge"]):
            refused = labctl(*command, env=env, cwd=tmp_path)
            message = " ".join(refused.stderr.split())
            assert refused.returncode == 1 and message.startswith("error: Compose project "), (
                message
            )
            assert sentence in message and message.endswith("labctl leaves it alone.")
            assert "Traceback" not in refused.stderr
        assert sorted(containers(engine, name)) == before  # nothing touched
        assert not (home / "lab.json").exists()
    finally:
        down(name, tmp_path, env)


def test_two_labs_for_one_home_ask_for_project(engine: docker.DockerClient, lab_image: str,
                                               tmp_path: Path) -> None:  # fmt: skip
    if compose_cli("v2") is None:
        pytest.skip("Compose v2 is not installed (.ci/compose-v2 builds it)")
    (tmp_path / "labctl").symlink_to(ROOT / "labctl")
    (tmp_path / "docker-compose.yml").symlink_to(ROOT / "docker-compose.yml")
    home = tmp_path / "home"
    names = [f"smartcar-two-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    envs = [private_env(name, home, ClusterSpec()) for name in names]
    try:
        for env in envs:
            made = subprocess.run(["docker", "compose", "create"], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
            assert made.returncode == 0, made.stderr
        asked = labctl("status", env=envs[0], cwd=tmp_path)
        message = " ".join(asked.stderr.split())
        assert asked.returncode == 2 and "2 Compose labs could be the lab of" in message, message
        assert all(name in message for name in names) and "--project NAME" in message
        chosen = labctl("--project", names[1], "status", "--json", env=envs[0], cwd=tmp_path)
        assert chosen.returncode == 0, chosen.stderr
        assert json.loads(chosen.stdout)["started_by"].startswith(
            f"docker compose (project {names[1]}"
        )
    finally:
        for name, env in zip(names, envs, strict=True):
            down(name, tmp_path, env)
