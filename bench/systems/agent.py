"""Our agent, a real ``python -m agents`` process, on the bench's flow config."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.flumeconf import AGENT
from bench.meter import Measurement
from bench.systems.base import ROOT, Job, System, log_says, run_daemon, spool_flow

STARTED = f"agent {AGENT} started"  # what `python -m agents` logs once its flows run


def agent_command(conf: Path) -> tuple[list[str], dict[str, str]]:
    """argv and environment that run agent ``a`` of *conf* from this checkout."""
    argv = [sys.executable, "-m", "agents", "-f", str(conf), "-n", AGENT]
    return argv, {**os.environ, "PYTHONPATH": str(ROOT)}


class OurAgent(System):
    key = "agent"
    label = "our agent (spooldir -> regex_filter -> memory -> kafka)"

    def __init__(self, channel: str = "memory") -> None:
        self.channel = channel  # "memory" or "file"
        if channel == "file":
            self.key = "agent-file"
            self.label = "our agent (spooldir -> regex_filter -> file -> kafka)"

    def measure(self, job: Job) -> Measurement:
        conf = job.work / "agent.conf"
        spool = spool_flow(job, conf, self.channel)
        log = job.work / "agent.log"
        argv, env = agent_command(conf)
        return run_daemon(job, argv, log, spool, log_says(log, STARTED), env)
