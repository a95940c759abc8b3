"""Where a lab keeps its state: one home directory, laid out the same by every backend.

The home is ``--home``, else ``$LABCTL_HOME``, else ``.lab/`` in the working directory.
The working directories mirror the book's ``/home/pilot-pjt/working`` tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".lab"
MARKER = "lab.json"  # written by `labctl up`; a home without it is not (yet) a lab


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The lab home a command should use: the argument, $LABCTL_HOME, or ./.lab."""
    chosen = home or os.environ.get("LABCTL_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def cache_dir() -> Path:
    """Downloads shared by every lab (the Kafka distribution): $LABCTL_CACHE or ~/.cache/labctl."""
    env = os.environ.get("LABCTL_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "labctl"


@dataclass(frozen=True)
class LabPaths:
    """Every path of one lab home. Pure: creates nothing."""

    home: Path

    @property
    def state_file(self) -> Path:
        return self.home / MARKER

    @property
    def config_dir(self) -> Path:
        return self.home / "config"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        """Pid files of the lab's detached processes."""
        return self.home / "run"

    # The pilot's working directories (the book's /home/pilot-pjt/working/...)
    @property
    def working_dir(self) -> Path:
        return self.home / "working"

    @property
    def status_staging_dir(self) -> Path:
        """Where the simulator writes the day's status file before the hand-off."""
        return self.working_dir / "SmartCar"

    @property
    def spool_dir(self) -> Path:
        """The spooldir source's directory (the book's car-batch-log)."""
        return self.working_dir / "car-batch-log"

    @property
    def realtime_log_dir(self) -> Path:
        return self.working_dir / "driver-realtime-log"

    @property
    def realtime_log(self) -> Path:
        """The driving log that the exec `tail -F` / TAILDIR source follows."""
        return self.realtime_log_dir / "SmartCarDriverInfo.log"

    # The agents
    @property
    def agents_dir(self) -> Path:
        """Rendered agent configs and their state (positions, trackers, file_roll output)."""
        return self.home / "agents"

    # Runs and reports
    @property
    def runs_dir(self) -> Path:
        """One folder per simulator run, holding its manifests."""
        return self.home / "runs"

    @property
    def reports_dir(self) -> Path:
        """JSON reports written by `labctl verify`."""
        return self.home / "reports"

    @property
    def bench_dir(self) -> Path:
        """Results of `make bench` (one JSON per run)."""
        return self.home / "bench"

    @property
    def compose_file(self) -> Path:
        """The Compose rendering a container lab applied (`docker compose -f` reads it)."""
        return self.home / "docker-compose.yml"

    def own_entries(self) -> set[str]:
        """Names directly in the home that labctl itself creates (and `make bench`'s)."""
        dirs = (self.config_dir, self.data_dir, self.logs_dir, self.run_dir, self.working_dir,
                self.agents_dir, self.runs_dir, self.reports_dir, self.bench_dir)  # fmt: skip
        return {MARKER, self.compose_file.name, *(d.name for d in dirs)}

    def working_dirs(self) -> list[Path]:
        return [self.status_staging_dir, self.spool_dir, self.realtime_log_dir]
