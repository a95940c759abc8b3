"""The main job, again and again: `labctl pilot` passes every time on the same lab home.

Between runs the lab is left up, brought down, purged, and the agent is SIGKILLed: each next
pilot must still pass with 0 missing, 0 duplicates and no stale records (a `tail -F` started
on an earlier run's driving log replays its last 10 lines).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from labctl.cluster import Cluster
from labctl.pilot import agent as lab_agent


def labctl(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labctl", *args, "--home", str(cluster.paths.home)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def pilot_passes(cluster: Cluster, when: str) -> None:
    done = labctl(cluster, "pilot", "--cars", "3", "--duration", "3")
    assert done.returncode == 0 and "pilot PASSED" in done.stdout, (
        f"pilot {when} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    )


@pytest.mark.slow
def test_pilot_passes_again_after_up_down_purge_and_a_killed_agent(
    lab_factory: Callable[..., Cluster],
) -> None:
    cluster = lab_factory(brokers=1)
    try:
        pilot_passes(cluster, "the first time")
        pilot_passes(cluster, "with the lab still up")
        down = labctl(cluster, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert cluster.backend.agent_where() is None, "down left the agent running"
        pilot_passes(cluster, "after `labctl down`")
        purge = labctl(cluster, "down", "--purge")
        assert purge.returncode == 0, purge.stdout + purge.stderr
        pilot_passes(cluster, "after `labctl down --purge`")
        cluster.backend.kill_agent()
        pilot_passes(cluster, "after the agent was SIGKILLed")
    finally:
        lab_agent.stop(cluster)
