"""Fixtures of the Docker tests: a real engine, the project image built once per session.

Every test here needs a Docker engine; where none answers (a laptop without Docker), they skip
with that one reason. `.ci/run` provisions an engine on CI, so there they run.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest

from labctl.errors import PrerequisiteError

if TYPE_CHECKING:
    import docker


@functools.cache
def _engine() -> docker.DockerClient | str:
    from labctl.backends.docker import connect

    try:
        return connect()
    except PrerequisiteError as exc:
        return str(exc)


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    client = _engine()
    if isinstance(client, str):
        pytest.skip(f"no Docker engine: {client}")
    return client


@pytest.fixture(scope="session")
def lab_image(engine: docker.DockerClient) -> str:
    """The project image, built (or found up to date) once per test session."""
    from labctl.backends.image import ensure_image

    return ensure_image(engine, lambda _: None)
