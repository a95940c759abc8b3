"""The file channel's engine on real files: replay, damage, checkpoints, disk limits, SIGKILL."""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.channels.filelog import (
    DiskSpaceError,
    FileChannelConfig,
    FileChannelIOError,
    FileChannelLockedError,
    FileChannelStore,
)
from agents.channels.filelog._checkpoint import NAME as CHECKPOINT
from agents.errors import ChannelFullError, ConfigError
from agents.event import EventBatch
from tests.agents.agent_helpers import tmpfs
from tests.agents.channels.filelog_writer import config as writer_config

WRITER = Path(__file__).with_name("filelog_writer.py")
ROOT = Path(__file__).resolve().parents[3]


def cfg(root: Path, **kw: Any) -> FileChannelConfig:
    base = FileChannelConfig(root / "cp", (root / "data",), capacity=100_000,
                             transaction_capacity=10_000, minimum_required_space=0,
                             checkpoint_interval=3600.0, keep_alive=0.1)  # fmt: skip
    return dataclasses.replace(base, **kw)


def bodies(first: int, n: int) -> list[bytes]:
    return [b"%09d-" % i + b"x" * 90 for i in range(first, first + n)]


def put(store: FileChannelStore, first: int, n: int, **headers: str) -> None:
    with store.transaction() as tx:
        tx.put(EventBatch(bodies(first, n), dict(headers)))
        tx.commit()


def ids(batch: EventBatch) -> list[int]:
    return [int(b[:9]) for b in batch.bodies]


def live_ids(store: FileChannelStore) -> list[int]:
    """Every stored event's id, in order, taken and rolled back (the store is unchanged)."""
    with store.transaction() as tx:
        got = tx.take(store.config.transaction_capacity)
        tx.rollback()
    return ids(got)


def segment_files(root: Path) -> list[Path]:
    return sorted(p for d in (root / "data", root / "data1", root / "data2") if d.exists()
                  for p in d.glob("seg-*.log"))  # fmt: skip


def test_round_trip_order_headers_rollback_and_reopen(tmp_path: Path) -> None:
    with FileChannelStore(cfg(tmp_path)) as store:
        put(store, 0, 500, car="A01")
        with store.transaction() as tx:  # per-event headers survive too
            tx.put(EventBatch(bodies(500, 3), {"c": "1"}, [{"i": "0"}, {}, {"i": "2"}]))
            tx.commit()
        with store.transaction() as tx:
            first = tx.take(200)
            tx.rollback()  # back to the head, in order
        assert ids(first) == list(range(200)) and first.common == {"car": "A01"}
        with store.transaction() as tx:
            assert ids(tx.take(100)) == list(range(100))
            tx.commit()
        assert store.size() == 403
    with FileChannelStore(cfg(tmp_path)) as store:
        assert store.report is not None and store.report.events == 403
        with store.transaction() as tx:
            got = tx.take(1000)
            tx.commit()
    assert ids(got) == list(range(100, 503))
    assert [got.event_headers(i) for i in (399, 400, 401, 402)] == [
        {"car": "A01"}, {"c": "1", "i": "0"}, {"c": "1"}, {"c": "1", "i": "2"}]  # fmt: skip


def test_capacity_transaction_capacity_and_bad_config(tmp_path: Path) -> None:
    with FileChannelStore(cfg(tmp_path, capacity=1000, transaction_capacity=600)) as store:
        put(store, 0, 600)
        with pytest.raises(ChannelFullError, match="transactionCapacity"):
            put(store, 600, 601)
        t0 = time.monotonic()
        with pytest.raises(ChannelFullError, match=r"is full \(600 of 1,000"):
            put(store, 600, 500)
        assert time.monotonic() - t0 >= 0.1  # it waited keep-alive for a sink first
        with store.transaction() as tx:
            tx.take(100)  # taken but not committed: still counts against capacity
            with pytest.raises(ChannelFullError):
                put(store, 600, 401)
            tx.commit()
        put(store, 600, 500)
        assert store.size() == 1000
    with pytest.raises(ConfigError, match="backupCheckpointDir"):
        FileChannelStore(cfg(tmp_path, use_dual_checkpoints=True))


