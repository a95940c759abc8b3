"""Helpers for the simulator tests: the book's two record formats, an independent digest."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from hashlib import blake2b
from pathlib import Path

STATUS_RE = re.compile(
    r"(\d{14}),([A-Z]\d{4}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),"
    r"([12]),([12]),([12]),([12]),([ABC]),([ABC]),(\d{1,3})"
)
DRIVER_RE = re.compile(
    r"(\d{14}),([A-Z]\d{4}),([0-5]),([0-3]),(F|[LR][1-3]),([NLR]),(\d+),([A-F]\d\d)"
)
VALID = re.compile(rb"^\d{14}")


def valid_timestamp(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return False
    return True


def read_lines(path: Path) -> list[bytes]:
    """The file's lines without newlines; asserts the file ends with a newline."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), "last line is partial"
    return data[:-1].split(b"\n")


def recount(lines: Iterable[bytes]) -> tuple[int, str]:
    """``(count, sum64 hex)`` of the valid records among ``lines``, computed here afresh."""
    count = total = 0
    for line in lines:
        if VALID.match(line):
            count += 1
            total += int(blake2b(line, digest_size=8).hexdigest(), 16)
    return count, f"{total % 2**64:016x}"
