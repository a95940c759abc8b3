"""Rates of growing counters (events/s, records/s) over a short sliding window."""

from __future__ import annotations

from collections import deque

WINDOW_S = 3.0  # long enough to smooth batch-sized steps, short enough to look live


class RateMeter:
    """Per-key rate of a counter that only grows; a counter that went down (a restarted agent)
    starts again from its new value."""

    def __init__(self, window: float = WINDOW_S) -> None:
        self.window = window
        self._samples: dict[str, deque[tuple[float, float]]] = {}

    def update(self, key: str, value: float, now: float) -> float | None:
        """Record ``value`` at ``now`` (monotonic seconds); the rate over the window, or None
        until two samples exist. Asking again with the same ``now`` records nothing new."""
        samples = self._samples.setdefault(key, deque())
        if samples and value < samples[-1][1]:
            samples.clear()
        if samples and samples[-1][0] == now:
            samples.pop()  # asked twice for the same sample
        samples.append((now, value))
        while len(samples) > 2 and now - samples[1][0] >= self.window:
            samples.popleft()
        first_t, first_v = samples[0]
        if len(samples) < 2 or now <= first_t:
            return None
        return (value - first_v) / (now - first_t)