def test_torn_tail_is_cut_once_and_never_crash_loops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conf = cfg(tmp_path, checkpoint_on_close=False)
    with FileChannelStore(conf) as store:
        for i in range(5):
            put(store, i * 100, 100)
    seg = segment_files(tmp_path)[-1]
    size = seg.stat().st_size
    with seg.open("r+b") as f:  # the last transaction's write cut in the middle
        f.truncate(size - 3000)
        f.seek(0, os.SEEK_END)
        f.write(b"\0" * 512)  # and what a power loss leaves: zeroed blocks
    with caplog.at_level(logging.WARNING), FileChannelStore(conf) as store:
        report = store.report
        assert report is not None and report.truncated_bytes > 512
        assert report.damage and report.damage[-1].tail
        assert live_ids(store) == list(range(400))  # the cut transaction never committed
        # its PUT's header survived the cut: its 100 events are counted as not restored
        assert (report.lost_uncommitted, report.lost_damaged, report.uncounted) == (100, 0, 0)
        assert store.counts["EventsLostToCorruption"] == 100
    assert "torn or corrupt tail" in caplog.text
    assert (
        "replay: 100 events not restored (0 in damaged records of committed transactions, "
        "100 in transactions whose COMMIT is not on disk)" in caplog.text
    )
    with FileChannelStore(conf) as store:  # the cut is permanent: a clean start
        assert store.report is not None and not store.report.damage
        assert live_ids(store) == list(range(400))


def test_a_data_file_that_lost_its_last_commit_counts_the_dropped_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 17 item 4: a segment that lost its last bytes after the agent was killed. Only
    the last COMMIT record is gone: the intact PUT before it is dropped and its events are
    logged and counted in EventsLostToCorruption, not just 'cutting 28 bytes'."""
    conf = cfg(tmp_path, checkpoint_on_close=False)
    with FileChannelStore(conf) as store:
        for i in range(3):
            put(store, i * 50, 50)
    seg = segment_files(tmp_path)[-1]
    with seg.open("r+b") as f:
        f.truncate(seg.stat().st_size - 28)  # a COMMIT record is its 28-byte header
    with caplog.at_level(logging.WARNING), FileChannelStore(conf) as store:
        report = store.report
        assert report is not None and report.uncommitted == 1 and not report.damage
        assert live_ids(store) == list(range(100))
        assert report.lost_uncommitted == 50 and store.counts["EventsLostToCorruption"] == 50
        assert "50 events not restored" in report.summary()
    assert "replay: 50 events not restored" in caplog.text
    with FileChannelStore(conf) as store:  # counted once: the next start finds nothing
        assert store.report is not None and store.report.events_lost == 0


@pytest.mark.parametrize("where", ["payload", "header"])
def test_corrupt_record_mid_segment_is_reported_and_the_rest_replayed(
    tmp_path: Path, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    conf = cfg(tmp_path, checkpoint_on_close=False)
    with FileChannelStore(conf) as store:
        for i in range(5):
            put(store, i * 100, 100)
    seg = segment_files(tmp_path)[-1]
    data = bytearray(seg.read_bytes())
    put2 = data.find(b"000000200-")  # inside the third transaction's PUT record
    hit = put2 + 50 if where == "payload" else data.rfind(b"\x8fFLR", 0, put2) + 5
    data[hit] ^= 0xFF
    seg.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR), FileChannelStore(conf) as store:
        report = store.report
        assert report is not None and len(report.damage) == 1 and not report.damage[0].tail
        assert live_ids(store) == [*range(200), *range(300, 500)]
        if where == "payload":  # the header still says how many events the record held
            assert (report.lost_damaged, report.uncounted) == (100, 0)
            assert store.counts["EventsLostToCorruption"] == 100
        else:  # nothing says how many: reported as unknown, not as zero
            assert (report.events_lost, report.uncounted) == (0, 1)
    assert "corrupt record(s)" in caplog.text and "its events are lost" in caplog.text
    assert "replay: " in caplog.text


def test_checkpoint_bounds_replay_and_dual_checkpoints_back_it_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conf = cfg(tmp_path, checkpoint_on_close=False, max_file_size=32 * 1024,
               use_dual_checkpoints=True, backup_checkpoint_dir=tmp_path / "backup")  # fmt: skip
    with FileChannelStore(conf) as store:
        for i in range(40):
            put(store, i * 100, 100)
        with store.transaction() as tx:
            tx.take(2500)
            tx.commit()
        store.checkpoint()  # deletes the segments whose events were all taken
        put(store, 4000, 100)
        with store.transaction() as tx:
            tx.take(50)
            tx.commit()
    expected = list(range(2550, 4100))
    with FileChannelStore(conf) as store:
        report = store.report
        assert report is not None and report.checkpoint == "primary"
        assert report.records == 4  # only the log after the checkpoint is read
        assert live_ids(store) == expected
        store.checkpoint()
    (tmp_path / "cp" / CHECKPOINT).write_bytes(b"garbage")
    with caplog.at_level(logging.ERROR), FileChannelStore(conf) as store:
        assert store.report is not None and store.report.checkpoint == "backup"
        assert live_ids(store) == expected
    assert "fails its CRC check" in caplog.text or "too short" in caplog.text
    for d in ("cp", "backup"):
        data = bytearray((tmp_path / d / CHECKPOINT).read_bytes())
        data[30] ^= 1
        (tmp_path / d / CHECKPOINT).write_bytes(bytes(data))
    with FileChannelStore(conf) as store:  # no checkpoint at all: a full replay is exact too
        assert store.report is not None and store.report.checkpoint == "none"
        assert live_ids(store) == expected


def test_spent_segments_are_deleted_so_disk_use_stays_bounded(tmp_path: Path) -> None:
    conf = cfg(tmp_path, max_file_size=64 * 1024)
    with FileChannelStore(conf) as store:
        for round_ in range(30):
            for i in range(5):
                put(store, round_ * 500 + i * 100, 100)
            with store.transaction() as tx:
                assert len(tx.take(500)) == 500
                tx.commit()
            store.checkpoint()
            assert len(segment_files(tmp_path)) <= 2
        assert store.stats()["SegmentsDeleted"] >= 20
    written = 30 * 500 * 100
    assert sum(p.stat().st_size for p in segment_files(tmp_path)) < written / 10


def test_minimum_required_space_refuses_puts_with_a_clear_error(tmp_path: Path) -> None:
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    with FileChannelStore(cfg(tmp_path, minimum_required_space=free + 2**30)) as store:
        with pytest.raises(DiskSpaceError, match=r"bytes free .* minimumRequiredSpace is"):
            put(store, 0, 10)
        assert isinstance(DiskSpaceError("x"), ChannelFullError)  # a source backs off on it
        assert store.size() == 0 and store.stats()["DiskSpaceRefusals"] == 1


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs: a disk that really fills up."""
    with tmpfs(tmp_path / "tiny", "3m") as mnt:
        yield mnt


