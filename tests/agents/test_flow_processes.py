"""Flows in processes of their own (``--flow-processes``, ``agents.supervisor``): real agent
processes, real signals, real files. Two independent flows (spooldir -> memory -> file_roll,
TAILDIR -> memory -> file_roll) run in two children of the agent process: both deliver
everything, one ``/metrics`` shows both, a flow process killed with SIGKILL is restarted and
resumes from its positions (at least once: nothing lost), SIGTERM to the agent stops
everything with exit 0, SIGKILL to the agent leaves no child behind. Flows that share a
channel are one flow, and a one-flow config runs in one process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from agents.builder import build
from agents.config.properties import parse_properties
from agents.config.topology import build_plan
from tests.agents.agent_helpers import lines_in, run_agent_process, stop_process, wait_for

LINES = 100_000


def two_flows(tmp_path: Path) -> tuple[Path, Path, Path, Path, Path]:
    """A config with two independent flows; its spool dir, tailed file, and two outputs."""
    spool, logs, state = tmp_path / "spool", tmp_path / "logs", tmp_path / "state"
    out1, out2 = tmp_path / "out1", tmp_path / "out2"
    for d in (spool, logs, state):
        d.mkdir()
    conf = tmp_path / "a.conf"
    conf.write_text(
        "a.sources = s1 t2\na.channels = c1 c2\na.sinks = k1 k2\n"
        f"a.sources.s1.type = spooldir\na.sources.s1.spoolDir = {spool}\n"
        "a.sources.s1.pollDelay = 50\na.sources.s1.channels = c1\n"
        "a.channels.c1.type = memory\na.channels.c1.capacity = 20000\n"
        "a.channels.c1.transactionCapacity = 1000\n"
        f"a.sinks.k1.type = file_roll\na.sinks.k1.sink.directory = {out1}\n"
        "a.sinks.k1.sink.rollInterval = 0\na.sinks.k1.batchSize = 1000\na.sinks.k1.channel = c1\n"
        "a.sources.t2.type = TAILDIR\na.sources.t2.filegroups = g\n"
        f"a.sources.t2.filegroups.g = {logs}/app.log\n"
        f"a.sources.t2.positionFile = {state}/pos.json\na.sources.t2.writePosInterval = 100\n"
        "a.sources.t2.channels = c2\n"
        "a.channels.c2.type = memory\na.channels.c2.capacity = 20000\n"
        "a.channels.c2.transactionCapacity = 1000\n"
        f"a.sinks.k2.type = file_roll\na.sinks.k2.sink.directory = {out2}\n"
        "a.sinks.k2.sink.rollInterval = 0\na.sinks.k2.batchSize = 1000\na.sinks.k2.channel = c2\n"
    )
    return conf, spool, logs / "app.log", out1, out2


def records(tag: bytes, first: int, last: int) -> list[bytes]:
    return [b"%s,%09d,%s" % (tag, i, b"x" * 40) for i in range(first, last)]


def write(path: Path, lines: list[bytes], mode: str = "ab") -> None:
    with open(path, mode) as fh:
        fh.write(b"".join(line + b"\n" for line in lines))


def flow_children(agent: subprocess.Popen[bytes]) -> dict[str, int]:
    """The agent's flow processes, by flow name (from their command lines)."""
    out = {}
    for child in psutil.Process(agent.pid).children():
        try:
            argv = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "--flow" in argv:
            out[argv[argv.index("--flow") + 1]] = child.pid
    return out


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def metrics_url(log: Path) -> str:
    port = re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", log.read_text())
    assert port, log.read_text()
    return f"http://127.0.0.1:{port.group(1)}/metrics"


def metrics(log: Path) -> dict[str, Any]:
    with urllib.request.urlopen(metrics_url(log), timeout=10) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return data


def started(log: Path) -> bool:
    return "flows in processes of their own" in log.read_text()


