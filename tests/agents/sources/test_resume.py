"""Where a source resumes from the positions exactly-once sinks committed (pure logic)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from agents.committed import Committed
from agents.sources.resume import Resume, line_start
from agents.sources.tailed import parse_stream as _parse_stream


def test_line_start_finds_the_line_holding_a_position(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"ab\n" + b"x" * 200_000 + b"\nlast")
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        assert line_start(fd, -1, size) == 0
        assert line_start(fd, 3, size) == 3  # a line's first byte: that line
        assert line_start(fd, 150_000, size) == 3  # a piece of a long line: its line
        assert line_start(fd, size - 2, size) == size - 4
        assert line_start(fd, size, size) == size
    finally:
        os.close(fd)


def test_the_lowest_sink_wins_and_the_cache_fills_in_for_a_sink_that_knows_nothing() -> None:
    one, two = Committed("t1"), Committed("t2")
    one.load({"a/s/f": 500, "a/s/g": 80})
    two.load({"a/s/f": 300})
    resume = Resume([one, two], "a/s/")
    assert resume.position("f", cache=None) == 300
    assert resume.position("g", cache=40) == 40  # t2 never wrote g: only up to the cache
    assert resume.position("g", cache=None) == -1  # ... or from the start
    assert resume.position("h", cache=70) is None  # nobody knows h: the cache alone decides
    assert resume.streams() == {"f": 300, "g": -1}


def test_start_waits_for_the_sinks_and_gives_up_when_one_failed() -> None:
    committed = Committed("t")
    resume = Resume([committed], "a/s/")
    stopping = threading.Event()
    threading.Timer(0.1, committed.load, ({},)).start()
    resume.wait(10, stopping)  # returns once loaded
    failed = Committed("u")
    failed.fail("sink k: fatal Kafka error")
    with pytest.raises(RuntimeError, match="its exactly-once sink failed"):
        Resume([failed], "a/s/").wait(10, stopping)
    stopping.set()
    with pytest.raises(RuntimeError, match="stopping"):
        Resume([Committed("v")], "a/s/").wait(10, stopping)


def test_taildir_stream_names() -> None:
    assert _parse_stream("123.1024.0123456789abcdef") == (123, 1024, "0123456789abcdef", 0)
    assert _parse_stream("123.40.0123456789abcdef.2") == (123, 40, "0123456789abcdef", 2)
    assert _parse_stream("f.log@12.34") is None
