"""TAILDIR with real files: rotation, restart and SIGKILL without loss, a reused inode read as
a new file, positions on line boundaries (no made-up fragment after SIGKILL), bytes passed
through and CRLF stripped as in Flume, links skipped unless asked, truncation, skipToEnd and
idleTimeout; appends and rotations heard through inotify and, without it, by polling."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from agents.runtime import Agent
from agents.sources import watch
from agents.sources.taildir import TaildirSource
from agents.sources.watch import DirWatch
from tests.agents.agent_helpers import (
    agent_from_text,
    assert_second_agent_refused,
    caught_up,
    lines_in,
    of_type,
    run_agent_process,
    stop_process,
    taildir_conf,
    wait_for,
)


@pytest.fixture(params=["inotify", "polling"])
def watch_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """TAILDIR as it runs on Linux (inotify), and where inotify is missing (it polls)."""
    if request.param == "polling":
        monkeypatch.setattr(watch, "INotify", None)
    return str(request.param)


def watching(agent: Agent) -> bool:
    """Does source t hear of changes through inotify (after its start: it starts in its own
    thread)?"""
    source = agent.sources["t"]
    assert isinstance(source, TaildirSource)
    assert wait_for(lambda: source._watch is not None)
    return source._watch is not None and source._watch.watching


def written(out: Path) -> bytes:
    return b"".join(f.read_bytes() for f in sorted(out.iterdir()))


def positions(state: Path) -> dict[str, int]:
    try:
        return {e["file"]: e["pos"] for e in json.loads((state / "pos.json").read_text())}
    except (FileNotFoundError, ValueError):
        return {}


def test_a_reused_inode_is_read_as_a_new_file(tmp_path: Path) -> None:
    """Issue 10 item 5: the file is deleted while the agent is down and a new one takes its
    inode (ext4 reuses it at once); the new file is read from its start."""
    logdir, out = tmp_path / "logs", tmp_path / "out"
    logdir.mkdir()
    log = logdir / "app.log"
    conf = taildir_conf(str(log), tmp_path, out)
    log.write_bytes(b"".join(b"old %04d\n" % i for i in range(1000)))
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: len(lines_in(out)) == 1000)
    finally:
        agent.stop()
    old_inode = log.stat().st_ino
    log.unlink()
    new = [b"new %04d" % i for i in range(1500)]
    log.write_bytes(b"".join(line + b"\n" for line in new))
    if log.stat().st_ino != old_inode:  # the file system chose another inode: same state
        for state in (tmp_path / "pos.json", tmp_path / "pos.json.fingerprints"):
            entries = json.loads(state.read_text())
            entries[0]["inode"] = log.stat().st_ino
            state.write_text(json.dumps(entries))
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: len(lines_in(out)) >= 2500)
        assert wait_for(lambda: positions(tmp_path).get(str(log)) == log.stat().st_size)
    finally:
        agent.stop()
    assert lines_in(out)[1000:] == new


def test_no_made_up_fragment_after_sigkill_inside_a_long_line(tmp_path: Path) -> None:
    """Issue 10 item 6: positions are saved only at line boundaries, so a restart re-reads the
    whole long line (its pieces may come twice) and never emits a slice of its middle."""
    logdir, out = tmp_path / "logs", tmp_path / "out"
    logdir.mkdir()
    log = logdir / "app.log"
    conf = tmp_path / "t.conf"
    conf.write_text(taildir_conf(str(log), tmp_path, out) + "a.sources.t.maxLineLength = 100\n")
    head = b"a" * 450  # 4 pieces of 100 chars go out before the line ends
    log.write_bytes(b"first\n" + head)
    proc = run_agent_process(conf, "a", tmp_path / "agent.log")
    try:
        assert wait_for(lambda: out.exists() and len(lines_in(out)) >= 2)
        delivered = time.time()
        assert wait_for(lambda: (tmp_path / "pos.json").exists()
                        and (tmp_path / "pos.json").stat().st_mtime > delivered)  # fmt: skip
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert positions(tmp_path)[str(log)] == len(b"first\n"), "a position inside the line"
    with open(log, "ab") as fh:
        fh.write(b"b" * 150 + b"\nnext\n")
    proc = run_agent_process(conf, "a", tmp_path / "agent.log")
    try:
        assert wait_for(lambda: b"next" in lines_in(out))
    finally:
        assert stop_process(proc) == 0
    line = head + b"b" * 150
    pieces = {line[i : i + 100] for i in range(0, len(line), 100)}
    got = lines_in(out)
    assert got[0] == b"first" and got[-1] == b"next"
    assert set(got[1:-1]) <= pieces, f"fragments: {set(got[1:-1]) - pieces}"
    assert got[-7:-1] == [line[i : i + 100] for i in range(0, len(line), 100)]


def test_bytes_pass_through_and_crlf_is_stripped_as_in_flume(tmp_path: Path) -> None:
    """Issue 14 items 2 and 3, golden bytes from Flume 1.11's TAILDIR: a CR before LF is
    stripped, a lone CR stays, invalid UTF-8 passes through unchanged, and a last line without
    a newline waits for it."""
    logdir, out = tmp_path / "logs", tmp_path / "out"
    logdir.mkdir()
    log = logdir / "t.log"
    log.write_bytes(b"crlf\r\nlone\rcr\nbad \xff\xfe bytes\n\xea\xb0\x80ok\nnonl")
    agent = agent_from_text(taildir_conf(str(log), tmp_path, out))
    agent.start()
    try:
        assert wait_for(lambda: out.exists() and written(out).count(b"\n") == 4)
        assert wait_for(lambda: positions(tmp_path).get(str(log)) == 33)
    finally:
        agent.stop()
    assert written(out) == (b"crlf\nlone\rcr\nbad \xff\xfe bytes\n\xea\xb0\x80ok\n")


def test_links_matching_the_pattern_are_skipped_unless_followlinks(tmp_path: Path) -> None:
    """Issue 10 item 7."""
    logdir, out, outside = tmp_path / "logs", tmp_path / "out", tmp_path / "outside"
    logdir.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret\n")
    os.symlink(outside / "secret", logdir / "b.log")
    (logdir / "a.log").write_bytes(b"plain\n")
    conf = taildir_conf(f"{logdir}/.*\\\\.log", tmp_path, out)
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: lines_in(out) == [b"plain"])
        assert wait_for(lambda: str(logdir / "a.log") in positions(tmp_path))
    finally:
        agent.stop()
    assert str(logdir / "b.log") not in positions(tmp_path)
    assert lines_in(out) == [b"plain"]
    agent = agent_from_text(conf + "a.sources.t.followLinks = true\n")
    agent.start()
    try:
        assert wait_for(lambda: sorted(lines_in(out)) == [b"plain", b"secret"])
    finally:
        agent.stop()


def test_truncation_skiptoend_and_idletimeout(tmp_path: Path) -> None:
    """A file truncated in place is read again from its start; skipToEnd starts a new file at
    its end; a file idle for idleTimeout is closed and reopened when it grows."""
    logdir, out = tmp_path / "logs", tmp_path / "out"
    logdir.mkdir()
    old, log = logdir / "old.log", logdir / "app.log"
    old.write_bytes(b"before the agent\n")
    conf = taildir_conf(f"{logdir}/.*\\\\.log", tmp_path, out)
    conf += "a.sources.t.skipToEnd = true\na.sources.t.idleTimeout = 200\n"
    agent = agent_from_text(conf)
    agent.start()
    source = of_type(agent.sources["t"], TaildirSource)
    try:
        assert wait_for(lambda: positions(tmp_path).get(str(old)) == old.stat().st_size)
        log.write_bytes(b"")  # new, empty: followed from its end (0)
        assert wait_for(lambda: str(log) in positions(tmp_path))
        with open(log, "ab") as fh:
            fh.write(b"one\ntwo\n")
        assert wait_for(lambda: lines_in(out) == [b"one", b"two"])
        tail = next(t for t in source._tails.values() if t.path == str(log))
        assert wait_for(lambda: tail.fd is None), "not closed after idleTimeout"
        with open(log, "ab") as fh:
            fh.write(b"three\n")
        assert wait_for(lambda: lines_in(out) == [b"one", b"two", b"three"])
        log.write_bytes(b"x\n")  # copytruncate: shorter than what was read
        assert wait_for(lambda: lines_in(out)[-1:] == [b"x"])
    finally:
        agent.stop()
    assert lines_in(out) == [b"one", b"two", b"three", b"x"]  # "before the agent" skipped


@pytest.mark.parametrize("pattern", ["app\\\\.log.*", "app\\\\.log"],
                         ids=["rotated-name-matches", "rotated-name-does-not-match"])  # fmt: skip
def test_taildir_follows_rotation_without_duplicates_or_loss(
    tmp_path: Path, pattern: str, watch_mode: str
) -> None:
    logdir, out = tmp_path / "logs", tmp_path / "out"
    logdir.mkdir()
    log = logdir / "app.log"
    agent = agent_from_text(taildir_conf(f"{logdir}/{pattern}", tmp_path, out))
    agent.start()
    expected = []
    try:
        assert watching(agent) == (watch_mode == "inotify")
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


def test_taildir_restart_resumes_from_its_position(tmp_path: Path) -> None:
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


def test_taildir_agent_killed_then_restarted_loses_nothing(tmp_path: Path) -> None:
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


def test_taildir_hears_of_a_directory_that_appears_later(tmp_path: Path, watch_mode: str) -> None:
    """The directory is missing at start: the source polls; once it exists it is watched
    (inotify) and the lines of a file created in it arrive, as do later appends."""
    logdir, out = tmp_path / "logs", tmp_path / "out"
    log = logdir / "app.log"
    agent = agent_from_text(taildir_conf(str(log), tmp_path, out))
    agent.start()
    try:
        assert not watching(agent)
        logdir.mkdir()
        log.write_bytes(b"one\ntwo\n")
        assert wait_for(lambda: lines_in(out) == [b"one", b"two"])
        assert wait_for(lambda: watching(agent) == (watch_mode == "inotify"))
        with open(log, "ab") as fh:
            fh.write(b"three\n")
        assert wait_for(lambda: lines_in(out) == [b"one", b"two", b"three"])
    finally:
        agent.stop()


def test_dir_watch_wakes_on_a_change_and_on_interrupt(tmp_path: Path) -> None:
    """wait() returns for a write in a watched directory and for interrupt() from another
    thread; a new name sets names_changed; a missing directory means not watching."""
    (tmp_path / "d").mkdir()
    dw = DirWatch([str(tmp_path / "d"), str(tmp_path / "missing")])
    try:
        dw.renew()
        watching = [dw.watching]
        (tmp_path / "missing").mkdir()
        dw.renew()
        watching.append(dw.watching)
        assert watching == [False, True] and dw.names_changed  # a scan is due: files may have come
        dw.drain()
        dw.names_changed = False
        (tmp_path / "d" / "f").write_bytes(b"x\n")  # created: a new name
        began = time.monotonic()
        dw.wait(60)
        assert time.monotonic() - began < 30  # woken by the change, not the timeout
        dw.drain()
        assert dw.names_changed
        dw.names_changed = False
        with open(tmp_path / "d" / "f", "ab") as fh:  # a write: no new name
            fh.write(b"y\n")
        dw.wait(60)
        dw.drain()
        assert not dw.names_changed
        threading.Timer(0.05, dw.interrupt).start()
        began = time.monotonic()
        dw.wait(60)
        assert time.monotonic() - began < 30
    finally:
        dw.close()


def test_a_second_agent_on_the_position_file_stops_and_a_killed_ones_lock_does_not_block(
    tmp_path: Path,
) -> None:
    """Issue 17 item 3, TAILDIR: the second agent on one position file exits 1 naming the
    first's pid instead of delivering everything again; a SIGKILLed agent's lock is gone."""
    logdir, out = tmp_path / "logs", tmp_path / "out"
    logdir.mkdir()
    log = logdir / "app.log"
    log.write_bytes(b"".join(b"line %d\n" % i for i in range(1000)))
    conf = tmp_path / "t.conf"
    conf.write_text(taildir_conf(str(log), tmp_path, out))
    lock = tmp_path / "pos.json.lock"
    holder = run_agent_process(conf, "a", tmp_path / "first.log")
    try:
        text = assert_second_agent_refused(conf, holder, lock, tmp_path / "second.log")
        assert f"position file {tmp_path / 'pos.json'} is in use" in text
        assert wait_for(lambda: caught_up(tmp_path).get(str(log)) == log.stat().st_size)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with open(log, "ab") as fh:
        fh.write(b"after the kill\n")
    third = run_agent_process(conf, "a", tmp_path / "third.log")
    try:
        assert wait_for(lambda: b"after the kill" in lines_in(out))
    finally:
        assert stop_process(third) == 0
    assert sorted(lines_in(out)) == sorted([b"line %d" % i for i in range(1000)]
                                           + [b"after the kill"])  # fmt: skip


def test_positions_are_fsynced_at_stop_not_on_the_reading_thread_between(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The periodic position writes run on the reading thread: an fsync there stalled every
    line behind it on a busy disk (35 ms to 1.2 s in `python -m bench trace`), so they are not
    fsynced (Flume's are not either); the write at stop is, and a restart resumes from it."""
    logdir, out = tmp_path / "logs", tmp_path / "out"
    logdir.mkdir()
    log = logdir / "app.log"
    log.write_bytes(b"one\ntwo\n")
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    conf = taildir_conf(str(log), tmp_path, out)  # writePosInterval = 100 ms
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: positions(tmp_path).get(str(log)) == 8)
        with open(log, "ab") as fh:
            fh.write(b"three\n")
        assert wait_for(lambda: positions(tmp_path).get(str(log)) == 14)
        assert not [p for p in synced if "pos.json" in p]
    finally:
        agent.stop()
    assert [p for p in synced if p.endswith("pos.json.tmp")]
    assert positions(tmp_path) == {str(log): 14}