def test_two_flows_run_in_two_processes_with_one_metrics_and_one_stop(tmp_path: Path) -> None:
    conf, spool, tailed, out1, out2 = two_flows(tmp_path)
    want1, want2 = records(b"S", 0, LINES), records(b"T", 0, LINES)
    write(tailed, want2)
    log = tmp_path / "agent.log"
    agent = run_agent_process(conf, "a", log, "--flow-processes", "--monitoring-port", "0")
    try:
        wait_for(lambda: started(log), 60, "both flow processes running", proc=agent, log=log)
        children = flow_children(agent)
        assert set(children) == {"s1", "t2"}, children
        write(tmp_path / "day.txt", want1, "wb")
        (tmp_path / "day.txt").rename(spool / "day.txt")
        wait_for(lambda: out1.exists() and len(lines_in(out1)) >= LINES, 60, "flow s1's lines",
                 lambda: len(lines_in(out1)), log=log)  # fmt: skip
        wait_for(lambda: out2.exists() and len(lines_in(out2)) >= LINES, 60, "flow t2's lines",
                 lambda: len(lines_in(out2)), log=log)  # fmt: skip

        def both_counted() -> dict[str, Any] | None:
            data = metrics(log)
            ok = all(data.get(f"SINK.{k}", {}).get("EventDrainSuccessCount") == str(LINES)
                     for k in ("k1", "k2"))  # fmt: skip
            return data if ok else None

        data = wait_for(
            both_counted, 30, "both flows' counters in one /metrics", lambda: metrics(log)
        )
        assert set(data) == {"SOURCE.s1", "CHANNEL.c1", "SINK.k1", "SOURCE.t2", "CHANNEL.c2",
                             "SINK.k2"}  # fmt: skip
        assert data["SOURCE.t2"]["EventAcceptedCount"] == str(LINES)
        assert data["SINK.k1"]["Health"] == "running"
        with urllib.request.urlopen(metrics_url(log) + "/prometheus", timeout=10) as resp:
            prom = resp.read().decode()
        assert 'flume_sink_event_drain_success_total{agent="a",component="k2"} 100000.0' in prom
    finally:
        code = stop_process(agent)
    assert code == 0, log.read_text()
    assert lines_in(out1) == want1 and lines_in(out2) == want2
    assert all(gone(pid) for pid in children.values()), "a flow process outlived the agent"
    text = log.read_text()
    assert "[flow s1] [agents.runtime] agent a stopped" in text, text
    assert "[flow t2] [agents.runtime] agent a stopped" in text, text


def test_a_killed_flow_process_is_restarted_and_resumes_where_it_was(tmp_path: Path) -> None:
    """SIGKILL of the TAILDIR flow's process mid-file: the agent starts it again, it resumes
    from its position file (lines since then come twice, none is lost), lines written while it
    was down arrive, the other flow's process runs on untouched, and /metrics counts on."""
    conf, _spool, tailed, _out1, out2 = two_flows(tmp_path)
    want = records(b"T", 0, 3 * LINES)
    write(tailed, want[:LINES])
    log = tmp_path / "agent.log"
    agent = run_agent_process(conf, "a", log, "--flow-processes", "--monitoring-port", "0")
    try:
        wait_for(lambda: started(log), 60, "both flow processes running", proc=agent, log=log)
        children = flow_children(agent)
        write(tailed, want[LINES : 2 * LINES])
        wait_for(lambda: out2.exists() and len(lines_in(out2)) > 20_000, 60,
                 "some of flow t2's lines", log=log)  # fmt: skip
        psutil.Process(children["t2"]).send_signal(signal.SIGKILL)
        assert len(lines_in(out2)) < 2 * LINES, "the flow was done before the kill: test too slow"
        write(tailed, want[2 * LINES :])  # while it is down (or starting again)
        again = wait_for(lambda: (c := flow_children(agent)).get("t2") not in (None, children["t2"])
                         and c, 30, "flow t2 started again", log=log)  # fmt: skip
        assert again["s1"] == children["s1"], "the other flow's process was restarted too"
        wait_for(lambda: len(set(lines_in(out2))) == len(want), 90, "every line of flow t2",
                 lambda: len(set(lines_in(out2))), log=log)  # fmt: skip
        data = wait_for(lambda: (d := metrics(log))["SOURCE.t2"]["Health"] == "running" and d,
                        30, "flow t2 running again in /metrics")  # fmt: skip
        assert data["SOURCE.t2"]["RestartCount"] == data["SINK.k2"]["RestartCount"] == "1"
        assert data["SINK.k1"].get("RestartCount", "0") == "0"
        # counts carry on: the new process's plus what the dead one had said at the last scrape
        assert int(data["SINK.k2"]["EventDrainSuccessCount"]) > 20_000
    finally:
        code = stop_process(agent)
    assert code == 0, log.read_text()
    assert set(lines_in(out2)) == set(want)
    assert re.search(r"flow t2: process \d+ ended \(killed by SIGKILL\); starting it again",
                     log.read_text())  # fmt: skip


