"""What Flume's output looks like because it is Java: the order a ``HashMap`` iterates in.

Flume keeps an event's headers in a ``java.util.HashMap`` and prints them with its
``toString``, so the logger sink shows them in bucket order, not insertion order (the book's
ex4.2 prints ``{logType=..., timestamp=...}`` although the timestamp is set first). To print
the same line we order keys as that map would: by bucket (the spread ``String.hashCode``
masked by the table size), then by insertion within a bucket.
"""

from __future__ import annotations

from collections.abc import Iterable


def java_string_hash(s: str) -> int:
    """``String.hashCode()``: over UTF-16 code units, as a 32-bit int (unsigned here)."""
    h = 0
    units = s.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(units), 2):
        h = (31 * h + (units[i] << 8 | units[i + 1])) & 0xFFFFFFFF
    return h


def hashmap_order(keys: Iterable[str]) -> list[str]:
    """*keys* (in insertion order) in the order a default ``HashMap`` iterates them."""
    keys = list(keys)
    table = 16
    while len(keys) > table * 3 // 4:  # load factor 0.75: the table doubles past it
        table *= 2
    buckets: dict[int, list[str]] = {}
    for key in keys:
        h = java_string_hash(key)
        buckets.setdefault((h ^ (h >> 16)) & (table - 1), []).append(key)
    return [k for b in sorted(buckets) for k in buckets[b]]
