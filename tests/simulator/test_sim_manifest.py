"""The manifest format and the record digest a verifier recomputes."""

from __future__ import annotations

import json
import random
from hashlib import blake2b
from pathlib import Path

import pytest

from simulator.manifest import FORMAT, Digest, Manifest, line_digest, line_hash, manifest_path

LINES = [f"20160101{i:06d},K0001,1,0,F,N,{i},A01".encode() for i in range(500)]


def test_line_digest_is_the_documented_sum() -> None:
    expected = sum(int.from_bytes(blake2b(x, digest_size=8).digest(), "big") for x in LINES)
    assert line_digest(LINES) == (500, expected % 2**64)
    assert line_digest([]) == (0, 0)
    assert line_hash(b"abc") == int(blake2b(b"abc", digest_size=8).hexdigest(), 16)


def test_digest_is_order_independent_and_mergeable() -> None:
    one = Digest()
    for line in LINES:
        one.add(line)
    shuffled = LINES[:]
    random.Random(1).shuffle(shuffled)
    two = Digest()
    two.add_many(shuffled[:200])
    part = Digest()
    part.add_many(shuffled[200:])
    two.merge(part.count, part.sum64)
    assert one == two
    assert one.to_dict() == {"count": 500, "sum64": f"{line_digest(LINES)[1]:016x}"}
    assert Digest.from_dict(one.to_dict()) == one
    assert len(one.to_dict()["sum64"]) == 16
    assert one != Digest(500, one.sum64 + 1)


def test_sum_wraps_modulo_two_to_the_64() -> None:
    digest = Digest(sum64=2**64 - 1)
    digest.merge(1, 2)
    assert digest.sum64 == 1 and digest.count == 1


def test_manifest_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "x.log"
    m = Manifest(kind="driver", seed=9, parameters={"cars": 1}, output=str(out), rotated=[])
    m.records = 3
    m.per_car = {"K0001": 3}
    path = m.write()
    assert path == manifest_path(out) == tmp_path / "x.log.manifest.json"
    data = json.loads(path.read_text())
    assert list(data)[:7] == [
        "format",
        "kind",
        "run_id",
        "seed",
        "parameters",
        "started",
        "finished",
    ]
    assert data["format"] == FORMAT == "smartcar-manifest/1"
    assert len(data["run_id"]) == 32 and int(data["run_id"], 16) >= 0
    assert Manifest.load(path) == m
    assert not list(tmp_path.glob(".*"))  # the temp file is gone
    status = Manifest(kind="car-status", seed=1, parameters={}, output="f")
    assert "rotated" not in status.to_dict()


def test_foreign_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"format": "other/1"}')
    with pytest.raises(ValueError, match="smartcar-manifest/1"):
        Manifest.load(path)
