"""Flume properties syntax, the book's configs, and what --check tells the user."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agents.builder import build
from agents.config.properties import load_properties, parse_properties
from agents.config.topology import build_plan
from agents.runtime import Agent
from tests.agents.agent_helpers import REPO, wait_for
from tests.conftest import shared

BOOK = shared("pilot", "book-conf")


def test_java_properties_rules():
    text = (
        "# comment\n! also a comment\n"
        "a.regex = ^\\\\d{14}\n"
        "b:colon\n"
        "c space separated\n"
        "d = one \\\n    two\n"
        "e = trailing  \n"
        "f\\ key = x\n"
        "g = \\u0041\\t\n"
        "h = ${HOME_X}/x\n"
    )
    props = parse_properties(text, "t.conf", env={"HOME_X": "/h"})
    v = {k: e.value for k, e in props.entries.items()}
    assert v["a.regex"] == "^\\d{14}"
    assert v["b"] == "colon" and v["c"] == "space separated"
    assert v["d"] == "one two"
    assert v["e"] == "trailing  "
    assert v["f key"] == "x"
    assert v["g"] == "A\t"
    assert v["h"] == "/h/x"
    assert props.entries["d"].line == 6
    assert not props.problems


def test_unset_variable_and_duplicate_key_are_reported():
    props = parse_properties("x = ${NOPE_NOT_SET}\ny = 1\ny = 2\n", "t.conf", env={})
    messages = [str(p) for p in props.problems]
    assert any(
        "NOPE_NOT_SET is neither a key of this file nor set in the environment" in m
        and "t.conf:1" in m
        for m in messages
    )
    assert any("set again" in m and "t.conf:3" in m for m in messages)


@pytest.mark.parametrize("conf", sorted(BOOK.glob("*.conf")), ids=lambda p: p.name)
def test_every_book_config_parses_into_the_books_topology(conf: Path) -> None:
    plan = build_plan(load_properties(str(conf)), "SmartCar_Agent")
    assert "SmartCarInfo_SpoolSource" in plan.sources
    spool = plan.sources["SmartCarInfo_SpoolSource"]
    assert spool.type_name == "spooldir"
    regex = [i for i in spool.interceptors if i.type_name == "regex_filter"]
    if "3.1" not in conf.name:
        assert regex and regex[0].context.get("regex") == "^\\d{14}"
    if "3.4" in conf.name or "4.2" in conf.name:
        assert plan.sinks["DriverCarInfo_KafkaSink"].type_name == "kafka"
        assert plan.sources["DriverCarInfo_TailSource"].type_name == "exec"


def test_ex33_says_exactly_what_is_wrong():
    conf = BOOK / "ex3.3-SmartCar_Agent.conf"
    plan = build_plan(load_properties(str(conf)), "SmartCar_Agent")
    text = "\n".join(str(p) for p in build(plan).problems)
    for name in ("DriverCarInfo_TailSource", "DriverCarInfo_Channel", "DriverCarInfo_KafkaSink"):
        assert f"{name!r}, which is never configured" in text
    assert "ex3.3-SmartCar_Agent.conf:6" in text and "contains a space" in text


def test_ex33_valid_flow_still_runs(tmp_path: Path) -> None:
    spool = tmp_path / "car-batch-log"
    spool.mkdir()
    text = (BOOK / "ex3.3-SmartCar_Agent.conf").read_text()
    text = text.replace("/home/pilot-pjt/working /car-batch-log", str(spool))
    agent = Agent.from_plan(build_plan(parse_properties(text, "ex3.3"), "SmartCar_Agent"))
    assert sorted(agent.sources) == ["SmartCarInfo_SpoolSource"]
    assert sorted(agent.sinks) == ["SmartCarInfo_LoggerSink"]


def check(conf: Path, name: str = "a") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agents", "-f", str(conf), "-n", name, "--check"],
                          capture_output=True, text=True, cwd=REPO)  # fmt: skip


def test_check_names_file_line_key_and_suggests(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(
        "a.sources = s\na.channels = c\na.sinks = k\n"
        "a.sources.s.type = exec\na.sources.s.command = true\na.sources.s.chanels = c\n"
        "a.sources.s.channels = c\n"
        "a.sources.s.interceptors = f\n"
        "a.sources.s.interceptors.f.type = regex_filter\n"
        "a.sources.s.interceptors.f.regex = ^(\\\\d{14}\n"
        "a.channels.c.type = memroy\n"
        "a.sinks.k.type = logger\na.sinks.k.channel = c\n"
    )
    result = check(conf)
    assert result.returncode == 1
    out = result.stdout
    assert "bad.conf:6: a.sources.s.chanels: is not a property" in out
    assert "did you mean 'channels'?" in out
    assert "bad.conf:10: a.sources.s.interceptors.f.regex: invalid regular expression" in out
    assert "bad.conf:11: a.channels.c.type: unknown channel type 'memroy'" in out
    assert "did you mean 'memory'?" in out


def test_check_passes_a_good_config_and_flume_class_names(tmp_path: Path) -> None:
    conf = tmp_path / "good.conf"
    conf.write_text(
        "a.sources = s\na.channels = c\na.sinks = k\n"
        "a.sources.s.type = org.apache.flume.source.ExecSource\n"
        "a.sources.s.command = true\na.sources.s.channels = c\n"
        "a.channels.c.type = org.apache.flume.channel.MemoryChannel\n"
        "a.sinks.k.type = org.apache.flume.sink.NullSink\na.sinks.k.channel = c\n"
    )
    result = check(conf)
    assert result.returncode == 0, result.stdout
    assert "source s (exec)" in result.stdout and "sink k (null)" in result.stdout


def test_check_missing_file_and_unknown_agent(tmp_path: Path) -> None:
    result = check(tmp_path / "nope.conf")
    assert result.returncode == 1 and "does not exist" in result.stdout
    conf = tmp_path / "x.conf"
    conf.write_text("SmartCar_Agent.sources = s\n")
    result = check(conf, "SmartCar_Agnet")
    assert result.returncode == 1 and "did you mean 'SmartCar_Agent'?" in result.stdout


BROKEN = (
    "a.sources = s t\na.channels = c\na.sinks = k j v\n"
    "a.sources.s.type = spooldir\na.sources.s.spoolDIr = {spool}\na.sources.s.channels = c\n"
    "a.sources.t.type = exec\na.sources.t.command = seq 1 3\na.sources.t.channels = c\n"
    "a.sources.t.interceptors = f\na.sources.t.interceptors.f.type = regex_filter\n"
    "a.sources.t.interceptors.f.regex = ^(\\\\d{{14}}\n"
    "a.channels.c.type = memory\n"
    "a.sinks.k.type = nul\na.sinks.k.channel = c\n"
    "a.sinks.j.type = logger\n"
    "a.sinks.v.type = null\na.sinks.v.channel = c\n"
)


def test_run_mode_refuses_a_broken_config_the_way_check_does(tmp_path: Path) -> None:
    """Issue 10 item 10: misspelt key, bad regex, unknown type, a sink without a channel."""
    conf = tmp_path / "bad.conf"
    conf.write_text(BROKEN.format(spool=tmp_path))
    result = subprocess.run([sys.executable, "-m", "agents", "-f", str(conf), "-n", "a"],
                            capture_output=True, text=True, cwd=REPO, timeout=60)  # fmt: skip
    assert result.returncode == 1, result.stdout
    out = result.stdout
    assert "bad.conf:5: a.sources.s.spoolDIr: is not a property" in out
    assert "did you mean 'spoolDir'?" in out
    assert "bad.conf:12: a.sources.t.interceptors.f.regex: invalid regular expression" in out
    assert "bad.conf:14: a.sinks.k.type: unknown sink type 'nul'" in out
    assert "bad.conf:16: a.sinks.j.type: its channel is not set" in out
    assert "refusing to run" in out and "--lenient" in out
    assert check(conf).returncode == 1


def test_lenient_runs_what_is_valid_as_flume_does(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    text = BROKEN.format(spool=tmp_path).replace("a.sources = s t", "a.sources = t")
    text = text.replace("^(\\\\d{14}", "^\\\\d").replace("type = nul\n", "type = null\n")
    conf.write_text(text)
    log = tmp_path / "agent.log"
    with open(log, "wb") as fh:
        argv = [sys.executable, "-m", "agents", "-f", str(conf), "-n", "a", "--lenient"]
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        assert wait_for(lambda: b"agent a started" in log.read_bytes(), timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    said = log.read_bytes()
    assert b"WARNING [agents] " in said and b"a.sinks.j.type: its channel is not set" in said
    assert b"--lenient leaves sink j out (Flume removes sink j)" in said


def test_check_has_no_side_effects(tmp_path: Path) -> None:
    """Issue 10 item 10: --check creates no directory and connects to no broker."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    spool = tmp_path / "spool"
    spool.mkdir()
    conf = tmp_path / "c.conf"
    conf.write_text(
        "a.sources = s t\na.channels = c\na.sinks = k f\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\na.sources.s.channels = c\n"
        "a.sources.s.interceptors = h\na.sources.s.interceptors.h.type = host\n"
        "a.sources.t.type = TAILDIR\na.sources.t.filegroups = g\n"
        f"a.sources.t.filegroups.g = {tmp_path}/logs/x.log\n"
        f"a.sources.t.positionFile = {tmp_path}/state/pos.json\na.sources.t.channels = c\n"
        "a.channels.c.type = memory\n"
        f"a.sinks.k.type = kafka\na.sinks.k.kafka.bootstrap.servers = 127.0.0.1:{port}\n"
        "a.sinks.k.channel = c\n"
        f"a.sinks.f.type = file_roll\na.sinks.f.sink.directory = {tmp_path}/out\n"
        "a.sinks.f.channel = c\n"
    )
    result = check(conf)
    assert result.returncode == 0, result.stdout
    with pytest.raises(TimeoutError):
        listener.accept()  # nobody connected
    listener.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.conf", "spool"]
    assert list(spool.iterdir()) == []


