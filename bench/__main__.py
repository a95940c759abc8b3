"""`make bench`: every benchmark of the project, each printing figures and ratios from one run.

Run one with `python -m bench simulator` (or `agents`); no argument runs them all.
Targets are printed beside the measured figures; a missed target is shown, never hidden.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS: tuple[str, ...] = ("simulator", "agents", "file_channel", "avro_rpc")


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
        return 2
    for name in chosen:
        importlib.import_module(f"bench.{name}").run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
