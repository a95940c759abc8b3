"""`labctl dashboard` in a real browser (Debian's headless Chromium) against a real lab:
3 brokers, the agent's topology, numbers that move during a real pilot run, a broker killed
with SIGKILL shown red within 5 s and green again after `labctl up`, a killed agent's
topology red. Screenshots go to build/screenshots (DASHBOARD_SCREENSHOTS moves them);
``DASHBOARD_README_SHOT=docs/dashboard.png`` (``make screenshot``) also writes the README's."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from tests.conftest import free_port_block
from tests.dashboard.conftest import (
    SCREENSHOTS,
    DashboardServer,
    chromium_missing,
    labctl,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.browser,
              pytest.mark.skipif(chromium_missing() is not None,
                                 reason=chromium_missing() or "")]  # fmt: skip

RED = "rgb(208, 49, 45)"  # --bad in dashboard.css
PILOT_NODES = {
    "source:SmartCarInfo_SpoolSource", "interceptor:SmartCarInfo_SpoolSource/filterInterceptor",
    "channel:SmartCarInfo_Channel", "sink:SmartCarInfo_LoggerSink",
    "source:DriverCarInfo_TailSource", "interceptor:DriverCarInfo_TailSource/filterInterceptor2",
    "channel:DriverCarInfo_Channel", "sink:DriverCarInfo_KafkaSink", "topic:SmartCar-Topic",
}  # fmt: skip
TO_TOPIC = "sink:DriverCarInfo_KafkaSink->topic:SmartCar-Topic"
SPOOL = "source:SmartCarInfo_SpoolSource"


class Page:
    """What the page shows, read from its DOM as a user sees it (computed styles included)."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def js(self, script: str) -> Any:
        return self.driver.execute_script(script)

    def members(self) -> dict[str, tuple[bool, str, str]]:
        """name -> (ok, background colour, text)."""
        rows = self.js("return [...document.querySelectorAll('[data-member]')].map(e => "
                       "[e.dataset.member, e.dataset.ok, getComputedStyle(e).backgroundColor, "
                       "e.innerText])")  # fmt: skip
        return {name: (ok == "true", colour, text) for name, ok, colour, text in rows}

    def nodes(self) -> dict[str, tuple[bool, str]]:
        """graph node id -> (ok, its box's computed fill)."""
        rows = self.js("return [...document.querySelectorAll('[data-node]')].map(e => "
                       "[e.dataset.node, e.dataset.ok, "
                       "getComputedStyle(e.querySelector('rect.box')).stroke])")  # fmt: skip
        return {node: (ok == "true", stroke) for node, ok, stroke in rows}

    def edge_rate(self, edge: str) -> float:
        value = self.js(f"const e = document.querySelector('[data-edge=\"{edge}\"]'); "
                        "return e ? e.dataset.rate : ''")  # fmt: skip
        return float(value) if value else 0.0

    def received(self, node: str) -> int:
        """The events a source received, from the count its box shows."""
        text = self.js(f"const e = document.querySelector('[data-node=\"{node}\"] text.detail'); "
                       "return e ? e.textContent : ''")  # fmt: skip
        digits = str(text).split(" ")[0].replace(",", "")
        return int(digits) if digits.isdigit() else 0

    def group_lag(self, group: str) -> str:
        return str(self.js(f"const r = document.querySelector('[data-group=\"{group}\"]'); "
                           "return r ? r.cells[3].innerText : ''"))  # fmt: skip

    def end_offset(self, partition: str = "SmartCar-Topic/0") -> int:
        value = self.js(f"const e = document.querySelector('[data-partition=\"{partition}\"]'); "
                        "return e ? e.dataset.endOffset : ''")  # fmt: skip
        return int(value) if value else -1

    def text(self, element_id: str) -> str:
        return str(self.js(f"return document.getElementById('{element_id}').innerText"))

    def progress(self) -> str:
        return str(self.js("const p = document.getElementById('progress'); "
                           "return p.hidden ? '' : p.innerText"))  # fmt: skip

    def stages(self) -> dict[int, str]:
        rows = self.js("return [...document.querySelectorAll('[data-stage]')].map(e => "
                       "[e.dataset.stage, e.dataset.ok])")  # fmt: skip
        return {int(stage): ok for stage, ok in rows}

    def shot(self, name: str, full_page: bool = False) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        if full_page:
            height = self.js("return document.body.scrollHeight")
            self.driver.set_window_size(1280, height + 100)
        self.driver.save_screenshot(str(path))
        if full_page:
            self.driver.set_window_size(1280, 860)
        assert path.stat().st_size > 10_000
        return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("dashboard") / "lab"
    base = free_port_block(4)
    up = labctl("up", "--home", home, "--zookeeper-port", base, "--base-port", base + 1)
    assert up.returncode == 0, up.stderr
    try:
        yield home
    finally:
        labctl("agent", "stop", "--home", home)
        labctl("down", "--home", home)


@pytest.fixture(scope="module")
def page(lab: Path, browser: Any) -> Iterator[Page]:
    server = DashboardServer(lab, lab.parent / "dashboard.log")
    browser.get(server.url)
    try:
        yield Page(browser)
    finally:
        assert server.stop() == 0, "labctl dashboard did not stop cleanly on Ctrl-C"


