"""--check on exactly-once flows: what it covers, and a refusal with file:line where it cannot
hold; Flume's configs (no exactlyOnce) get none of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agents.config.properties import load_properties
from agents.config.topology import build_plan
from agents.event import EventBatch
from agents.runtime import Agent
from agents.sinks.simple import RollingFileSink
from tests.agents.agent_helpers import (
    REPO,
    config_problems,
    lines_in,
    of_type,
    running,
    spool_conf,
    wait_for,
)
from tests.conftest import shared

EOS = (
    "a.sinks.k.type = kafka\na.sinks.k.kafka.bootstrap.servers = 127.0.0.1:9\n"
    "a.sinks.k.exactlyOnce = true\na.sinks.k.channel = c\n"
)
ROLL = "a.sinks.{n}.type = file_roll\na.sinks.{n}.sink.directory = {d}\na.sinks.{n}.channel = {c}\n"


def lines_of(text: str) -> dict[str, int]:
    """The line number of each key in config *text*."""
    return {ln.split("=")[0].strip(): i for i, ln in enumerate(text.splitlines(), 1) if "=" in ln}


def test_a_source_without_replayable_positions_is_refused(tmp_path: Path) -> None:
    text = (
        "a.sources = x\na.channels = c\na.sinks = k\n"
        "a.sources.x.type = exec\na.sources.x.command = tail -F /tmp/log\n"
        "a.sources.x.channels = c\na.channels.c.type = memory\n" + EOS
    )
    said = config_problems(text)
    line = lines_of(text)["a.sources.x.type"]
    assert f"test.conf:{line}: a.sources.x.type: (exec) has no read positions to replay" in said
    assert "use spooldir or TAILDIR" in said


@pytest.mark.parametrize("kind", ["netcat", "seq", "http", "syslogtcp"])
def test_every_listening_or_generated_source_is_refused(kind: str) -> None:
    text = (
        "a.sources = x\na.channels = c\na.sinks = k\n"
        f"a.sources.x.type = {kind}\na.sources.x.port = 0\na.sources.x.channels = c\n"
        "a.channels.c.type = memory\n" + EOS
    ).replace("a.sources.x.port = 0\n", "" if kind == "seq" else "a.sources.x.port = 0\n")
    assert f"({kind}) has no read positions to replay" in config_problems(text)


def test_a_selector_that_also_feeds_a_plain_sink_is_refused(tmp_path: Path) -> None:
    text = (
        "a.sources = s\na.channels = c d\na.sinks = k r\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {tmp_path}\n"
        "a.sources.s.channels = c d\na.sources.s.selector.type = multiplexing\n"
        "a.sources.s.selector.header = h\na.sources.s.selector.default = c\n"
        "a.sources.s.selector.optional.x = d\n"
        "a.channels.c.type = memory\na.channels.d.type = memory\n"
        + EOS + ROLL.format(n="r", d=tmp_path, c="d")
    )  # fmt: skip
    said = config_problems(text)
    line = lines_of(text)["a.sources.s.channels"]
    assert (f"test.conf:{line}: a.sources.s.channels: feeds exactly-once sink(s) k and also r, "
            "which is not exactly-once") in said  # fmt: skip


def test_a_sink_group_with_a_plain_sink_and_a_shared_channel_are_refused(tmp_path: Path) -> None:
    text = (
        "a.sources = s\na.channels = c\na.sinks = k r\na.sinkgroups = g\n"
        "a.sinkgroups.g.sinks = k r\na.sinkgroups.g.processor.type = failover\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {tmp_path}\n"
        "a.sources.s.channels = c\na.channels.c.type = memory\n"
        + EOS + ROLL.format(n="r", d=tmp_path, c="c")
    )  # fmt: skip
    said = config_problems(text)
    assert "sink group g mixes exactly-once sink k with r, which is not" in said
    line = lines_of(text)["a.sinks.k.channel"]
    assert (f"test.conf:{line}: a.sinks.k.channel: channel c is drained by sink(s) r too"
            in said)  # fmt: skip


def test_spooldir_or_taildir_through_a_file_channel_is_fine_and_explained(
    tmp_path: Path,
) -> None:
    conf = tmp_path / "a.conf"
    conf.write_text(
        "a.sources = s t\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {tmp_path}\n"
        "a.sources.s.channels = c\na.sources.t.type = TAILDIR\na.sources.t.filegroups = g\n"
        f"a.sources.t.filegroups.g = {tmp_path}/x.log\na.sources.t.channels = c\n"
        f"a.channels.c.type = file\na.channels.c.checkpointDir = {tmp_path}/cp\n"
        f"a.channels.c.dataDirs = {tmp_path}/data\n" + EOS
    )
    out = subprocess.run([sys.executable, "-m", "agents", "-f", str(conf), "-n", "a", "--check"],
                         capture_output=True, text=True, cwd=REPO)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 error(s)" in out.stdout
    for said in (
        "exactly-once: source s (spooldir) resumes from the read positions committed in Kafka by k",
        "exactly-once: source t (taildir) resumes",
        "exactly-once: sink k writes each batch to default-flume-topic in one Kafka "
        "transaction (transactional.id a-k)",
        "isolation.level=read_committed",
    ):
        assert said in out.stdout, out.stdout  # fmt: skip


@pytest.mark.parametrize("name", sorted(p.name for p in shared("pilot", "book-conf").iterdir()))
def test_flumes_configs_without_exactly_once_get_none_of_it(name: str) -> None:
    """The book's configs: no mark on any event, no transactional sink, nothing to explain."""
    plan = build_plan(load_properties(str(shared("pilot", "book-conf", name))), "SmartCar_Agent")
    agent = Agent.from_plan(plan)
    assert agent.built.notes == []
    assert all(s.origin is None and s.resume is None for s in agent.sources.values())
    assert all(getattr(k, "writer", None) is None for k in agent.sinks.values())


def test_events_carry_no_marks_without_an_exactly_once_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    out.mkdir()
    (spool / "f.log").write_bytes(b"a\nb\n")
    seen: list[EventBatch] = []
    with running(spool_conf(spool, out), state_dir=tmp_path / "state") as agent:
        sink = of_type(agent.sinks["k"], RollingFileSink)
        write = sink.write

        def seen_and_written(batch: EventBatch) -> None:
            seen.append(batch)
            write(batch)

        monkeypatch.setattr(sink, "write", seen_and_written)
        assert wait_for(lambda: (spool / "f.log.COMPLETED").exists())
    assert [b.marks for b in seen] == [None] and lines_in(out) == [b"a", b"b"]
