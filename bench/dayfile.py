"""The input every collector moves: the simulator's status day, and its records alone.

The day file holds the simulator's records plus its garbage lines; a collector under test
filters it through ``^\\d{14}`` (a record starts with its 14-digit timestamp). kcat cannot
filter, so it gets the pre-filtered copy (made here, untimed): its figure is the ceiling of
producing those records, not of the whole job.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from simulator.status import write_status_file

RECORD = rb"^\d{14}"  # the filter every system applies
DATE = "20160101"


@dataclass(frozen=True)
class DayFile:
    path: Path  # the simulator's file (records and garbage)
    records_path: Path  # its records only, in order
    cars: int
    lines: int
    records: int
    size: int
    last_record: bytes  # what the topic's newest record must be

    def link_into(self, directory: Path) -> Path:
        """Hand the file to a collector: a hard link appears at once, whole, in *directory*
        (the original stays for the next system)."""
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / self.path.name
        os.link(self.path, target)
        return target

    def to_json(self) -> dict[str, object]:
        return {
            "cars": self.cars,
            "lines": self.lines,
            "records": self.records,
            "bytes": self.size,
            "filter": RECORD.decode(),
        }


def make_day_file(work: Path, cars: int) -> DayFile:
    """Write a *cars*-car day with the simulator (seed 1) and its records-only copy."""
    manifest = write_status_file(DATE, cars, work / "day", seed=1, workers=2)
    path = Path(manifest.output)
    records_path = work / "records" / path.name
    records_path.parent.mkdir(parents=True, exist_ok=True)
    keep = re.compile(RECORD).match
    count, last = 0, b""
    with open(path, "rb") as src, open(records_path, "wb") as out:
        for line in src:
            if keep(line):
                out.write(line)
                count, last = count + 1, line
    if count != manifest.records:
        raise RuntimeError(
            f"{path}: {count} lines match {RECORD!r}, the manifest says {manifest.records} records"
        )
    return DayFile(
        path, records_path, cars, manifest.lines, count, path.stat().st_size, last.rstrip(b"\n")
    )
