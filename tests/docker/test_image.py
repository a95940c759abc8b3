"""The project image: every shipped agent config passes `--check` inside it, so a renamed or
broken config can never again break the image unnoticed; the roles it serves by command."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import pytest

from labctl.kafka.dist import KAFKA_VERSION
from labctl.pilot.agent import AGENT_NAME, EXAMPLES, pilot_conf


def run(engine: docker.DockerClient, image: str, command: list[str], **options: object) -> str:
    output = engine.containers.run(image, command, remove=True, stdout=True, stderr=True,
                                   **options)  # fmt: skip
    return output.decode()


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_shipped_config_checks_clean_in_the_image(
    engine: docker.DockerClient, lab_image: str, example: str, tmp_path: Path
) -> None:
    for folder in ("car-batch-log", "driver-realtime-log", "SmartCar"):
        (tmp_path / folder).mkdir()
    out = run(engine, lab_image,
              ["agent", "--", "--conf-file", "/lab/agent.conf", "--name", AGENT_NAME, "--check"],
              user=f"{os.getuid()}:{os.getgid()}",
              environment={"SMARTCAR_WORKING": "/working", "SMARTCAR_BROKERS": "broker-0:19092"},
              volumes={str(pilot_conf(example)): {"bind": "/lab/agent.conf", "mode": "ro"},
                       str(tmp_path): {"bind": "/working", "mode": "rw"}})  # fmt: skip
    assert "0 error(s)" in out, out


def test_the_image_carries_the_pinned_kafka_and_a_plain_debian(
    engine: docker.DockerClient, lab_image: str
) -> None:
    jars = run(engine, lab_image, ["-c", "import os; print(*os.listdir('/opt/kafka/libs'))"],
               entrypoint=["python"]).split()  # fmt: skip
    assert f"kafka_2.13-{KAFKA_VERSION}.jar" in jars
    release = run(engine, lab_image, ["/etc/os-release"], entrypoint=["cat"])
    assert "VERSION_CODENAME=bookworm" in release
    java = run(engine, lab_image, ["-version"], entrypoint=["java"])
    assert 'version "17' in java
    user = run(engine, lab_image, ["-u"], entrypoint=["id"]).strip()
    assert user != "0"  # servers do not run as root


def test_a_server_name_that_is_not_in_the_lab_is_refused(
    engine: docker.DockerClient, lab_image: str
) -> None:
    with pytest.raises(docker.errors.ContainerError) as failed:
        run(engine, lab_image, ["server", "broker-7", "--brokers", "3"])
    assert failed.value.exit_status == 2
