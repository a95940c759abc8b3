"""Micro-benchmark of the file channel's engine: what a batch costs, and what fsync costs.

1000-event batches of 100-byte bodies (the smart-car lines' size), in one temp directory on
the disk the tests use:

1. put+commit, one thread, ``fsyncPerTransaction = true`` (each commit durable on return);
2. the same with ``fsyncPerTransaction = false`` (page cache; fsync every fsyncInterval):
   the difference is the fsync policy's cost;
3. take+commit of those events, from the in-memory cache and, after a reopen, from disk;
4. group commit: 4 threads putting at once, fsyncs per commit;
5. replay time at open: the whole log against a checkpoint;
6. the floor: a bare ``write`` + ``fdatasync`` of the same 100 KB, no channel.

Run with ``python -m bench file_channel``. Figures are from one run on a shared machine:
compare the rows with each other, not with another run.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from agents.channels.filelog import FileChannelConfig, FileChannelStore
from agents.event import EventBatch
from bench.options import Options

BATCH = 1000
BATCHES = 300
BODY = 100


def _batch(i: int) -> EventBatch:
    return EventBatch([b"%012d," % (i * BATCH + j) + b"x" * (BODY - 13) for j in range(BATCH)],
                      {"topic": "SmartCar"})  # fmt: skip


def _store(root: Path, fsync: bool, checkpoint_on_close: bool = True) -> FileChannelStore:
    conf = FileChannelConfig(root / "cp", (root / "data",), capacity=BATCH * BATCHES * 4,
                             transaction_capacity=BATCH, minimum_required_space=0,
                             fsync_per_transaction=fsync, cache_bytes=256 * 2**20,
                             checkpoint_on_close=checkpoint_on_close)  # fmt: skip
    store = FileChannelStore(conf, "bench")
    store.open()
    return store


def _puts(store: FileChannelStore, batches: list[EventBatch]) -> float:
    t0 = time.perf_counter()
    for b in batches:
        with store.transaction() as tx:
            tx.put(b)
            tx.commit()
    return time.perf_counter() - t0


def _takes(store: FileChannelStore, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        with store.transaction() as tx:
            assert len(tx.take(BATCH)) == BATCH
            tx.commit()
    return time.perf_counter() - t0


def _row(what: str, seconds: float, events: int, extra: str = "") -> None:
    per_batch_ms = seconds / (events / BATCH) * 1000
    print(f"  {what:<44} {events / seconds:>12,.0f} ev/s  {per_batch_ms:7.3f} ms/batch  {extra}")


def run(options: Options | None = None) -> None:
    """Print the figures (``options`` is not used: one size fits)."""
    batches = [_batch(i) for i in range(BATCHES)]
    events = BATCH * BATCHES
    print(f"file channel engine: {BATCHES} batches x {BATCH} events x {BODY} B "
          f"(machine shared: compare rows within this run)")  # fmt: skip
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        for fsync in (True, False):
            d = root / f"fsync{int(fsync)}"
            store = _store(d, fsync)
            s0 = store.stats()
            secs = _puts(store, batches)
            s1 = store.stats()
            n_fsync = s1["Fsyncs"] - s0["Fsyncs"]
            share = (s1["FsyncSeconds"] - s0["FsyncSeconds"]) / secs
            _row(f"put+commit, fsyncPerTransaction={str(fsync).lower()}", secs, events,
                 f"{n_fsync:.0f} fsyncs, {share:.0%} of the time in fdatasync")  # fmt: skip
            secs = _takes(store, BATCHES // 2)
            _row("take+commit, events cached in memory", secs, events // 2)
            store.close()
            store = _store(d, fsync)
            secs = _takes(store, BATCHES // 2)
            _row("take+commit, read back from disk (reopened)", secs, events // 2)
            store.close()

        store = _store(root / "group", True)
        s0 = store.stats()
        per = [batches[k::4] for k in range(4)]
        threads = [threading.Thread(target=_puts, args=(store, p)) for p in per]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        secs = time.perf_counter() - t0
        n_fsync = store.stats()["Fsyncs"] - s0["Fsyncs"]
        _row("put+commit, 4 threads (group commit)", secs, events,
             f"{n_fsync:.0f} fsyncs for {BATCHES} commits")  # fmt: skip
        store.close()

        # replay time: reading the whole log, against starting from a checkpoint
        d = root / "replay"
        store = _store(d, False, checkpoint_on_close=False)
        _puts(store, batches)
        store.close()  # no checkpoint: the next open reads the whole log
        for what in ("the whole log, no checkpoint", "from a checkpoint"):
            store = _store(d, False, checkpoint_on_close=False)  # opening checkpoints
            r = store.report
            assert r is not None and r.events == events
            print(f"  replay of {events:,} events, {what:<30} {r.seconds * 1000:7.1f} ms  "
                  f"{r.records:,} records, {r.bytes_scanned:,} bytes read")  # fmt: skip
            store.close()

        payload = b"x" * (BATCH * BODY)
        fd = os.open(root / "raw", os.O_WRONLY | os.O_CREAT)
        t0 = time.perf_counter()
        for _ in range(BATCHES):
            os.write(fd, payload)
            os.fdatasync(fd)
        secs = time.perf_counter() - t0
        os.close(fd)
        _row("floor: bare write + fdatasync of 100 KB", secs, events)
