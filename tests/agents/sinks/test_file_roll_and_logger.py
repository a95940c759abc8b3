"""file_roll rolls to a new file every rollInterval and cuts a batch a crash tore; the logger
prints Flume's lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.runtime import Agent
from agents.sinks.java import hashmap_order, java_string_hash
from agents.sinks.simple import RollingFileSink, render_event
from tests.agents.agent_helpers import agent_from_text, lines_in, of_type, put_events, wait_for


def test_file_roll_rolls_every_interval_and_loses_nothing(tmp_path: Path) -> None:
    out, data = tmp_path / "out", tmp_path / "in.txt"
    data.write_bytes(b"")
    agent = agent_from_text(
        "a.sources = t\na.channels = c\na.sinks = k\n"
        "a.sources.t.type = TAILDIR\na.sources.t.filegroups = g\n"
        f"a.sources.t.filegroups.g = {data}\n"
        f"a.sources.t.positionFile = {tmp_path}/pos.json\na.sources.t.channels = c\n"
        "a.channels.c.type = memory\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.rollInterval = 1\na.sinks.k.sink.pathManager.prefix = p-\n"
        "a.sinks.k.sink.pathManager.extension = log\na.sinks.k.channel = c\n"
    )
    agent.start()
    expected = []
    try:
        for i in range(3):
            with open(data, "ab") as fh:
                fh.write(b"line %d\n" % i)
            expected.append(b"line %d" % i)
            assert wait_for(lambda: out.exists() and lines_in(out) == expected)
            files = len(list(out.iterdir()))

            def rolled(before: int = files) -> bool:
                return _rolled(agent, before)

            assert wait_for(rolled, timeout=5)
    finally:
        agent.stop()
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 3 and all(n.startswith("p-") and n.endswith(".log") for n in names)
    assert lines_in(out) == expected
    assert agent.sinks["k"].counters.get("ConnectionCreatedCount") == 3


def _rolled(agent: Agent, files: int) -> bool:
    """The sink's current file is older than rollInterval: the next batch opens another."""
    import time

    sink = of_type(agent.sinks["k"], RollingFileSink)
    return sink._fh is None or time.monotonic() - sink._opened >= 1


def test_logger_lines_are_flumes():
    """Issue 14 item 7, golden strings from Flume 1.11's EventHelper (run with jshell here):
    headers in HashMap order, an empty body as 'body: }', rows after the first with offsets."""
    headers = {"timestamp": "1", "logType": "car-batch-log", "file": "/x", "basename": "x"}
    assert render_event(b"20160101000001,K0001,93,88", headers, 16) == (
        "Event: { headers:{logType=car-batch-log, file=/x, basename=x, timestamp=1} body: "
        "32 30 31 36 30 31 30 31 30 30 30 30 30 31 2C 4B 20160101000001,K }"
    )
    assert render_event(b"", {}, 16) == "Event: { headers:{} body: }"
    assert render_event(b"20160101000001,K0001,93,88", {}, 32) == (
        "Event: { headers:{} body: 32 30 31 36 30 31 30 31 30 30 30 30 30 31 2C 4B "
        "20160101000001,K\n00000010 30 30 30 31 2C 39 33 2C 38 38                   "
        "0001,93,88 }"
    )


def test_java_hashmap_order():
    assert java_string_hash("logType") == 341730462
    keys = ["timestamp", "logType", "file", "basename", "host", "topic", "key"]
    # java.util.HashMap.toString() of these, put in this order (jshell, JDK 17)
    assert hashmap_order(keys) == ["logType", "file", "basename", "host", "topic", "key",
                                   "timestamp"]  # fmt: skip
    many = ["timestamp", "logType", "file", "basename", "host", "topic", "key", "byteoffset",
            "partition", "차량", "a", "bb", "ccc", "dddd", "eeeee", "ffffff", "g7", "h8", "i9",
            "j10"]  # fmt: skip
    # 20 keys: the table has grown to 32 buckets (jshell, JDK 17)
    assert ",".join(hashmap_order(many)) == (
        "logType,bb,a,ccc,j10,dddd,g7,h8,i9,byteoffset,file,basename,partition,host,차량,topic,"
        "eeeee,ffffff,key,timestamp"
    )


def _roll_conf(out: Path, extra: str = "") -> str:
    return ("a.channels = c\na.sinks = k\na.channels.c.type = memory\n"
            f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
            f"a.sinks.k.sink.rollInterval = 0\na.sinks.k.channel = c\n{extra}")  # fmt: skip


def test_a_batch_a_crash_cut_in_two_is_cut_off_at_the_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 17 item 5: SIGKILL in the middle of a batch's write leaves part of it (cut
    anywhere, here mid-line) at the end of the file; the batch was never committed and comes
    again, so the part is a made-up fragment. The next start cuts it, with a warning. A file a
    running sink writes, and files not named as this sink names them, are left alone."""
    out = tmp_path / "out"
    out.mkdir()
    torn = out / "1796336097842-1"
    torn.write_bytes(b"whole 1\nwhole 2\nhal")
    no_newline = out / "1796336097842-2"
    no_newline.write_bytes(b"one fragment only")
    other = out / "notes.txt"
    other.write_bytes(b"not ours, no newline")
    live = agent_from_text(_roll_conf(out))  # another sink, running, writing its own file
    live.start()
    try:
        put_events(live.channels["c"], [b"live line"])
        sink = of_type(live.sinks["k"], RollingFileSink)
        assert wait_for(lambda: sink._fh is not None)
        assert sink._fh is not None
        live_file = Path(sink._fh.name)
        with open(live_file, "ab") as fh:  # as if it were in the middle of a write
            fh.write(b"mid-wri")
        agent = agent_from_text(_roll_conf(out))
        with caplog.at_level("WARNING"):
            agent.start()
        agent.stop()
    finally:
        live.stop()
    assert torn.read_bytes() == b"whole 1\nwhole 2\n"
    assert no_newline.read_bytes() == b""
    assert other.read_bytes() == b"not ours, no newline"
    assert live_file.read_bytes() == b"live line\nmid-wri"  # its writer holds it
    assert f"{torn} ended with 3 bytes of a batch cut by a crash" in caplog.text


def test_without_newlines_nothing_tells_a_batch_end_so_nothing_is_cut(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "1796336097842-1").write_bytes(b"abc")
    agent = agent_from_text(_roll_conf(out, "a.sinks.k.sink.serializer.appendNewline = false\n"))
    agent.start()
    agent.stop()
    assert (out / "1796336097842-1").read_bytes() == b"abc"
