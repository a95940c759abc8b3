"""spooldir with real files: the tracker cannot be forged, state writes survive a re-created
spool dir, long lines are split as Flume splits them, links are not followed unless asked,
and a spool dir that does not exist yet is waited for."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.agents.agent_helpers import agent_from_text, lines_in, wait_for
from tests.agents.test_sources import BOOK_FILTER, spool_conf


def test_a_forged_tracker_cannot_make_the_source_read_or_move_a_file_outside(tmp_path: Path):
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


def test_a_spool_dir_recreated_while_running_delivers_each_file_once(tmp_path: Path):
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
        source = agent.sources["s"]
        scans = source.scans
        assert wait_for(lambda: source.scans >= scans + 3)  # it looked again, and again
    finally:
        agent.stop()
    assert lines_in(out) == [b"first", b"one line"]


def test_long_multibyte_lines_are_split_on_characters_and_the_file_is_not_rejected(
    tmp_path: Path,
):
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
            assert wait_for(lambda spool=spool: (spool / "k.txt.COMPLETED").exists()), policy
        finally:
            agent.stop()
        got = lines_in(out)
        assert got == [korean[:2048].encode(), korean[2048:].encode(), b"after"], policy


def test_over_long_lines_become_several_events_as_in_flume(tmp_path: Path):
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
    source = agent.sources["s"]
    assert source.counters.get("EventReceivedCount") == 7
    assert source.counters.get("LineSplitCount") == 2


def test_links_in_the_spool_dir_are_skipped_unless_followlinks(tmp_path: Path):
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
        source = agent.sources["s"]
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


def test_a_spool_dir_that_appears_later_is_read(tmp_path: Path):
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


def test_flume_counters_keep_flumes_meaning(tmp_path: Path):
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
