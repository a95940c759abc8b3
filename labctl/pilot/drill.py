"""`labctl pilot --kill-agent-at 50%`: the lab's agent SIGKILLed part-way through the
simulator's run, and started again with the same config at once.

Stage 5 then counts what the crash cost: with the book's agent (exec tail -F, at-least-once)
the lines written while it was down are missing and the 10 lines tail -F repeats are
duplicates; with ``--exactly-once`` (TAILDIR and a transactional Kafka sink) neither.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from labctl.cluster import Cluster
from labctl.errors import LabError
from labctl.pilot import agent as lab_agent


def parse_share(text: str) -> float:
    """``50%`` -> 0.5 (of the run's duration)."""
    number = text.strip().removesuffix("%")
    try:
        share = float(number) / 100
    except ValueError:
        raise LabError(
            f"--kill-agent-at takes a share of the run, like 50%; got {text!r}."
        ) from None
    if not 0 < share < 1:
        raise LabError(f"--kill-agent-at must be between 0% and 100% (exclusive); got {text!r}.")
    return share


class AgentKill:
    """Kills the agent once the run's driver reached *share* of *duration* s (``on_progress``
    is the simulator's progress callback), then starts it again on its own thread."""

    def __init__(self, cluster: Cluster, share: float, duration: float) -> None:
        self.cluster = cluster
        self.at = share * duration
        self.share = share
        self.figures: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def on_progress(self, elapsed: float) -> None:
        if self._thread is None and elapsed >= self.at:
            self._thread = threading.Thread(target=self._kill_and_start, name="drill",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    def _kill_and_start(self) -> None:
        try:
            state = lab_agent.state(self.cluster.paths)
            began = time.monotonic()
            self.cluster.backend.kill_agent()
            conf = state.get("conf_file")
            lab_agent.start(self.cluster, conf=Path(str(conf)) if conf else None,
                            name=str(state.get("name", lab_agent.AGENT_NAME)))  # fmt: skip
            self.figures.update(killed_at_share=self.share, killed_at_s=round(self.at, 1),
                                agent_down_s=round(time.monotonic() - began, 1))  # fmt: skip
        except BaseException as exc:  # told by join(), on the caller's thread
            self._error = exc

    def join(self) -> None:
        """Wait for the restart; raises what went wrong (the agent did not come back)."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise LabError(f"the drill could not start the agent again: {self._error}")
