"""Atomic hand-off: a spool folder watcher only ever sees the whole status file."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator import handoff
from simulator.manifest import Manifest
from simulator.status import write_status_file


class Watcher(threading.Thread):
    """Polls a folder as a spooldir source would (names not starting with '.')."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.stop = threading.Event()
        self.sizes: dict[str, set[int]] = {}
        self.hidden: set[str] = set()

    def run(self) -> None:
        while True:
            done = self.stop.is_set()  # one more scan after the action has finished
            self.scan()
            if done:
                return

    def scan(self) -> None:
        for entry in os.scandir(self.folder):
            if entry.name.startswith("."):
                self.hidden.add(entry.name)
                continue
            try:
                size = entry.stat().st_size
            except FileNotFoundError:
                continue
            self.sizes.setdefault(entry.name, set()).add(size)


def watch_while(folder: Path, action: Callable[[], object]) -> Watcher:
    watcher = Watcher(folder)
    watcher.start()
    try:
        action()
    finally:
        watcher.stop.set()
        watcher.join(5)
    return watcher


def test_spool_watcher_never_sees_a_partial_file(tmp_path: Path) -> None:
    out, spool = tmp_path / "out", tmp_path / "spool"
    spool.mkdir()
    result: dict[str, Manifest] = {}
    # the watcher also watches the output folder, where the file is being written
    out.mkdir()
    out_watch = Watcher(out)
    out_watch.start()
    try:
        watcher = watch_while(
            spool, lambda: result.update(m=write_status_file("20160101", 4, out, 1, spool))
        )
    finally:
        out_watch.stop.set()
        out_watch.join(5)
    final = spool / "SmartCarStatusInfo_20160101.txt"
    size = final.stat().st_size
    assert result["m"].output == str(final)
    assert watcher.sizes == {final.name: {size}}
    assert out_watch.sizes.get(final.name, {size}) == {size}  # never seen while growing
    assert ".SmartCarStatusInfo_20160101.txt.tmp" in out_watch.hidden
    assert sorted(p.name for p in out.iterdir()) == [final.name + ".manifest.json"]
    assert sorted(p.name for p in spool.iterdir()) == [final.name]


def test_cross_device_hand_off_goes_through_a_hidden_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, spool = tmp_path / "out", tmp_path / "spool"
    out.mkdir()
    spool.mkdir()
    real_link = os.link

    def link(src, dst, *args, **kwargs):  # pretend out/ and spool/ are different devices
        if Path(src).parent != Path(dst).parent:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(handoff.os, "link", link)
    source = out / "SmartCarStatusInfo_20160101.txt"
    payload = b"20160101000000,K0001,90,90,90,90,1,1,1,1,A,A,90\n" * 200_000
    source.write_bytes(payload)
    watcher = watch_while(spool, lambda: handoff.hand_off(source, spool))
    assert (spool / source.name).read_bytes() == payload
    assert not source.exists()
    assert watcher.sizes == {source.name: {len(payload)}}
    assert sorted(p.name for p in spool.iterdir()) == [source.name]


def test_a_taken_spool_name_is_refused_before_writing(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "SmartCarStatusInfo_20160101.txt.COMPLETED").write_text("old")
    with pytest.raises(FileExistsError):
        write_status_file("20160101", 1, tmp_path / "out", 1, spool)
    assert not any((tmp_path / "out").iterdir())


def test_no_clobber_rename_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(src, dst, *args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(handoff.os, "link", no_link)
    src = tmp_path / "a.txt"
    src.write_text("x\n")
    spool = tmp_path / "spool"
    spool.mkdir()
    assert handoff.hand_off(src, spool) == spool / "a.txt"
    assert (spool / "a.txt").read_text() == "x\n" and not src.exists()
