"""Resolve a pinned set of jars from Maven Central into the cache, once.

Kafka (what the lab runs) and Apache Flume (the reference the agent is compared with) are both
fetched this way: a pom shipped in the package names the artifacts, Maven copies their runtime
jars into ``<cache>/<name>-<version>/libs``, and a marker file makes a second call a no-op.
A ``Distribution`` subclass says which pom and which jar proves the fetch worked.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import ClassVar, Self

from labctl.errors import PrerequisiteError
from labctl.paths import cache_dir

MARKER = ".complete"


def require_java() -> str:
    """The `java` executable, or a PrerequisiteError that says how to get one."""
    java = shutil.which("java")
    if java is None:
        raise PrerequisiteError(
            "java was not found on PATH: install a JDK 17 or newer "
            "(e.g. `apt install openjdk-17-jre-headless`) and try again."
        )
    return java


def resolve_jars(
    package: str, root: Path, properties: dict[str, str], expect: str, what: str
) -> Path:
    """``root/libs`` with the runtime jars of ``<package>/pom.xml``, fetched if not complete.

    *properties* are passed to Maven (``-Dkey=value``); *expect* is a glob that must match a
    jar afterwards (proof the main artifact came); *what* names it in error messages.
    """
    libs = root / "libs"
    if (root / MARKER).exists():
        return libs
    require_java()
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PrerequisiteError(
            "mvn was not found on PATH: install Apache Maven (e.g. `apt install maven`); "
            f"the lab uses it once to fetch {what} from Maven Central."
        )
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    pom = resources.files(package).joinpath("pom.xml")
    with resources.as_file(pom) as pom_path:
        command = [
            mvn, "-q", "-B", "-f", str(pom_path), "dependency:copy-dependencies",
            *(f"-D{key}={value}" for key, value in properties.items()),
            "-DincludeScope=runtime", f"-DoutputDirectory={staging / 'libs'}",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not any((staging / "libs").glob(expect)):
        detail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise PrerequisiteError(
            f"Maven could not fetch {what} from Maven Central ({detail[0].strip()}); "
            "check the network or proxy settings and retry."
        )
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    (root / MARKER).write_text(" ".join(f"{k}={v}" for k, v in properties.items()) + "\n")
    return libs


def classpath(libs: Path) -> str:
    return ":".join(str(jar) for jar in sorted(libs.glob("*.jar")))


@dataclass(frozen=True)
class Distribution:
    """A pinned distribution's jars in the cache (``<cache>/<name>-<version>/libs``)."""

    version: str
    root: Path

    name: ClassVar[str]  # its folder's stem, and Maven's ``<name>.version`` property
    package: ClassVar[str]  # the package whose ``pom.xml`` names the artifacts
    main_jar: ClassVar[str]  # a glob that must match a jar afterwards (``{version}`` filled in)
    title: ClassVar[str]  # how error messages name it

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def classpath(self) -> str:
        return classpath(self.libs)

    @classmethod
    def at(cls, version: str, cache: Path | None = None) -> Self:
        """Where that version lives in the cache (fetched or not)."""
        return cls(version, (cache or cache_dir()) / f"{cls.name}-{version}")

    @property
    def complete(self) -> bool:
        return (self.root / MARKER).exists()

    @classmethod
    def ensure(cls, version: str, cache: Path | None = None) -> Self:
        """The cached distribution, downloading it with Maven first if it is not complete."""
        dist = cls.at(version, cache)
        resolve_jars(cls.package, dist.root, {f"{cls.name}.version": version},
                     cls.main_jar.format(version="*"), f"{cls.title} {version}")  # fmt: skip
        return dist
