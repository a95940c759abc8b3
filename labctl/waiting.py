"""Waiting on observable state: poll a condition until it holds, never sleep a fixed time.

The one polling loop the lab's helpers, ``bench/`` and the tests share (``tests/waiting.py``
adds the test failure message on top). ``wait_for(cond)`` returns ``cond()``'s first truthy
value; when *timeout* runs out, or *gone()* says there is no point waiting any more (the
process that should make it true exited), it returns ``cond()``'s last (falsy) value, so
``if not wait_for(...)`` is where the caller says what it waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    cond: Callable[[], T],
    timeout: float = 20.0,
    *,
    step: float = 0.05,
    gone: Callable[[], object] | None = None,
) -> T:
    """``cond()``'s first truthy value, polled every *step* s for up to *timeout* s (or until
    *gone()* is truthy); else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value or (gone is not None and gone()) or time.monotonic() > deadline:
            return value
        time.sleep(step)
