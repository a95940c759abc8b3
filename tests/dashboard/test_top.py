"""`labctl top` as a user runs it, in a real terminal (tmux) against a real lab and agent; and
the dashboard command's one-sentence errors."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from labctl.cluster import Cluster
from labctl.pilot import agent as lab_agent
from tests.conftest import free_port_block, start_cluster
from tests.dashboard.conftest import labctl
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("top") / "lab", brokers=1)
    try:
        lab_agent.start(cluster)
        yield cluster
    finally:
        lab_agent.stop(cluster)
        cluster.down(timeout=10)


class Tmux:
    """A tmux server of this test's own (its own socket), one session running ``command``."""

    def __init__(self, command: str, name: str) -> None:
        self.socket = f"labctl-test-{name}-{free_port_block(1)}"
        self.run("new-session", "-d", "-s", "t", "-x", "150", "-y", "70", command)

    def run(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10)  # fmt: skip
        return done.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    def close(self) -> None:
        self.run("kill-server")


def end_offset(screen: str) -> int:
    """The topic's end offset as the agent tree shows it."""
    found = re.search(r"end offset ([\d,]+)", screen)
    assert found, screen
    return int(found.group(1).replace(",", ""))


@pytest.mark.kafka
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (`make browser`)")
def test_top_in_a_terminal_shows_the_lab_live_and_q_quits(lab: Cluster) -> None:
    home = lab.paths.home
    # the terminal's own size, not a COLUMNS/LINES inherited from the test run
    command = f"env -u COLUMNS -u LINES {sys.executable} -m labctl top --home {home}"
    tmux = Tmux(f"{command}; echo top exited $?; sleep 60", "top")
    try:
        shown = (
            "q quits",
            "agent SmartCar_Agent pid",
            "DriverCarInfo_KafkaSink",
            "end offset",
            "zookeeper",
            "broker-0",
            "SmartCar-Topic[0]",
            "Collection test",
        )

        def drawn() -> str | None:
            screen = tmux.screen()
            return screen if all(s in screen for s in shown) else None

        screen = wait_for(drawn, 30, "top to draw the whole lab", lambda: tmux.screen())
        # live: records produced now move the topic's end offset on the screen
        before = end_offset(screen)
        produced = subprocess.run([sys.executable, "-m", "labctl", "produce", "SmartCar-Topic",
                                   "--home", str(home)], input="a\nb\nc\n", text=True,
                                  capture_output=True, timeout=60)  # fmt: skip
        assert produced.returncode == 0, produced.stderr
        wait_for(lambda: end_offset(tmux.screen()) == before + 3, 10, "the end offset to move")
        tmux.run("send-keys", "-t", "t", "q")
        after = wait_for(lambda: "top exited" in tmux.screen() and tmux.screen(), 5,
                         "top to quit on q")  # fmt: skip
        assert "top exited 0" in after
    finally:
        tmux.close()


@pytest.mark.kafka
def test_top_once_prints_one_picture_and_shows_a_dead_agent(lab: Cluster) -> None:
    picture = labctl("top", "--once", "--home", lab.paths.home)
    assert picture.returncode == 0, picture.stderr
    text = picture.stdout
    assert "broker-0" in text and "up" in text
    assert "channel DriverCarInfo_Channel (memory) running  fill 0 / 100,000" in text
    assert "SmartCar-Topic[0]" in text
    lab.backend.kill_agent()
    dead = labctl("top", "--once", "--home", lab.paths.home)
    assert dead.returncode == 0
    assert "agent SmartCar_Agent not running" in dead.stdout
    assert "source DriverCarInfo_TailSource (exec) agent not running" in dead.stdout


def test_dashboard_on_a_taken_port_is_exit_4(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = labctl("dashboard", "--port", port, "--home", tmp_path / "lab", timeout=30)
    assert result.returncode == 4
    assert result.stderr.startswith("error: ") and f"port {port} is taken" in result.stderr
    assert "Traceback" not in result.stderr


def test_dashboard_and_top_refuse_a_home_that_is_not_a_lab(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    for command in (["dashboard"], ["top", "--once"]):
        result = labctl(*command, "--home", tmp_path, timeout=30)
        assert result.returncode == 5, result.stderr
        assert "not a lab home" in " ".join(result.stderr.split())