def test_full_disk_refuses_puts_keeps_everything_and_recovers(tiny_disk: Path) -> None:
    conf = cfg(
        tiny_disk,
        minimum_required_space=512 * 1024,
        max_file_size=256 * 1024,
        transaction_capacity=100_000,
    )
    committed = 0
    with FileChannelStore(conf) as store:
        with pytest.raises(DiskSpaceError, match="minimumRequiredSpace is 524,288"):
            while True:
                put(store, committed, 200)
                committed += 200
        assert committed > 10_000
        assert os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize >= 400 * 1024
        assert live_ids(store) == list(range(committed))  # nothing lost
        with store.transaction() as tx:  # takes still work: a sink drains the channel
            tx.take(committed - 1000)
            tx.commit()
        store.checkpoint()  # spent segments go, space returns
        put(store, committed, 200)
    with FileChannelStore(conf) as store:
        assert live_ids(store) == list(range(committed - 1000, committed + 200))


def test_enospc_mid_write_leaves_no_partial_record(tiny_disk: Path) -> None:
    conf = cfg(
        tiny_disk,
        max_file_size=8 * 1024 * 1024,
        checkpoint_on_close=False,
        transaction_capacity=100_000,
    )
    committed = 0
    with FileChannelStore(conf) as store:
        with pytest.raises(DiskSpaceError, match="no space left"):
            while True:
                put(store, committed, 500)
                committed += 500
        assert store.size() == committed
    with FileChannelStore(conf) as store:
        assert store.report is not None and not store.report.damage
        assert live_ids(store) == list(range(committed))