def test_page_shows_three_brokers_and_the_agents_topology(lab: Path, page: Page) -> None:
    started = labctl("agent", "start", "--home", lab)
    assert started.returncode == 0, started.stderr
    assert page.driver.title == "SmartCar Lab — live"

    def all_up() -> dict[str, tuple[bool, str, str]] | None:
        members = page.members()
        return members if members and all(ok for ok, _, _ in members.values()) else None

    members = wait_for(all_up, 15, "every member up")
    assert sorted(members) == ["broker-0", "broker-1", "broker-2", "zookeeper"]
    assert sum("★" in text for _, _, text in members.values()) == 1  # one controller
    assert all(colour != RED for _, colour, _ in members.values())

    def topology_up() -> dict[str, tuple[bool, str]] | None:
        nodes = page.nodes()
        return nodes if set(nodes) == PILOT_NODES and all(ok for ok, _ in nodes.values()) else None

    nodes = wait_for(topology_up, 15, "the agent's nine components up")
    assert all(stroke != RED for _, stroke in nodes.values())
    assert "running, pid" in page.text("agent-state")
    assert "SmartCar-Topic[0]" in page.text("partitions")
    errors = [e for e in page.driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_a_consumer_groups_lag_is_shown(lab: Path, page: Page) -> None:
    bootstrap = json.loads(labctl("status", "--json", "--home", lab).stdout)["bootstrap"]
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(5):
        producer.produce("SmartCar-Topic", f"lag-{i}".encode())
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dashboard-test",
                         "enable.auto.commit": False})  # fmt: skip
    try:
        consumer.assign([TopicPartition("SmartCar-Topic", 0, OFFSET_BEGINNING)])
        read = wait_for(lambda: consumer.consume(2, 1.0), 20, "two records")
        consumer.commit(message=read[-1], asynchronous=False)
        committed = read[-1].offset() + 1
    finally:
        consumer.close()
    end = wait_for(lambda: page.end_offset() >= 5 and page.end_offset(), 10, "the 5 records")
    expected = f"{end - committed:,}"
    wait_for(lambda: page.group_lag("dashboard-test") == expected, 10, "the group's lag",
             lambda: page.group_lag("dashboard-test"))  # fmt: skip


@pytest.mark.slow
def test_numbers_move_while_a_pilot_runs(lab: Path, page: Page) -> None:
    before = wait_for(lambda: page.end_offset() + 1, 10, "the topic's end offset") - 1
    log = (lab.parent / "pilot.log").open("w")
    pilot = subprocess.Popen([sys.executable, "-m", "labctl", "pilot", "--cars", "30",
                              "--duration", "20", "--seed", "11", "--home", str(lab)],
                             stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for(lambda: "simulating" in page.progress(), 60, "the pilot's progress on the page")
        wait_for(lambda: page.edge_rate(TO_TOPIC) > 0, 20, "events/s into SmartCar-Topic")
        first = wait_for(lambda: page.end_offset() > before and page.end_offset(), 10,
                         "the end offset to grow")  # fmt: skip
        wait_for(lambda: page.end_offset() > first, 10, "the end offset to grow again")
        # the pilot writes its progress once a second: records may flow before it says so
        wait_for(lambda: "records so far" in page.progress(), 10, "records so far in progress")
        assert "in 0/s" not in page.text("legend")
        wait_for(lambda: "simulating" in page.progress() and page.received(SPOOL) > 0, 60,
                 "the day's status file to reach the agent during the simulation")  # fmt: skip
        shot = page.shot("dashboard-pilot-running.png")
        readme = os.environ.get("DASHBOARD_README_SHOT")
        if readme:
            shutil.copyfile(shot, readme)
        assert pilot.wait(300) == 0, (lab.parent / "pilot.log").read_text()[-3000:]
    finally:
        if pilot.poll() is None:
            pilot.kill()
        log.close()
    wait_for(lambda: page.stages() == dict.fromkeys(range(1, 6), "true"), 10,
             "every stage PASS on the page")  # fmt: skip
    assert "PASSED" in page.text("pilot-title")
    assert "driving log" in page.text("summary")
    wait_for(lambda: page.progress() == "", 10, "the progress banner to go")
    page.shot("dashboard-pilot-done.png", full_page=True)


def test_a_killed_broker_turns_red_within_5_s_and_back_after_up(lab: Path, page: Page) -> None:
    status = json.loads(labctl("status", "--json", "--home", lab).stdout)
    (broker,) = [c for c in status["components"] if c["component"] == "broker-1"]
    os.kill(broker["pid"], signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: page.members()["broker-1"][:2] == (False, RED), 10, "broker-1 red")
    took = time.monotonic() - killed
    assert took <= 5.0, f"broker-1 turned red after {took:.1f} s"
    assert "down" in page.members()["broker-1"][2]
    page.shot("dashboard-broker-down.png")
    up = labctl("up", "--home", lab)
    assert up.returncode == 0, up.stderr
    wait_for(lambda: page.members()["broker-1"][0], 10, "broker-1 up again")
    assert page.members()["broker-1"][1] != RED


def test_a_killed_agent_turns_its_topology_red(lab: Path, page: Page) -> None:
    agent = json.loads(labctl("agent", "status", "--json", "--home", lab).stdout)
    os.kill(agent["pid"], signal.SIGKILL)
    killed = time.monotonic()
    components = PILOT_NODES - {"topic:SmartCar-Topic"}  # the topic stays: the brokers have it

    def all_red() -> bool:
        nodes = page.nodes()
        return all(nodes[n] == (False, RED) for n in components)

    wait_for(all_red, 10, "the agent's components red")
    assert time.monotonic() - killed <= 5.0
    assert "not running" in page.text("agent-state")
