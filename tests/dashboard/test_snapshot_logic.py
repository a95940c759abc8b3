"""Pure logic of the dashboard's data layer: the agent graph, rates, reports, progress, and the
terminal rendering of a snapshot. (Real agents, brokers and browsers: the other files here.)"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from rich.console import Console

from agents.config.properties import load_properties
from agents.config.topology import build_plan
from labctl.dashboard.agent_graph import AGENT_DOWN, agent_view
from labctl.dashboard.cluster_facts import members
from labctl.dashboard.model import ClusterView, Snapshot
from labctl.dashboard.rates import RateMeter
from labctl.dashboard.top import render, sparkline
from labctl.paths import LabPaths
from labctl.pilot.agent import pilot_conf
from labctl.pilot.progress import ProgressFile, StepState, read_progress
from labctl.pilot.reports import ReportShelf, flows

ENV = {"SMARTCAR_WORKING": "/w", "SMARTCAR_BROKERS": "127.0.0.1:1"}


def pilot_plan():
    return build_plan(load_properties(str(pilot_conf("3.4")), ENV), "SmartCar_Agent")


def metrics(received: int, delivered: int, kafka_health: str = "running") -> dict:
    """What the agent's /metrics answers (Flume's JSON: every value a string)."""

    def comp(kind: str, **values: object) -> dict:
        return {"Type": kind, "Health": "running", **{k: str(v) for k, v in values.items()}}

    return {
        "SOURCE.SmartCarInfo_SpoolSource": comp("SOURCE", EventReceivedCount=0,
                                                EventAcceptedCount=0, EventForwardedCount=0),
        "SOURCE.DriverCarInfo_TailSource": comp("SOURCE", EventReceivedCount=received,
                                                EventAcceptedCount=received,
                                                EventForwardedCount=received - 10),
        "CHANNEL.SmartCarInfo_Channel": comp("CHANNEL", ChannelSize=0, ChannelCapacity=100000),
        "CHANNEL.DriverCarInfo_Channel": comp("CHANNEL", ChannelSize=250,
                                              ChannelCapacity=100000),
        "SINK.SmartCarInfo_LoggerSink": comp("SINK", EventDrainAttemptCount=0,
                                             EventDrainSuccessCount=0),
        "SINK.DriverCarInfo_KafkaSink": {**comp("SINK", EventDrainAttemptCount=delivered,
                                                EventDrainSuccessCount=delivered),
                                         "Health": kafka_health},
    }  # fmt: skip


def test_pilot_graph_is_laid_out_as_flows_with_rates_per_hop() -> None:
    rates = RateMeter()
    agent_view(pilot_plan(), metrics(1000, 900), rates, now=10.0, pid=1, problem="")
    view = agent_view(pilot_plan(), metrics(3000, 2900), rates, now=12.0, pid=1, problem="")
    nodes = {n.id: n for n in view.nodes}
    tail = "source:DriverCarInfo_TailSource"
    assert nodes[tail].column == 0
    assert nodes["interceptor:DriverCarInfo_TailSource/filterInterceptor2"].column == 1
    assert nodes["channel:DriverCarInfo_Channel"].column == 2
    assert nodes["sink:DriverCarInfo_KafkaSink"].column == 3
    topic = nodes["topic:SmartCar-Topic"]
    assert topic.column == 4 and topic.row == nodes[tail].row
    assert nodes["source:SmartCarInfo_SpoolSource"].row != nodes[tail].row  # one row a flow
    channel = nodes["channel:DriverCarInfo_Channel"]
    assert (channel.size, channel.capacity) == (250, 100000)
    edges = {(e.source, e.target): e for e in view.edges}
    first = edges[(tail, "interceptor:DriverCarInfo_TailSource/filterInterceptor2")]
    assert (first.counter, first.rate) == ("EventReceivedCount", 1000.0)
    to_topic = edges[("sink:DriverCarInfo_KafkaSink", "topic:SmartCar-Topic")]
    assert (to_topic.counter, to_topic.rate) == ("EventDrainSuccessCount", 1000.0)
    assert view.in_rate == 1000.0 and view.out_rate == 1000.0
    assert all(n.ok for n in view.nodes if n.kind != "topic")  # topics: the cluster's word


def test_failed_and_stopped_components_are_not_ok() -> None:
    retrying = agent_view(pilot_plan(), metrics(0, 0, "retrying: no broker answers"),
                          RateMeter(), now=1.0, pid=1, problem="")  # fmt: skip
    bad = [n.id for n in retrying.nodes if not n.ok and n.kind != "topic"]
    assert bad == ["sink:DriverCarInfo_KafkaSink"]
    down = agent_view(pilot_plan(), None, RateMeter(), now=1.0, pid=None, problem="refused")
    assert not down.running
    assert all(n.health == AGENT_DOWN and not n.ok for n in down.nodes if n.kind != "topic")
    assert all(e.rate is None for e in down.edges)


def test_rate_meter_restarts_when_a_counter_goes_back() -> None:
    meter = RateMeter(window=3.0)
    assert meter.update("k", 100, 0.0) is None
    assert meter.update("k", 300, 1.0) == 200.0
    assert meter.update("k", 300, 1.0) == 200.0  # the same sample twice: no change
    assert meter.update("k", 5, 2.0) is None  # the agent restarted: counting anew
    assert meter.update("k", 15, 3.0) == 10.0


def report(stage_checks: dict[int, bool], figures: dict | None = None) -> dict:
    checks = [{"stage": s, "name": f"check {s}", "ok": ok, "measured": "", "hint": ""}
              for s, ok in stage_checks.items()]  # fmt: skip
    return {"format": "labctl-verify/1", "ok": all(stage_checks.values()), "checks": checks,
            "figures": figures or {}}  # fmt: skip


def test_newest_report_per_stage_and_the_pilot_flows(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    paths.reports_dir.mkdir(parents=True)
    figures = {"status_records": 90, "status_headers": 5, "status_garbage": 5, "logged": 90,
               "driving_records": 50, "driving_headers": 2, "driving_garbage": 3,
               "delivered": 50}  # fmt: skip
    full = paths.reports_dir / "verify-20260101-100000.json"
    full.write_text(json.dumps(report({1: True, 2: True, 3: True, 4: True, 5: True}, figures)))
    newer = paths.reports_dir / "verify-20260101-110000.json"
    newer.write_text(json.dumps(report({2: False})))
    (paths.reports_dir / "verify-20260101-120000.json").write_text("{half-writ")
    shelf = ReportShelf(paths)
    per_stage = shelf.latest_per_stage()
    assert per_stage[2].path == newer and not per_stage[2].ok
    assert per_stage[1].path == full and per_stage[5].path == full
    latest = shelf.latest_full_run()
    assert latest is not None and latest.path == full
    rows = {f.flow: f for f in flows(latest.figures)}
    assert (rows["status file"].generated, rows["status file"].filtered) == (100, 10)
    assert (rows["driving log"].generated, rows["driving log"].delivered) == (55, 50)


def test_progress_file_is_read_back_only_while_its_writer_lives(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    progress = ProgressFile(paths, "pilot")
    progress.step("simulating 5 cars for 10 s", 10.0, "s")
    progress.advance(4.0, 120)
    progress.step("stages 4-5: reading SmartCar-Topic", 1000)
    progress.state.step_started = time.time() - 2.0
    progress.advance(500, 500)
    progress._write(force=True)
    state = read_progress(paths)
    assert state is not None and state.step.startswith("stages 4-5") and state.records == 500
    left = state.seconds_left(time.time())
    assert left is not None and 1.5 < left < 3.0  # half done in 2 s: about 2 s left
    assert StepState(1, "pilot", 0.0, "sim", 0.0, 10.0, "s", 4.0).seconds_left(0.0) == 6.0
    progress.close()
    assert read_progress(paths) is None
    dead = StepState(os.getpid(), "pilot", time.time() - 3600 * 24 * 365 * 30)
    (paths.run_dir / "progress.json").write_text(json.dumps(dead.__dict__))
    assert read_progress(paths) is None  # that pid is a later process: not the writer


def test_terminal_view_renders_a_snapshot() -> None:
    view = agent_view(pilot_plan(), metrics(10, 10, "retrying: broker down"), RateMeter(),
                      now=1.0, pid=42, problem="")  # fmt: skip
    snap = Snapshot("/lab", time.time(), True, view, None, ((time.time(), 5.0, 4.0),))
    console = Console(record=True, width=140, color_system=None)
    console.print(render(snap, 140))
    text = console.export_text()
    assert "agent SmartCar_Agent pid 42" in text
    assert "sink DriverCarInfo_KafkaSink (kafka) retrying: broker down" in text
    assert "no cluster" in text
    assert "5.0/s" in text and "peak 5.0/s" in text  # the newest sample is charted
    assert sparkline([None, 0.0, 1000.0], 1000.0) == " ▁█"


def test_terminal_view_shows_where_each_member_and_the_agent_run() -> None:
    """A Swarm lab: each member's node as `labctl status` says it, a lost node's broker down."""
    status = {"brokers": [0, 1], "controller": 0, "components": [
        {"component": "zookeeper", "port": 2181, "pid": None, "where": "node host0",
         "state": "running", "uptime_s": 60.0},
        {"component": "broker-0", "port": 9092, "pid": None, "where": "node host0",
         "state": "running", "uptime_s": 50.0},
        {"component": "broker-1", "port": 9093, "pid": None, "where": "node host2 (node down)",
         "state": "stopped", "uptime_s": None}]}  # fmt: skip
    cluster = ClusterView("zookeeper", "swarm", "10.0.0.1:9092", "SmartCar-Topic",
                          members(status))  # fmt: skip
    view = agent_view(pilot_plan(), metrics(10, 10), RateMeter(), now=1.0, pid=None,
                      problem="", where="node host0")  # fmt: skip
    console = Console(record=True, width=160, color_system=None)
    console.print(render(Snapshot("/lab", time.time(), True, view, cluster), 160))
    text = console.export_text()
    assert "agent SmartCar_Agent node host0 · in" in text
    row = next(line for line in text.splitlines() if "broker-1" in line)
    assert "down" in row and "node host2 (node down)" in row
    assert "node host0" in next(line for line in text.splitlines() if "broker-0" in line)
