"""The project image: every shipped agent config passes `--check` inside it, so a renamed or
broken config can never again break the image unnoticed; the roles it serves by command. Each
container is started by testcontainers and waited on to its end or its healthcheck."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from testcontainers.core.container import DockerContainer

from labctl.backends.compose import LAB_HOME
from labctl.backends.container import AGENT_CONF
from labctl.kafka.dist import KAFKA_VERSION
from labctl.pilot.agent import AGENT_NAME, EXAMPLES, pilot_conf
from labctl.spec import ClusterSpec
from tests.docker.conftest import node


def output(container: DockerContainer, says: str) -> str:
    """Run *container*'s command to its end (60 s at most) and return its whole output, which
    must say *says*. (Waiting for a log line races a command that ends at once: the container
    can exit between two reads of its log, and testcontainers then reports an early exit.)"""
    with container:
        container.get_wrapped_container().wait(timeout=60)
        out, err = container.get_logs()
    text = (out + err).decode()
    assert re.search(says, text, re.M), text
    return text


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_shipped_config_checks_clean_in_the_image(
    lab_image: str, example: str, tmp_path: Path
) -> None:
    for folder in ("car-batch-log", "driver-realtime-log", "SmartCar"):
        (tmp_path / "working" / folder).mkdir(parents=True)
    check = (
        DockerContainer(lab_image)
        .with_command(["agent", "--", "--conf-file", AGENT_CONF, "--name", AGENT_NAME, "--check"])
        .with_kwargs(user=f"{os.getuid()}:{os.getgid()}")
        .with_env("SMARTCAR_WORKING", f"{LAB_HOME}/working")
        .with_env("SMARTCAR_BROKERS", "broker-0:19092")
        .with_volume_mapping(str(pilot_conf(example)), AGENT_CONF, "ro")
        .with_volume_mapping(str(tmp_path), LAB_HOME, "rw")
    )
    assert "0 error(s)" in output(check, r"\d+ error\(s\)")


def test_the_image_carries_the_pinned_kafka_and_a_plain_debian(lab_image: str) -> None:
    def run(*command: str) -> str:
        probe = DockerContainer(lab_image).with_kwargs(entrypoint=["sh", "-c"])
        return output(probe.with_command([f"{' '.join(command)}; echo END"]), "^END$")

    assert f"kafka_2.13-{KAFKA_VERSION}.jar" in run("ls", "/opt/kafka/libs").split()
    assert "VERSION_CODENAME=bookworm" in run("cat", "/etc/os-release")
    assert 'version "17' in run("java", "-version", "2>&1")
    assert run("id", "-u").split()[0] != "0"  # servers do not run as root


def test_a_server_answers_its_healthcheck_and_a_stranger_name_is_refused(lab_image: str) -> None:
    spec = ClusterSpec(brokers=1)
    with node(lab_image, ["server", "zookeeper", "--brokers", "1"], "zookeeper") as zookeeper:
        state = zookeeper.get_wrapped_container().attrs["State"]
        assert state["Health"]["Status"] == "healthy"
    refused = DockerContainer(lab_image).with_command(["server", "broker-7", "--brokers", "1"])
    with refused:
        assert refused.get_wrapped_container().wait(timeout=30)["StatusCode"] == 2
        out, err = refused.get_logs()
    said = (out + err).decode()
    assert "is not a server of this lab" in said, said
    assert f"({', '.join(spec.ports())})" in said
