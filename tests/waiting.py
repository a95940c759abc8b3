"""The one way tests wait: poll an observable condition, never sleep a fixed time.

The polling is ``labctl.waiting.wait_for`` (shared with ``bench/`` and the lab); this adds
the failure. ``wait_for(cond)`` returns ``cond()``'s first truthy value. When time runs out
it returns the last (falsy) value, so ``assert wait_for(...)`` fails where the caller says;
given ``what``, it fails the test itself, naming what it waited for, the last value (or what
``seen()`` shows then) and the tail of ``log``. ``proc``: stop at once when that process has
exited.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labctl.waiting import wait_for as poll


def wait_for(
    cond: Callable[[], Any],
    timeout: float = 20.0,
    what: str | None = None,
    seen: Callable[[], Any] | None = None,
    *,
    step: float = 0.05,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> Any:
    def ended() -> bool:
        return proc is not None and proc.poll() is not None

    value = poll(cond, timeout, step=step, gone=ended)
    if value or what is None:
        return value
    last = seen() if seen is not None else value
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    why = f"the process exited ({proc.returncode})" if proc and ended() else f"waited {timeout} s"
    pytest.fail(f"{why} for {what}; last seen:\n{last}" + (f"\n{tail}" if tail else ""))
