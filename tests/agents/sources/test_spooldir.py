"""spooldir with real files: reading and filtering, bad input set aside, resume after SIGKILL,
a tracker that cannot be forged, state writes that survive a re-created spool dir, long lines
split as Flume splits them, links not followed unless asked, a spool dir that appears later."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from agents.sources.spooldir import SpoolDirSource
from tests.agents.agent_helpers import (
    BOOK_FILTER,
    SLOW_SINK,
    agent_from_text,
    assert_second_agent_refused,
    lines_in,
    of_type,
    run_agent_process,
    run_as_nobody,
    spool_conf,
    stop_process,
    wait_for,
)


def test_a_forged_tracker_cannot_make_the_source_read_or_move_a_file_outside(
    tmp_path: Path,
) -> None:
    """Issue 10 item 1: the tracker names a file outside the spool dir (same inode, offset 0)."""
    spool, out, outside = tmp_path / "spool", tmp_path / "out", tmp_path / "outside"
    spool.mkdir()
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_bytes(b"secret line\n")
    st = secret.stat()
    tracker = spool / ".flumespool"
    tracker.mkdir()
    (tracker / ".flumespool-main.meta").write_text(json.dumps(
        {"file": str(secret), "inode": st.st_ino, "size": st.st_size,
         "mtime_ns": st.st_mtime_ns, "offset": 0}))  # fmt: skip
    (spool / "ok.txt").write_bytes(b"ok\n")
    conf = spool_conf(spool, out, "a.sources.s.deletePolicy = immediate\n")
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: not (spool / "ok.txt").exists())
        assert wait_for(lambda: lines_in(out) == [b"ok"])
    finally:
        agent.stop()
    assert secret.read_bytes() == b"secret line\n", "a file outside the spool dir was touched"
    assert lines_in(out) == [b"ok"], "a file outside the spool dir was shipped"


def test_a_spool_dir_recreated_while_running_delivers_each_file_once(tmp_path: Path) -> None:
    """Issue 10 item 3: the tracker dir vanishes with the spool dir; the file is read once."""
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    agent = agent_from_text(spool_conf(spool, out))
    agent.start()
    try:
        (spool / "first.txt").write_bytes(b"first\n")
        assert wait_for(lambda: (spool / "first.txt.COMPLETED").exists())
        for f in spool.iterdir():
            if f.is_dir():
                for g in f.iterdir():
                    g.unlink()
                f.rmdir()
            else:
                f.unlink()
        spool.rmdir()
        spool.mkdir()
        (spool / "one.txt").write_bytes(b"one line\n")
        assert wait_for(lambda: (spool / "one.txt.COMPLETED").exists())
        source = of_type(agent.sources["s"], SpoolDirSource)
        scans = source.scans
        assert wait_for(lambda: source.scans >= scans + 3)  # it looked again, and again
    finally:
        agent.stop()
    assert lines_in(out) == [b"first", b"one line"]


def test_long_multibyte_lines_are_split_on_characters_and_the_file_is_not_rejected(
    tmp_path: Path,
) -> None:
    """Issue 10 item 4 / issue 14 item 1: maxLineLength counts characters, as Flume's does;
    a valid UTF-8 line of 3,000 Hangul syllables (9,000 bytes) is split, never cut inside a
    character, so FAIL does not reject the file and REPLACE adds no U+FFFD."""
    korean = "20160101000005," + "가" * 3000
    for policy in ("FAIL", "REPLACE"):
        spool, out = tmp_path / policy / "spool", tmp_path / policy / "out"
        spool.mkdir(parents=True)
        (spool / "k.txt").write_bytes((korean + "\nafter\n").encode())
        extra = f"a.sources.s.decodeErrorPolicy = {policy}\n"
        agent = agent_from_text(spool_conf(spool, out, extra))
        agent.start()
        try:
            assert wait_for((spool / "k.txt.COMPLETED").exists), policy
        finally:
            agent.stop()
        got = lines_in(out)
        assert got == [korean[:2048].encode(), korean[2048:].encode(), b"after"], policy


def test_over_long_lines_become_several_events_as_in_flume(tmp_path: Path) -> None:
    """Issue 14 item 1, golden values from Flume 1.11's LineDeserializer (maxLineLength 2048
    characters): a 5,015-char line gives 2048 + 2048 + 919, a 3,015-char line 2048 + 967;
    nothing is thrown away."""
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    long1 = b"20160101000002," + b"x" * 5000
    long2 = b"20160101000003," + b"y" * 3000
    (spool / "f.txt").write_bytes(b"a\n" + long1 + b"\n" + long2 + b"\nb\n")
    agent = agent_from_text(spool_conf(spool, out))
    agent.start()
    try:
        assert wait_for(lambda: (spool / "f.txt.COMPLETED").exists())
    finally:
        agent.stop()
    got = lines_in(out)
    assert [len(x) for x in got] == [1, 2048, 2048, 919, 2048, 967, 1]
    assert b"".join(got) == b"a" + long1 + long2 + b"b"
    source = of_type(agent.sources["s"], SpoolDirSource)
    assert source.counters.get("EventReceivedCount") == 7
    assert source.counters.get("LineSplitCount") == 2


def test_links_in_the_spool_dir_are_skipped_unless_followlinks(tmp_path: Path) -> None:
    """Issue 10 item 7: a link to a file outside is not read (and logged); with followLinks the
    target is read and the link, not the target, is renamed."""
    spool, out, outside = tmp_path / "spool", tmp_path / "out", tmp_path / "outside"
    spool.mkdir()
    outside.mkdir()
    (outside / "target.txt").write_bytes(b"through the link\n")
    os.symlink(outside / "target.txt", spool / "link.txt")
    (spool / "plain.txt").write_bytes(b"plain\n")
    agent = agent_from_text(spool_conf(spool, out))
    agent.start()
    try:
        assert wait_for(lambda: (spool / "plain.txt.COMPLETED").exists())
        source = of_type(agent.sources["s"], SpoolDirSource)
        scans = source.scans
        assert wait_for(lambda: source.scans >= scans + 2)
    finally:
        agent.stop()
    assert lines_in(out) == [b"plain"]
    assert (spool / "link.txt").is_symlink()
    agent = agent_from_text(spool_conf(spool, out, "a.sources.s.followLinks = true\n"))
    agent.start()
    try:
        assert wait_for(lambda: (spool / "link.txt.COMPLETED").is_symlink())
    finally:
        agent.stop()
    assert (outside / "target.txt").read_bytes() == b"through the link\n"
    assert lines_in(out) == [b"plain", b"through the link"]


def test_a_spool_dir_that_appears_later_is_read(tmp_path: Path) -> None:
    """Issue 14 item 5: as Flume, the source retries until the directory exists."""
    spool, out = tmp_path / "later", tmp_path / "out"
    agent = agent_from_text(spool_conf(spool, out))
    assert "s" in agent.sources, "the source was dropped because its directory is missing"
    agent.start()
    try:
        assert wait_for(lambda: agent.health(agent.sources["s"]).startswith("retrying"))
        spool.mkdir()
        (spool / "f.txt").write_bytes(b"hello\n")
        assert wait_for(lambda: (spool / "f.txt.COMPLETED").exists(), timeout=30)
    finally:
        agent.stop()
    assert lines_in(out) == [b"hello"]


def test_flume_counters_keep_flumes_meaning(tmp_path: Path) -> None:
    """Issue 14 item 6: a source's EventAcceptedCount counts events before its interceptors
    (Flume 1.11 shows 108,010 for the book's 108,010-line file); ours, EventForwardedCount,
    counts what passed them."""
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    records = [b"20160101%06d,K0001,1" % i for i in range(500)]
    lines = [b"SmartCar Status Information,CarNum", *records, b"garbage"]
    (spool / "day.txt").write_bytes(b"\n".join(lines) + b"\n")
    agent = agent_from_text(spool_conf(spool, out, BOOK_FILTER))
    agent.start()
    try:
        assert wait_for(lambda: (spool / "day.txt.COMPLETED").exists())
    finally:
        agent.stop()
    c = agent.sources["s"].counters
    assert c.get("EventReceivedCount") == c.get("EventAcceptedCount") == len(lines)
    assert c.get("EventForwardedCount") == len(records)
    assert agent.channels["c"].counters.get("EventPutSuccessCount") == len(records)


def test_spooldir_reads_filters_and_renames(tmp_path: Path) -> None:
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


def test_spooldir_bad_input_is_reported_and_set_aside(tmp_path: Path) -> None:
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


def test_decode_error_policies_replace_and_ignore(tmp_path: Path) -> None:
    for policy, expected in (("REPLACE", "bad \ufffd\ufffd".encode()), ("IGNORE", b"bad ")):
        spool, out = tmp_path / policy / "spool", tmp_path / policy / "out"
        spool.mkdir(parents=True)
        (spool / "f.txt").write_bytes(b"ok\nbad \xff\xfe\n")
        extra = f"a.sources.s.decodeErrorPolicy = {policy}\n"
        agent = agent_from_text(spool_conf(spool, out, extra))
        agent.start()
        try:

            def both(where: Path = out) -> bool:
                return len(lines_in(where)) == 2

            assert wait_for(both)
        finally:
            agent.stop()
        assert lines_in(out) == [b"ok", expected]


def test_spooldir_killed_mid_file_resumes_without_loss(tmp_path: Path) -> None:
    """SIGKILL mid-file, restart: every line arrives, and exactly the lines delivered after
    the recorded position come twice.

    Issue 17 item 5: this failed once in a full run (30 s after COMPLETED, the output did not
    hold exactly the 400,000 lines). Not a short wait: the source marks a file COMPLETED only
    once a sink committed every line, so all are in the output by then (checked 20 times under
    CPU and fsync load: none missing at that moment). Not lost lines either: the tracker only
    moves for committed lines. A SIGKILL that lands inside the sink's write() leaves part of
    an uncommitted batch at the end of the file (the kernel stops the copy where it is), a
    fragment that matches no record, so the count of distinct lines never came right. file_roll
    now cuts such a tail at start; here the kill's torn write is made certain, not left to a
    ~1 % chance."""
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    records = [b"%014d,%s" % (i, b"y" * 60) for i in range(400_000)]
    (spool / "big.txt").write_bytes(b"\n".join(records) + b"\n")
    conf = tmp_path / "a.conf"
    conf.write_text(spool_conf(spool, out, capacity=20000))
    proc = run_agent_process(conf, "a", tmp_path / "agent.log")
    assert wait_for(lambda: out.exists() and len(lines_in(out)) > 50_000, timeout=120)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (spool / "big.txt.COMPLETED").exists(), "killed before the end: test too slow"
    delivered_at_kill = len(lines_in(out))
    meta = json.loads((spool / ".flumespool" / ".flumespool-main.meta").read_text())
    recorded = meta["offset"] // 76  # lines of 75 bytes + newline before the tracked offset
    (written,) = out.iterdir()
    with open(written, "ab") as fh:  # what a kill inside write() leaves: half a line
        fh.write(records[delivered_at_kill][:33])
    proc = run_agent_process(conf, "a", tmp_path / "agent.log")
    try:
        assert wait_for(lambda: (spool / "big.txt.COMPLETED").exists(), timeout=300)
        assert wait_for(lambda: len(lines_in(out)) >= len(records), timeout=60)
    finally:
        assert stop_process(proc) == 0
    got = lines_in(out)
    assert set(got) == set(records)
    # exactly the lines delivered after the recorded position come twice
    assert len(got) - len(records) == delivered_at_kill - recorded
    assert "ended with 33 bytes of a batch cut by a crash" in (tmp_path / "agent.log").read_text()


def test_file_modified_after_pickup_is_set_aside_and_the_source_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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


def test_unreadable_file_is_set_aside(tmp_path: Path) -> None:
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


def test_a_file_still_being_written_is_not_picked_up(tmp_path: Path) -> None:
    """FLUME-2866: a writer that appends slowly; the file is read once, whole, when it holds
    still for readyAfter (never half-read, never rejected as modified)."""
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    conf = spool_conf(spool, out).replace("readyAfter = 100", "readyAfter = 700")
    agent = agent_from_text(conf)
    agent.start()
    source = of_type(agent.sources["s"], SpoolDirSource)
    expected = []
    try:
        with open(spool / "growing.txt", "ab") as fh:
            for i in range(15):
                line = b"20160101%06d,K0001" % i
                expected.append(line)
                fh.write(line + b"\n")
                fh.flush()

                def looked_twice(before: int = source.scans) -> bool:
                    return source.scans >= before + 2  # it looked twice more at the growing file

                assert wait_for(looked_twice)
                assert not out.exists() or not lines_in(out), "read while still written"
        assert wait_for(lambda: (spool / "growing.txt.COMPLETED").exists())
    finally:
        agent.stop()
    assert lines_in(out) == expected
    assert not (spool / "growing.txt.REJECTED").exists()


def test_a_second_agent_on_the_spool_dir_stops_and_a_killed_ones_lock_does_not_block(
    tmp_path: Path,
) -> None:
    """Issue 17 item 3: two agents on one spool dir delivered every line twice. The second
    exits 1 naming the first's pid; after the first is SIGKILLed, its lock file (left on
    disk) does not stop the next agent, and no line arrives twice."""
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    first = [b"a%d" % i for i in range(1000)]
    (spool / "a.txt").write_bytes(b"\n".join(first) + b"\n")
    conf = tmp_path / "a.conf"
    conf.write_text(spool_conf(spool, out))
    lock = spool / ".flumespool" / "in_use.lock"
    holder = run_agent_process(conf, "a", tmp_path / "first.log")
    try:
        text = assert_second_agent_refused(conf, holder, lock, tmp_path / "second.log")
        assert f"spool directory {spool} is in use" in text
        assert wait_for(lambda: (spool / "a.txt.COMPLETED").exists())
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock.exists()  # left behind by the killed agent: no obstacle
    (spool / "b.txt").write_bytes(b"b\n")
    third = run_agent_process(conf, "a", tmp_path / "third.log")
    try:
        assert wait_for(lambda: (spool / "b.txt.COMPLETED").exists())
    finally:
        assert stop_process(third) == 0
    assert sorted(lines_in(out)) == sorted([*first, b"b"])