def test_variables_as_flume_resolves_them():
    """Issue 23 item 4: keys of the file (in any order), ${env:}, ${sys:}, defaults, $${}."""
    text = (
        "a.y = ${a.x}/${env:H}/${sys:file.separator}/${NOPE:-d}/$${a.x}/${H}\n"
        "a.x = 1\n"
        "a.z = ${UNSET_HERE}\n"
    )
    props = parse_properties(text, "v.conf", env={"H": "h"})
    v = {k: e.value for k, e in props.entries.items()}
    assert v["a.y"] == "1/h///d/${a.x}/h"
    assert v["a.z"] == "${UNSET_HERE}"  # left as written, as Flume leaves it
    (problem,) = props.problems
    assert problem.line == 3 and problem.lenient == "run"
    assert "--lenient leaves it as written, as Flume does" in problem.lenient_str()


def test_static_empty_value_is_flumes_default_under_lenient():
    """Issue 23 item 3: Flume drops `value =` and the header is empty=value."""
    from agents.event import EventBatch
    from tests.agents.agent_helpers import agent_from_text

    agent = agent_from_text(
        "a.sources = s\na.channels = c\na.sources.s.type = seq\na.sources.s.channels = c\n"
        "a.sources.s.interceptors = i\na.sources.s.interceptors.i.type = static\n"
        "a.sources.s.interceptors.i.key = empty\na.sources.s.interceptors.i.value =\n"
        "a.channels.c.type = memory\n"
    )
    (problem,) = [p for p in agent.plan.problems if (p.key or "").endswith(".value")]
    assert problem.severity == "error" and problem.lenient == "run"  # strict refuses it
    out = agent.interceptors["s"][0].intercept(EventBatch([b"x"]))
    assert out.event_headers(0) == {"empty": "value"}
