"""Where a lab runs: one ``Backend`` interface, and ``BACKENDS``, the one table of the kinds
there are (local processes, Docker containers, Docker Swarm services). A lab's spec names its
kind; ``backend_for`` looks it up here, and nothing outside this package asks which kind it
holds: what differs is behaviour (the class's methods) or a class attribute (``help``,
``ready_timeout``, ``own_nodes``). A new kind is a module here and a line in the table."""

from __future__ import annotations

from labctl.backends.base import AgentLaunch, AgentRun, Backend, ComponentState
from labctl.backends.docker import DockerBackend
from labctl.backends.local import LocalBackend
from labctl.backends.swarm import SwarmBackend
from labctl.errors import LabHomeError
from labctl.paths import LabPaths
from labctl.spec import ClusterSpec

BACKENDS: dict[str, type[Backend]] = {
    kind.kind: kind for kind in (LocalBackend, DockerBackend, SwarmBackend)
}
DEFAULT_BACKEND = LocalBackend.kind


def backend_class(kind: str) -> type[Backend]:
    try:
        return BACKENDS[kind]
    except KeyError:
        raise LabHomeError(
            f"this lab's backend {kind!r} is not one labctl has ({', '.join(BACKENDS)}); "
            "choose another --home or remove that lab."
        ) from None


def backend_for(paths: LabPaths, spec: ClusterSpec) -> Backend:
    return backend_class(spec.backend)(paths, spec)


__all__ = ["BACKENDS", "DEFAULT_BACKEND", "AgentLaunch", "AgentRun", "Backend",
           "ComponentState", "backend_class", "backend_for"]  # fmt: skip
