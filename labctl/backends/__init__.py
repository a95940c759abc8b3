"""Where a lab runs: one ``Backend`` interface, two implementations (local processes, Docker
containers). ``backend_for`` picks the one a lab's spec names; nothing else asks which."""

from __future__ import annotations

from labctl.backends.base import AgentLaunch, AgentRun, Backend, ComponentState
from labctl.paths import LabPaths
from labctl.spec import ClusterSpec


def backend_for(paths: LabPaths, spec: ClusterSpec) -> Backend:
    if spec.backend == "docker":
        from labctl.backends.docker import DockerBackend

        return DockerBackend(paths, spec)
    from labctl.backends.local import LocalBackend

    return LocalBackend(paths, spec)


__all__ = ["AgentLaunch", "AgentRun", "Backend", "ComponentState", "backend_for"]
