"""Malformed lines mixed into the logs: none starts with 14 digits, so ``^\\d{14}`` drops all.

``--garbage-rate R`` inserts, after each valid record, a garbage line with probability R
(so about ``R x records`` extra lines), its kind drawn uniformly from :data:`KINDS`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from random import Random

KINDS = (
    "wrong_field_count",
    "binary_bytes",
    "invalid_utf8",
    "long_line",
    "blank",
    "bad_timestamp",
)
LONG_LINE_BYTES = 100 * 1024
VALID_PREFIX = re.compile(rb"^\d{14}")


def check_rate(rate: float) -> float:
    """``rate`` if it is a fraction in [0, 1], else ValueError."""
    if not 0.0 <= rate <= 1.0 or math.isnan(rate):
        raise ValueError(f"garbage rate {rate} is not a fraction between 0 and 1")
    return rate


def make_garbage(rng: Random, kind: str, carnum: str = "X0000") -> bytes:
    """One garbage line of ``kind`` (without its newline)."""
    if kind == "wrong_field_count":  # a record that lost its timestamp: starts with a letter
        return f"{carnum},{rng.randint(0, 100)},{rng.randint(0, 100)}".encode()
    if kind == "binary_bytes":  # control bytes, no newline
        return bytes(rng.choice(b"\x00\x01\x02\x03\x07\x08\x1b\x7f") for _ in range(16))
    if kind == "invalid_utf8":
        return b"\xff\xfe" + carnum.encode() + b",\xc3\x28\xa0\xa1,\x80"
    if kind == "long_line":
        return b"L" * LONG_LINE_BYTES
    if kind == "blank":
        return b""
    if kind == "bad_timestamp":  # 12 digits: the seconds are missing
        return f"{rng.randint(10**11, 10**12 - 1)},{carnum},1,0,F,N,0,A01".encode()
    raise ValueError(f"unknown garbage kind {kind!r}")


class GarbageMixer:
    """Decides where garbage goes (geometric gaps) and makes it, counting kinds."""

    def __init__(self, rng: Random, rate: float) -> None:
        self.rng = rng
        self.rate = check_rate(rate)
        self.counts: Counter[str] = Counter()
        self._log_q = math.log1p(-rate) if 0.0 < rate < 1.0 else 0.0

    def gap(self) -> int:
        """Valid records until the next garbage line (0: right after the next record)."""
        if self.rate <= 0.0:
            return 1 << 62
        if self.rate >= 1.0:
            return 0
        return int(math.log1p(-self.rng.random()) / self._log_q)

    def positions(self, n: int) -> Iterator[int]:
        """Indexes ``i`` in ``0..n-1``: a garbage line goes right after record ``i``."""
        i = self.gap()
        while i < n:
            yield i
            i += 1 + self.gap()

    def line(self, carnum: str = "X0000") -> bytes:
        kind = self.rng.choice(KINDS)
        self.counts[kind] += 1
        return make_garbage(self.rng, kind, carnum)

    def mix(self, lines: list[str]) -> list[bytes]:
        """``lines`` (newline-ended text) as encoded pieces with garbage lines inserted."""
        pieces: list[bytes] = []
        last = 0
        for pos in self.positions(len(lines)):
            pieces.append("".join(lines[last : pos + 1]).encode())
            pieces.append(self.line(lines[pos].split(",", 2)[1][:5]) + b"\n")
            last = pos + 1
        pieces.append("".join(lines[last:]).encode())
        return pieces
