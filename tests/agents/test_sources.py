"""Sources with real files and processes: spooldir, TAILDIR, exec, and channel backpressure."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from tests.agents.agent_helpers import (
    agent_from_text,
    lines_in,
    run_agent_process,
    run_as_nobody,
    stop_process,
    wait_for,
)

SLOW_SINK = (
    "import time\nfrom agents.sinks.simple import RollingFileSink\n"
    "class Slow(RollingFileSink):\n"
    "    def write(self, batch):\n"
    "        time.sleep(0.01)\n"
    "        super().write(batch)\n"
)


BOOK_FILTER = (
    "a.sources.s.interceptors = f\na.sources.s.interceptors.f.type = regex_filter\n"
    "a.sources.s.interceptors.f.regex = ^\\\\d{14}\n"
)


def spool_conf(spool: Path, out: Path, extra: str = "", capacity: int = 100000) -> str:
    return (
        "a.sources = s\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\n"
        "a.sources.s.readyAfter = 100\na.sources.s.pollDelay = 50\na.sources.s.batchSize = 100\n"
        f"a.sources.s.channels = c\n{extra}"
        f"a.channels.c.type = memory\na.channels.c.capacity = {capacity}\n"
        "a.channels.c.transactionCapacity = 1000\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.rollInterval = 0\na.sinks.k.batchSize = 1000\na.sinks.k.channel = c\n"
    )


def test_spooldir_reads_filters_and_renames(tmp_path: Path):
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    records = [b"20160101%06d,K0001,1" % i for i in range(5000)]
    (spool / "day.txt").write_bytes(b"SmartCar Status Information,CarNum\n" + b"\n".join(records))
    (spool / ".hidden.tmp").write_bytes(b"20160101000000,never read\n")
    agent = agent_from_text(spool_conf(spool, out, BOOK_FILTER))
    agent.start()
    try:
        assert wait_for(lambda: (spool / "day.txt.COMPLETED").exists())
        assert wait_for(lambda: len(lines_in(out)) == 5000)
    finally:
        agent.stop()
    assert lines_in(out) == records  # every record, in order, header filtered, last line kept
    assert (spool / ".hidden.tmp").exists()


def test_spooldir_bad_input_is_reported_and_set_aside(tmp_path: Path):
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    (spool / "bad-utf8.txt").write_bytes(b"good1\nbad \xff\xfe here\ngood2\n")
    (spool / "empty.txt").write_bytes(b"")
    (spool / "huge.txt").write_bytes(b"x" * (10 << 20) + b"\nafter\n")
    agent = agent_from_text(spool_conf(spool, out))
    agent.start()
    try:
        assert wait_for(lambda: (spool / "bad-utf8.txt.REJECTED").exists())
        assert wait_for(lambda: (spool / "empty.txt.COMPLETED").exists())
        assert wait_for(lambda: (spool / "huge.txt.COMPLETED").exists())
        # a second file with a consumed name is set aside, and the source keeps going
        (spool / "empty.txt").write_bytes(b"again\n")
        assert wait_for(lambda: (spool / "empty.txt.REJECTED").exists())
        (spool / "later.txt").write_bytes(b"later\n")
        assert wait_for(lambda: (spool / "later.txt.COMPLETED").exists())
        assert wait_for(lambda: b"later" in lines_in(out))
    finally:
        agent.stop()
    got = lines_in(out)
    assert b"good1" in got and b"good2" not in got  # FAIL: lines before the bad one only
    assert b"x" * 2048 in got and b"after" in got  # the 10 MB line cut to maxLineLength
    assert max(map(len, got)) == 2048


def test_decode_error_policies_replace_and_ignore(tmp_path: Path):
    for policy, expected in (("REPLACE", "bad \ufffd\ufffd".encode()), ("IGNORE", b"bad ")):
        spool, out = tmp_path / policy / "spool", tmp_path / policy / "out"
        spool.mkdir(parents=True)
        (spool / "f.txt").write_bytes(b"ok\nbad \xff\xfe\n")
        extra = f"a.sources.s.decodeErrorPolicy = {policy}\n"
        agent = agent_from_text(spool_conf(spool, out, extra))
        agent.start()
        try:
            assert wait_for(lambda out=out: len(lines_in(out)) == 2)
        finally:
            agent.stop()
        assert lines_in(out) == [b"ok", expected]


def test_spooldir_killed_mid_file_resumes_without_loss(tmp_path: Path):
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    records = [b"%014d,%s" % (i, b"y" * 60) for i in range(400_000)]
    (spool / "big.txt").write_bytes(b"\n".join(records) + b"\n")
    conf = tmp_path / "a.conf"
    conf.write_text(spool_conf(spool, out, capacity=20000))
    proc = run_agent_process(conf, "a", tmp_path / "agent.log")
    assert wait_for(lambda: out.exists() and len(lines_in(out)) > 50_000, timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (spool / "big.txt.COMPLETED").exists(), "killed before the end: test too slow"
    delivered_at_kill = len(lines_in(out))
    meta = json.loads((spool / ".flumespool" / ".flumespool-main.meta").read_text())
    recorded = meta["offset"] // 76  # lines of 75 bytes + newline before the tracked offset
    proc = run_agent_process(conf, "a", tmp_path / "agent.log")
    try:
        assert wait_for(lambda: (spool / "big.txt.COMPLETED").exists(), timeout=90)
        assert wait_for(lambda: len(set(lines_in(out))) == len(records), timeout=30)
    finally:
        assert stop_process(proc) == 0
    got = lines_in(out)
    assert set(got) == set(records)
    # exactly the lines delivered after the recorded position come twice
    assert len(got) - len(records) == delivered_at_kill - recorded


def caught_up(state: Path) -> dict[str, int]:
    """The position file, if every file in it is read and committed to its end."""
    try:
        entries = json.loads((state / "pos.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    done = {e["file"]: e["pos"] for e in entries}
    ok = all(os.path.exists(f) and os.path.getsize(f) == pos for f, pos in done.items())
    return done if ok else {}


def taildir_conf(pattern: str, state: Path, out: Path) -> str:
    return (
        "a.sources = t\na.channels = c\na.sinks = k\n"
        "a.sources.t.type = TAILDIR\na.sources.t.filegroups = g\n"
        f"a.sources.t.filegroups.g = {pattern}\na.sources.t.positionFile = {state}/pos.json\n"
        "a.sources.t.writePosInterval = 100\na.sources.t.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 10000\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.rollInterval = 0\na.sinks.k.channel = c\n"
    )


@pytest.mark.parametrize("pattern", ["app\\\\.log.*", "app\\\\.log"],
                         ids=["rotated-name-matches", "rotated-name-does-not-match"])  # fmt: skip
def test_taildir_follows_rotation_without_duplicates_or_loss(tmp_path: Path, pattern: str):
    logdir, out = tmp_path / "logs", tmp_path / "out"
    logdir.mkdir()
    log = logdir / "app.log"
    agent = agent_from_text(taildir_conf(f"{logdir}/{pattern}", tmp_path, out))
    agent.start()
    expected = []
    try:
        for round_ in range(3):
            for i in range(100):
                with open(log, "ab") as fh:
                    line = b"r%d-%d" % (round_, i)
                    expected.append(line)
                    fh.write(line + b"\n")
                if i == 0:  # the agent follows this file before the rest is written
                    assert wait_for(lambda: len(lines_in(out)) == len(expected))
            if round_ % 2:  # rotate before the agent read the rest, and after
                assert wait_for(lambda: len(lines_in(out)) == len(expected))
            os.rename(log, logdir / f"app.log.{round_ + 1}")
        with open(log, "ab") as fh:
            fh.write(b"final\n")
        expected.append(b"final")
        assert wait_for(lambda: len(lines_in(out)) >= len(expected))
        # everything read and committed: each file followed has its position at its end
        assert wait_for(lambda: caught_up(tmp_path) and str(log) in caught_up(tmp_path))
    finally:
        agent.stop()
    assert sorted(lines_in(out)) == sorted(expected)


def test_taildir_restart_resumes_from_its_position(tmp_path: Path):
    logdir, out = tmp_path / "logs", tmp_path / "out"
    logdir.mkdir()
    log = logdir / "app.log"
    conf = taildir_conf(str(log), tmp_path, out)
    log.write_bytes(b"one\ntwo\n")
    agent = agent_from_text(conf)
    agent.start()
    assert wait_for(lambda: len(lines_in(out)) == 2)
    agent.stop()
    with open(log, "ab") as fh:
        fh.write(b"three\n")
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: len(lines_in(out)) == 3)
    finally:
        agent.stop()
    assert lines_in(out) == [b"one", b"two", b"three"]


def test_full_channel_slows_the_source_and_drops_nothing(tmp_path: Path, monkeypatch):
    """A sink slower than the source: the channel (capacity 50) fills, the source waits."""
    (tmp_path / "slow_sink.py").write_text(SLOW_SINK)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    conf = (
        "a.sources = x\na.channels = c\na.sinks = k\n"
        "a.sources.x.type = exec\na.sources.x.command = seq 1 3000\na.sources.x.batchSize = 20\n"
        "a.sources.x.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 50\n"
        "a.channels.c.transactionCapacity = 20\na.channels.c.keep-alive = 0\n"
        f"a.sinks.k.type = slow_sink.Slow\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.rollInterval = 0\na.sinks.k.batchSize = 10\na.sinks.k.channel = c\n"
    )
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: len(lines_in(out)) == 3000, timeout=60)
    finally:
        agent.stop()
    assert lines_in(out) == [str(i).encode() for i in range(1, 3001)]
    source = agent.sources["x"]
    assert source.counters.get("ChannelWriteFail") > 0, "the channel never filled up"
    assert source.counters.get("EventAcceptedCount") == 3000


def test_file_modified_after_pickup_is_set_aside_and_the_source_goes_on(
    tmp_path: Path, monkeypatch
):
    (tmp_path / "slow_sink2.py").write_text(SLOW_SINK)
    monkeypatch.syspath_prepend(str(tmp_path))
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    (spool / "a.txt").write_bytes(b"".join(b"%d\n" % i for i in range(3000)))
    conf = (
        spool_conf(spool, out, capacity=50)
        .replace("a.sinks.k.type = file_roll", "a.sinks.k.type = slow_sink2.Slow")
        .replace("a.sinks.k.batchSize = 1000", "a.sinks.k.batchSize = 10")
    )
    conf = conf.replace(
        "a.channels.c.transactionCapacity = 1000", "a.channels.c.transactionCapacity = 50"
    )
    conf = conf.replace("a.sources.s.batchSize = 100", "a.sources.s.batchSize = 50")
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: out.exists() and len(lines_in(out)) > 100)
        with open(spool / "a.txt", "ab") as fh:
            fh.write(b"appended after pickup\n")
        assert wait_for(lambda: (spool / "a.txt.REJECTED").exists(), timeout=60)
        (spool / "b.txt").write_bytes(b"next\n")
        assert wait_for(lambda: (spool / "b.txt.COMPLETED").exists(), timeout=30)
    finally:
        agent.stop()
    errors = " ".join(agent.sources["s"].counters.errors)
    assert "modified after it was picked up" in errors
    got = lines_in(out)
    assert got[:3000] == [b"%d" % i for i in range(3000)] and got[-1] == b"next"


def test_unreadable_file_is_set_aside(tmp_path: Path):
    """A file the agent may not read is set aside, and the source goes on. Root reads any file,
    so as root (this machine, CI) the agent runs as user nobody, in a forked child."""
    base = Path(tempfile.mkdtemp(prefix="unreadable-"))  # under /tmp: nobody can reach it
    try:
        spool, out = base / "spool", base / "out"
        spool.mkdir()
        secret = spool / "secret.txt"
        secret.write_bytes(b"x\n")
        (spool / "ok.txt").write_bytes(b"ok\n")
        agent = agent_from_text(spool_conf(spool, out))

        def run() -> bool:
            agent.start()
            try:
                return wait_for(lambda: (spool / "secret.txt.REJECTED").exists()) and wait_for(
                    lambda: (spool / "ok.txt.COMPLETED").exists()
                )
            finally:
                agent.stop()

        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for path in (base, spool, spool / "ok.txt"):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            secret.chmod(0o600)  # root's own: nobody may not read it
            assert run_as_nobody(run)
        else:
            secret.chmod(0)
            assert run()
        assert lines_in(out) == [b"ok"]
        assert (spool / "secret.txt.REJECTED").exists()
    finally:
        shutil.rmtree(base)


def test_taildir_agent_killed_then_restarted_loses_nothing(tmp_path: Path):
    logdir, out = tmp_path / "logs", tmp_path / "out"
    logdir.mkdir()
    log = logdir / "app.log"
    conf = tmp_path / "t.conf"
    conf.write_text(taildir_conf(str(log), tmp_path, out))
    written = [b"%014d,K0001" % i for i in range(200_000)]
    log.write_bytes(b"".join(line + b"\n" for line in written[:100_000]))
    proc = run_agent_process(conf, "a", tmp_path / "agent.log")
    assert wait_for(lambda: out.exists() and len(lines_in(out)) > 10_000, timeout=60)
    with open(log, "ab") as fh:  # more lines while it runs
        fh.write(b"".join(line + b"\n" for line in written[100_000:150_000]))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    delivered_at_kill = len(lines_in(out))
    posfile = tmp_path / "pos.json"  # may not be written yet: then everything is read again
    recorded = json.loads(posfile.read_text())[0]["pos"] // 21 if posfile.exists() else 0
    with open(log, "ab") as fh:  # and while it is down
        fh.write(b"".join(line + b"\n" for line in written[150_000:]))
    proc = run_agent_process(conf, "a", tmp_path / "agent.log")
    try:
        assert wait_for(lambda: len(set(lines_in(out))) == len(written), timeout=90)
    finally:
        assert stop_process(proc) == 0
    got = lines_in(out)
    assert set(got) == set(written)
    # exactly the lines delivered after the last recorded position come twice
    assert len(got) - len(written) == delivered_at_kill - recorded


def test_a_component_that_fails_to_start_is_retried(tmp_path: Path, monkeypatch):
    (tmp_path / "flaky_sink.py").write_text(
        "from agents.sinks.simple import RollingFileSink\n"
        "class Flaky(RollingFileSink):\n"
        "    attempts = 0\n"
        "    def start(self):\n"
        "        type(self).attempts += 1\n"
        "        if type(self).attempts < 3:\n"
        "            raise OSError('destination not reachable yet')\n"
        "        super().start()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    agent = agent_from_text(
        "a.sources = x\na.channels = c\na.sinks = k\n"
        "a.sources.x.type = exec\na.sources.x.command = seq 1 100\na.sources.x.channels = c\n"
        "a.channels.c.type = memory\n"
        f"a.sinks.k.type = flaky_sink.Flaky\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.channel = c\n"
    )
    agent.start()
    try:
        sink = agent.sinks["k"]
        assert agent.health(sink).startswith("retrying: destination not reachable yet")
        assert wait_for(lambda: out.exists() and len(lines_in(out)) == 100, timeout=30)
        assert agent.health(sink) == "running"
    finally:
        agent.stop()


def test_a_file_still_being_written_is_not_picked_up(tmp_path: Path):
    """FLUME-2866: a writer that appends slowly; the file is read once, whole, when it holds
    still for readyAfter (never half-read, never rejected as modified)."""
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    conf = spool_conf(spool, out).replace("readyAfter = 100", "readyAfter = 700")
    agent = agent_from_text(conf)
    agent.start()
    source = agent.sources["s"]
    expected = []
    try:
        with open(spool / "growing.txt", "ab") as fh:
            for i in range(15):
                line = b"20160101%06d,K0001" % i
                expected.append(line)
                fh.write(line + b"\n")
                fh.flush()
                scans = source.scans  # the source looks twice more at the growing file
                assert wait_for(lambda scans=scans: source.scans >= scans + 2)
                assert not out.exists() or not lines_in(out), "read while still written"
        assert wait_for(lambda: (spool / "growing.txt.COMPLETED").exists())
    finally:
        agent.stop()
    assert lines_in(out) == expected
    assert not (spool / "growing.txt.REJECTED").exists()