def test_sigkill_of_the_agent_leaves_no_flow_process(tmp_path: Path) -> None:
    conf, *_ = two_flows(tmp_path)
    log = tmp_path / "agent.log"
    agent = run_agent_process(conf, "a", log, "--flow-processes")
    wait_for(lambda: started(log), 60, "both flow processes running", proc=agent, log=log)
    children = flow_children(agent)
    assert len(children) == 2
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    wait_for(lambda: all(gone(pid) for pid in children.values()), 10,
             "the flow processes to die with the agent", lambda: children)  # fmt: skip


def test_flows_that_share_a_channel_or_a_sink_group_are_one_flow() -> None:
    def flows(text: str) -> dict[str, list[str]]:
        built = build(build_plan(parse_properties(text, "t.conf"), "a"))
        return {name: sorted([*f.sources, *f.channels, *f.sinks])
                for name, f in built.flows().items()}  # fmt: skip

    base = "a.sources.{s}.type = seq\na.sources.{s}.channels = {c}\n"
    sink = "a.sinks.{k}.type = null\na.sinks.{k}.channel = {c}\n"
    chan = "a.channels.{c}.type = memory\n"
    two = (
        "a.sources = r1 r2\na.channels = c1 c2\na.sinks = k1 k2\n"
        + base.format(s="r1", c="c1") + base.format(s="r2", c="c2")
        + chan.format(c="c1") + chan.format(c="c2")
        + sink.format(k="k1", c="c1") + sink.format(k="k2", c="c2")
    )  # fmt: skip
    assert flows(two) == {"r1": ["c1", "k1", "r1"], "r2": ["c2", "k2", "r2"]}
    shared = two.replace("a.sources.r2.channels = c2", "a.sources.r2.channels = c1")
    assert flows(shared) == {"r1+r2": ["c1", "k1", "r1", "r2"], "k2": ["c2", "k2"]}
    replicated = two.replace("a.sources.r2.channels = c2", "a.sources.r2.channels = c1 c2")
    assert list(flows(replicated)) == ["r1+r2"]
    grouped = two + "a.sinkgroups = g\na.sinkgroups.g.sinks = k1 k2\n"
    grouped += "a.sinkgroups.g.processor.type = failover\n"
    assert list(flows(grouped)) == ["r1+r2"]


def test_flow_processes_on_a_one_flow_config_run_it_in_one_process(tmp_path: Path) -> None:
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    conf = tmp_path / "a.conf"
    conf.write_text(
        "a.sources = s\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\na.sources.s.channels = c\n"
        "a.sources.s.pollDelay = 50\na.channels.c.type = memory\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.rollInterval = 0\na.sinks.k.channel = c\n"
    )
    log = tmp_path / "agent.log"
    agent = run_agent_process(conf, "a", log, "--flow-processes")
    try:
        wait_for(lambda: "agent a started" in log.read_text(), 60, "the agent started",
                 proc=agent, log=log)  # fmt: skip
        write(tmp_path / "day.txt", records(b"S", 0, 1000), "wb")
        (tmp_path / "day.txt").rename(spool / "day.txt")
        wait_for(lambda: out.exists() and len(lines_in(out)) == 1000, 30, "the lines", log=log)
        assert flow_children(agent) == {}
    finally:
        assert stop_process(agent) == 0
    assert "agent a has one flow: it runs in this process" in log.read_text()


def test_a_flow_that_cannot_run_stops_the_agent_with_its_exit_code(tmp_path: Path) -> None:
    """Another agent holds flow s1's spool dir: s1 stops for good (not restarted), the agent
    stops its other flow and exits 1, as one process would, and leaves no flow process."""
    conf, spool, *_ = two_flows(tmp_path)
    holder_conf = tmp_path / "holder.conf"
    holder_conf.write_text(
        "a.sources = s\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\na.sources.s.channels = c\n"
        "a.channels.c.type = memory\na.sinks.k.type = null\na.sinks.k.channel = c\n"
    )
    holder = run_agent_process(holder_conf, "a", tmp_path / "holder.log")
    try:
        wait_for(lambda: "agent a started" in (tmp_path / "holder.log").read_text(), 60,
                 "the first agent holding the spool dir", proc=holder)  # fmt: skip
        log = tmp_path / "agent.log"
        agent = run_agent_process(conf, "a", log, "--flow-processes")
        wait_for(lambda: flow_children(agent), 30, "the flow processes", proc=agent, log=log)
        children = flow_children(agent)
        assert agent.wait(60) == 1, log.read_text()
    finally:
        assert stop_process(holder) == 0
    text = log.read_text()
    assert f"is in use by another agent (pid {holder.pid})" in text, text
    assert "flow s1 stopped for good" in text, text
    assert "starting it again" not in text, text
    assert all(gone(pid) for pid in children.values())
