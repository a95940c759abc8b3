"""Latency figures as the pilot and the bench report them: p50, p99, p99.9 and the worst.

A p99 alone hides what the tail is made of: one line in a thousand (p99.9) and the single
worst line say whether it was a few slow moments or one long stall.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

QUANTILES = (("p50", 0.50), ("p99", 0.99), ("p99_9", 0.999))


def percentiles(latencies_ms: Iterable[float]) -> dict[str, float]:
    """``{"p50_ms", "p99_ms", "p99_9_ms", "max_ms"}`` of *latencies_ms* (the value at that
    rank, no interpolation), each rounded to 0.1 ms; ``{}`` for no latencies."""
    ordered = sorted(latencies_ms)
    n = len(ordered)
    if not n:
        return {}
    out = {f"{name}_ms": round(ordered[min(n - 1, int(n * q))], 1) for name, q in QUANTILES}
    out["max_ms"] = round(ordered[-1], 1)
    return out


def latency_text(figures: Mapping[str, Any], prefix: str = "latency_") -> str:
    """'latency p50 6.1 ms, p99 9.0, p99.9 12.3, max 20.4 ms' from a report's figures."""

    def get(name: str) -> str:
        return str(figures.get(f"{prefix}{name}_ms", "-"))

    return (f"latency p50 {get('p50')} ms, p99 {get('p99')}, p99.9 {get('p99_9')}, "
            f"max {get('max')} ms")  # fmt: skip
