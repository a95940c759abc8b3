"""Run manifests and the order-independent record digest a verifier can recompute.

The digest of a set of records is ``(count, sum64)``: ``count`` records, and the sum modulo
2**64 of ``blake2b(record, digest_size=8)`` read as a big-endian integer, where ``record`` is
the line's bytes without its newline. A sum does not depend on order, so records read back
from Kafka partitions in any interleaving recount to the same digest.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from hashlib import blake2b
from pathlib import Path
from typing import Any

FORMAT = "smartcar-manifest/1"
MASK64 = (1 << 64) - 1
MANIFEST_SUFFIX = ".manifest.json"


def line_hash(line: bytes) -> int:
    """The 64-bit hash of one record (bytes without the newline)."""
    return int.from_bytes(blake2b(line, digest_size=8).digest(), "big")


def line_digest(lines: Iterable[bytes]) -> tuple[int, int]:
    """``(count, sum64)`` of ``lines`` (each without its newline)."""
    count = 0
    total = 0
    from_bytes = int.from_bytes
    for line in lines:
        total += from_bytes(blake2b(line, digest_size=8).digest(), "big")
        count += 1
    return count, total & MASK64


class Digest:
    """An accumulating ``(count, sum64)`` digest; ``merge`` adds another digest's totals."""

    __slots__ = ("_sum", "count")

    def __init__(self, count: int = 0, sum64: int = 0) -> None:
        self.count = count
        self._sum = sum64 & MASK64

    @property
    def sum64(self) -> int:
        return self._sum

    def add(self, line: bytes) -> None:
        """Add one record (bytes without the newline)."""
        self._sum = (self._sum + line_hash(line)) & MASK64
        self.count += 1

    def add_many(self, lines: Iterable[bytes]) -> None:
        """Add records (each without its newline)."""
        count, total = line_digest(lines)
        self.merge(count, total)

    def merge(self, count: int, sum64: int) -> None:
        """Add the totals of a digest computed elsewhere."""
        self.count += count
        self._sum = (self._sum + sum64) & MASK64

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "sum64": f"{self._sum:016x}"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Digest:
        return cls(int(data["count"]), int(str(data["sum64"]), 16))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Digest):
            return NotImplemented
        return (self.count, self._sum) == (other.count, other._sum)

    def __hash__(self) -> int:
        return hash((self.count, self._sum))

    def __repr__(self) -> str:
        return f"Digest(count={self.count}, sum64=0x{self._sum:016x})"


def now_iso() -> str:
    """The current UTC time, ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def manifest_path(output: str | os.PathLike[str]) -> Path:
    """Where the manifest of ``output`` goes: ``<output>.manifest.json``."""
    out = Path(output)
    return out.with_name(out.name + MANIFEST_SUFFIX)


@dataclass
class Manifest:
    """What one simulator run wrote; serialised as ``smartcar-manifest/1`` JSON."""

    kind: str
    seed: int
    parameters: dict[str, Any]
    output: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: str = field(default_factory=now_iso)
    finished: str | None = None
    header_lines: int = 0
    records: int = 0
    per_car: dict[str, int] = field(default_factory=dict)
    digest: dict[str, Any] = field(default_factory=lambda: Digest().to_dict())
    garbage: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    rotated: list[str] | None = None
    rotations: int | None = None
    format: str = FORMAT

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for optional in ("rotated", "rotations"):
            if data[optional] is None:
                del data[optional]
        order = ["format", "kind", "run_id", "seed", "parameters", "started", "finished"]
        return {key: data[key] for key in order} | {
            key: value for key, value in data.items() if key not in order
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} manifest: format={data.get('format')!r}")
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def record_digest(self) -> Digest:
        return Digest.from_dict(self.digest)

    @property
    def garbage_lines(self) -> int:
        return sum(self.garbage.values())

    def write(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write atomically (temp file + rename) to ``path``, by default beside the output."""
        target = Path(path) if path is not None else manifest_path(self.output)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, target)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Manifest:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
