"""A run's checks: PASS/FAIL with what was measured and what to look at, and its figures.
`labctl verify` (per pilot stage) and `labctl example run` (per architecture) both report so."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Check:
    stage: int
    name: str
    ok: bool
    measured: str = ""
    hint: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, stage: int, name: str, ok: object, measured: object = "", hint: str = "") -> None:
        """*ok* is taken for its truth (a check may pass a count or a list)."""
        self.checks.append(Check(stage, name, bool(ok), str(measured), "" if ok else hint))

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"format": "labctl-verify/1", "ok": self.ok,
                "checks": [asdict(c) for c in self.checks], "figures": self.figures}  # fmt: skip
