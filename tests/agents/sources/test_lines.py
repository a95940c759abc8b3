"""The line splitter on its own (pure logic): how chunks become events, whatever the chunking."""

from __future__ import annotations

import random
from typing import Any

import pytest

from agents.sources.lines import DecodeFailure, LineSplitter, check_charset


def split(data: bytes, chunk: int, **options: Any) -> tuple[list[bytes], LineSplitter]:
    splitter = LineSplitter(**options)
    events: list[bytes] = []
    for i in range(0, len(data), chunk):
        events += splitter.feed(data[i : i + chunk])
    return events + splitter.flush(), splitter


def test_any_chunking_gives_the_same_events():
    rng = random.Random(7)
    for _ in range(200):
        lines = ["".join(rng.choice("ab가é") for _ in range(rng.choice([0, 1, 19, 20, 21, 61])))
                 for _ in range(rng.randint(1, 6))]  # fmt: skip
        data = "\n".join(lines).encode() + rng.choice([b"", b"\n"])
        whole, _ = split(data, 1 << 20, max_chars=20)
        for chunk in (1, 2, 7, 64):
            assert split(data, chunk, max_chars=20)[0] == whole


def test_pieces_are_cut_between_characters_every_max_chars():
    line = "가" * 45
    events, splitter = split(line.encode() + b"\nx\n", 5, max_chars=20)
    assert events == [("가" * 20).encode(), ("가" * 20).encode(), ("가" * 5).encode(), b"x"]
    assert splitter.split_lines == 1 and splitter.split_at == [0]


def test_boundary_never_points_inside_a_line():
    splitter = LineSplitter(max_chars=10, policy="RAW", endings="CRLF")
    assert splitter.feed(b"ab\r\n" + b"z" * 55) == [b"ab", b"z" * 10, b"z" * 10, b"z" * 10,
                                                     b"z" * 10, b"z" * 10]  # fmt: skip
    assert splitter.boundary == 4 and splitter.pending == 55
    assert splitter.feed(b"z\nc") == [b"z" * 6]
    assert splitter.boundary == 61


def test_byte_offsets_of_lines_and_pieces():
    events, splitter = split(b"ab\r\n" + b"z" * 25 + b"\r\nc\n", 3, max_chars=10, policy="RAW",
                             endings="CRLF", offsets=True)  # fmt: skip
    assert [len(e) for e in events] == [2, 10, 10, 5, 1]
    assert splitter.offsets == [0, 4, 14, 24, 31]


def test_fail_policy_reports_the_good_lines_before_the_bad_one():
    with pytest.raises(DecodeFailure) as failure:
        LineSplitter(max_chars=100).feed(b"ok\nbad \xff\nnext\n")
    assert failure.value.good == [b"ok"]


def test_exec_endings_hold_a_cr_that_may_start_a_crlf():
    splitter = LineSplitter(endings="ANY", policy="REPLACE")
    assert splitter.feed(b"a\r") == []
    assert splitter.feed(b"\nb\rc") == [b"a", b"b"]
    assert splitter.flush() == [b"c"]


def test_a_charset_whose_line_ends_are_not_bytes_is_refused():
    assert check_charset("euc-kr") == "euc_kr"
    with pytest.raises(ValueError, match="not ASCII-compatible"):
        check_charset("UTF-16")


def test_ascii_chunks_skip_decoding_only_where_ascii_means_the_same_bytes():
    # UTF-8 ASCII chunk: returned as read (the isascii fast path), same as the decoding path
    assert LineSplitter().feed(b"20160101000000,K0001\nplain\n") == [
        b"20160101000000,K0001",
        b"plain",
    ]
    # UTF-7 is ASCII-compatible for line ends, but "+AGE-" is the letter "a": it is decoded
    assert LineSplitter(charset="UTF-7").feed(b"x+AGE-\n") == [b"xa"]
    # a non-ASCII chunk is still checked
    with pytest.raises(DecodeFailure):
        LineSplitter().feed(b"ok\n\xc3\x28\n")


def test_each_split_line_is_reported_where_it_starts():
    """Issue 23 item 6: two over-long lines of one chunk: each at its own offset (not both at
    the chunk's end), without byte offsets asked for and at the end of the stream."""
    s = LineSplitter(10, "UTF-8", "REPLACE", "LF")
    s.feed(b"short\n" + b"x" * 25 + b"\nok\n" + b"y" * 30 + b"\nend" + b"z" * 8)
    assert s.split_at == [6, 35]
    s.split_at.clear()
    s.feed(b"\n" + b"w" * 12)  # ends "end" + 8 z (11 characters), then a last line
    s.flush()
    assert s.split_at == [66, 78]
