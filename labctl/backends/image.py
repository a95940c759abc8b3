"""The project image (the root ``Dockerfile``), built once per checkout through the Docker SDK.

The build context is the project's own files. It also carries what this host already has, so
the build needs no network but Debian's package mirror: the Kafka distribution labctl fetched
with the pinned pom (``prefetch/kafka-libs``), and the Python dependencies as wheels for the
image's Python and the engine's architecture (``prefetch/wheels``, downloaded once with pip
into the cache). Without them — a plain ``docker build .`` or ``docker compose build`` — the
Dockerfile resolves Kafka with Maven and the dependencies from PyPI itself.

The image is labelled with a digest of its sources: ``ensure_image`` reuses it while the
checkout is unchanged and rebuilds (from Docker's layer cache) when it changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labctl.errors import LabError, PrerequisiteError
from labctl.kafka.dist import KAFKA_VERSION, KafkaDist
from labctl.paths import cache_dir

if TYPE_CHECKING:
    import docker

IMAGE = "smartcar-lab"
DIGEST_LABEL = "smartcar-lab.sources"
PACKAGES = ("agents", "labctl", "simulator")
TOP_FILES = ("Dockerfile", "pyproject.toml", "README.md")
IMAGE_PYTHON = "3.11"  # Debian bookworm's python3, the image's Python
ARCH_TAGS = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def project_root() -> Path:
    """The checkout the image is built from (the folder holding the Dockerfile)."""
    root = Path(__file__).resolve().parents[2]
    if not all((root / name).exists() for name in TOP_FILES):
        raise PrerequisiteError(
            f"the Docker backend builds its image from a project checkout, and {root} is not "
            "one; run labctl from a clone of the project (`pip install -e .`)."
        )
    return root


def source_files(root: Path) -> list[tuple[str, Path]]:
    """(name in the context, file) of everything the image is built from, sorted."""
    files = [(name, root / name) for name in TOP_FILES]
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append((str(path.relative_to(root)), path))
    return sorted(files)


def sources_digest(files: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256(KAFKA_VERSION.encode())
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def requirements(root: Path) -> list[str]:
    """What the image's pip installs: the project's dependencies and its build backend."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    return [*project["project"]["dependencies"], *project["build-system"]["requires"]]


def prefetched_wheels(root: Path, arch: str, progress: Callable[[str], None]) -> Path | None:
    """Wheels of the image's dependencies for Python 3.11 on ``arch``, downloaded once into
    the cache; None when pip cannot get them (the build then asks PyPI itself)."""
    reqs = requirements(root)
    key = hashlib.sha256("\n".join([arch, *reqs]).encode()).hexdigest()[:12]
    target = cache_dir() / "image-wheels" / f"{arch}-{key}"
    if (target / ".complete").exists():
        return target
    progress("downloading the image's Python wheels (once)")
    platforms = [f"manylinux_2_{minor}_{arch}" for minor in (36, 28, 17)] + [
        f"manylinux2014_{arch}"
    ]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(target),
               "--only-binary=:all:", "--python-version", IMAGE_PYTHON, "--implementation",
               "cp", "--abi", "cp311", "--abi", "abi3", "--abi", "none",
               *(arg for p in platforms for arg in ("--platform", p)), *reqs]  # fmt: skip
    if subprocess.run(command, capture_output=True, check=False).returncode != 0:
        return None
    (target / ".complete").write_text("\n".join(reqs) + "\n")
    return target


def prefetched_kafka() -> Path | None:
    """The Kafka distribution's jars if labctl already fetched them (never fetches here: the
    Docker backend does not need Java or Maven on the host)."""
    dist = KafkaDist.at(KAFKA_VERSION)
    return dist.libs if dist.complete else None


def build_context(root: Path, files: list[tuple[str, Path]], wheels: Path | None,
                  kafka: Path | None) -> io.BytesIO:  # fmt: skip
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, path in files:
            tar.add(path, arcname=name, recursive=False)
        for folder, prefix in ((wheels, "prefetch/wheels"), (kafka, "prefetch/kafka-libs")):
            if folder is None:
                continue
            for path in sorted(folder.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    tar.add(path, arcname=f"{prefix}/{path.name}", recursive=False)
    buffer.seek(0)
    return buffer


def image_tag(digest: str) -> str:
    return f"{IMAGE}:{digest}"


def ensure_image(client: docker.DockerClient, progress: Callable[[str], None]) -> str:
    """The tag of an image built from this checkout, building it if there is none."""
    import docker.errors

    root = project_root()
    files = source_files(root)
    digest = sources_digest(files)
    tag = image_tag(digest)
    try:
        client.images.get(tag).tag(IMAGE, "latest")  # what docker-compose.yml runs
        return tag
    except docker.errors.ImageNotFound:
        pass
    arch = ARCH_TAGS.get(str(client.info().get("Architecture")), "x86_64")
    context = build_context(root, files, prefetched_wheels(root, arch, progress),
                            prefetched_kafka())  # fmt: skip
    progress(f"building the image {tag} (first time: a few minutes)")
    stream = client.api.build(fileobj=context, custom_context=True, tag=tag, rm=True,
                              forcerm=True, decode=True, labels={DIGEST_LABEL: digest},
                              buildargs={"KAFKA_VERSION": KAFKA_VERSION})  # fmt: skip
    _follow_build(stream, progress)
    client.images.get(tag).tag(IMAGE, "latest")
    _forget_older(client, tag)
    return tag


def _forget_older(client: docker.DockerClient, current: str) -> None:
    """Untag images built from earlier sources (layers still in use stay)."""
    import docker.errors

    for image in client.images.list(name=IMAGE):
        for old in image.tags:
            if old not in (current, f"{IMAGE}:latest"):
                with contextlib.suppress(docker.errors.APIError):  # a container runs it
                    client.images.remove(old)


def _follow_build(stream: Iterator[dict[str, Any]], progress: Callable[[str], None]) -> None:
    tail: list[str] = []
    for chunk in stream:
        if "error" in chunk:
            detail = " ".join([*tail[-3:], str(chunk["error"]).strip()])
            raise LabError(f"building the lab image failed: {detail[-400:]}")
        line = str(chunk.get("stream", "")).strip()
        if line:
            tail.append(line)
            if line.startswith("Step "):
                progress(f"building the image: {line[:70]}")