def test_directories_are_locked_and_flume_data_refused(tmp_path: Path) -> None:
    with FileChannelStore(cfg(tmp_path)), pytest.raises(FileChannelLockedError, match="in use"):
        FileChannelStore(cfg(tmp_path)).open()
    other = tmp_path / "flume"
    (other / "data").mkdir(parents=True)
    (other / "data" / "log-1").write_bytes(b"x")
    with pytest.raises(FileChannelIOError, match="Apache Flume's file-channel data"):
        FileChannelStore(cfg(other)).open()
    with FileChannelStore(cfg(other / "again")):  # and the failed open released its locks
        pass


def test_group_commit_shares_fsyncs_between_concurrent_committers(tmp_path: Path) -> None:
    with FileChannelStore(cfg(tmp_path)) as store:
        base = store.stats()["Fsyncs"]

        def writer(k: int) -> None:
            for j in range(40):
                put(store, (k * 40 + j) * 10, 10)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        fsyncs = store.stats()["Fsyncs"] - base
        assert store.size() == 8 * 40 * 10
        assert fsyncs < 8 * 40, f"{fsyncs} fsyncs for {8 * 40} commits: none shared"


def _run_writer(root: Path, next_id: int, seed: int, fsync: bool) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(WRITER), str(root), str(next_id), str(seed),
                             "1" if fsync else "0"], stdout=subprocess.PIPE, env=env)  # fmt: skip
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    assert ready == b"READY\n", ready
    time.sleep(random.Random(seed).uniform(0.02, 0.3))  # a random point of its work
    proc.send_signal(signal.SIGKILL)
    out = proc.stdout.read().decode()
    assert proc.wait() == -signal.SIGKILL, "the writer died before it was killed"
    return out.splitlines()


def _after(live: list[int], kind: str, ev: list[int]) -> list[int]:
    if kind == "P":
        return live + ev
    gone = set(ev)
    return [i for i in live if i not in gone]


@pytest.mark.parametrize("fsync", [True, False], ids=["fsyncPerTransaction", "fsyncInterval"])
def test_sigkill_at_random_points_then_replay_is_exactly_the_committed_events(
    tmp_path: Path, fsync: bool
) -> None:
    """Many kills; after each, replay = puts committed minus takes committed, in order; the
    one transaction the kill may have cut is either wholly there or wholly absent."""
    live: list[int] = []
    next_id = 0
    seed0 = uuid.uuid4().int % 10_000
    for it in range(20):
        lines = _run_writer(tmp_path, next_id, seed0 + it, fsync)
        in_doubt: tuple[str, list[int]] | None = None
        for line in lines:
            if line == "OK":
                assert in_doubt is not None
                kind, ev = in_doubt
                live = _after(live, kind, ev)
                in_doubt = None
            elif line.startswith("P "):
                first, last = map(int, line[2:].split())
                in_doubt = ("P", list(range(first, last + 1)))
                next_id = last + 1
            elif line.startswith("T "):
                in_doubt = ("T", [int(x) for x in line[2:].split(",") if x])
        store = FileChannelStore(writer_config(tmp_path, fsync))
        store.open()
        try:
            report = store.report
            assert report is not None and not [d for d in report.damage if not d.tail]
            got = live_ids(store)
        finally:
            store.close()
        options = [live]
        if in_doubt is not None:
            kind, ev = in_doubt
            options.append(_after(live, kind, ev))
        assert got in options, f"seed {seed0 + it}: {len(got)} events replayed, not as committed"
        live = got
    assert next_id > 1000  # the writer really worked between kills


def test_a_put_record_keeps_its_events_marks() -> None:
    """Marks (origin, position) survive the file channel's record: a replay still lets an
    exactly-once sink drop what it wrote."""
    from agents.channels.filelog._records import decode_batch, encode_batch, sub_batch

    marks = [("a/s/f@1.2", 0), ("a/s/g@3.4", 17), ("", -1)]
    for headers in (None, [{"h": "1"}, {}, {"h": "3"}]):
        batch = EventBatch([b"a", b"bc", b""], {"k": "v"}, headers, marks)
        back = decode_batch(encode_batch(batch))
        assert (back.bodies, back.common, back.headers, back.marks) == (
            batch.bodies, batch.common, headers, marks)  # fmt: skip
        assert sub_batch(back, 1, 3).marks == marks[1:]
    assert decode_batch(encode_batch(EventBatch([b"a"], {}))).marks is None
