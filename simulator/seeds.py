"""Seeds: an explicit one makes a run reproducible; none picks a random one (recorded)."""

from __future__ import annotations

import secrets


def resolve_seed(seed: int | None) -> int:
    """``seed`` itself, or a fresh random 63-bit seed when ``None``."""
    if seed is None:
        return secrets.randbits(63)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, not {seed!r}")
    return seed
