"""One hierarchy of lab errors. Each message is one sentence a user can act on.

Exit codes (documented in the README):
  0 ok, 1 a check failed / generic error, 2 bad usage (typer's own),
  3 a prerequisite is missing (java, mvn, download, a Docker engine), 4 a port is taken,
  5 the lab home is not a usable lab, 6 nothing is running, 7 timed out waiting for readiness.
"""

from __future__ import annotations


class LabError(Exception):
    exit_code = 1


class PrerequisiteError(LabError):
    exit_code = 3


class PortInUseError(LabError):
    exit_code = 4


class LabHomeError(LabError):
    exit_code = 5


class NotRunningError(LabError):
    exit_code = 6


class ReadinessTimeout(LabError):
    exit_code = 7


class UsageError(LabError):
    """Flags that contradict the lab as it is (typer's own usage errors are exit 2 too)."""

    exit_code = 2
