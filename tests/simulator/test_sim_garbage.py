"""Garbage lines: every kind is one line that ``^\\d{14}`` drops."""

from __future__ import annotations

import re
from random import Random

import pytest

from simulator.garbage import KINDS, LONG_LINE_BYTES, GarbageMixer, make_garbage

VALID = re.compile(rb"^\d{14}")


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_one_line_the_filter_drops(kind: str) -> None:
    rng = Random(1)
    for _ in range(200):
        line = make_garbage(rng, kind, "K0001")
        assert b"\n" not in line and b"\r" not in line
        assert not VALID.match(line)


def test_kinds_are_what_they_say() -> None:
    rng = Random(2)
    assert make_garbage(rng, "blank") == b""
    assert len(make_garbage(rng, "long_line")) >= LONG_LINE_BYTES
    with pytest.raises(UnicodeDecodeError):
        make_garbage(rng, "invalid_utf8").decode("utf-8")
    binary = make_garbage(rng, "binary_bytes")
    assert any(b < 0x20 or b == 0x7F for b in binary)
    wrong = make_garbage(rng, "wrong_field_count", "K0001").decode()
    assert wrong[0].isalpha() and len(wrong.split(",")) not in (8, 13)
    bad = make_garbage(rng, "bad_timestamp", "K0001").decode()
    assert re.match(r"\d{12},", bad)
    with pytest.raises(ValueError):
        make_garbage(rng, "nonsense")


def test_mixer_rate_and_counts() -> None:
    mixer = GarbageMixer(Random(3), 0.1)
    lines = [f"20160101000000,K{i:04d},x\n" for i in range(20_000)]
    pieces = mixer.mix(lines)
    text = b"".join(pieces)
    assert text.count(b"\n") == 20_000 + mixer.counts.total()
    assert mixer.counts.total() == pytest.approx(2000, rel=0.1)
    assert set(mixer.counts) == set(KINDS)
    assert GarbageMixer(Random(3), 0.0).mix(lines) == ["".join(lines).encode()]
    with pytest.raises(ValueError):
        GarbageMixer(Random(3), -0.1)
