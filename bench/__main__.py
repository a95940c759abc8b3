"""`make bench`: every benchmark of the project, each printing figures and ratios from one run.

    python -m bench [--quick] [--rounds N] [--only kcat,rsyslog] [BENCHMARK ...]

BENCHMARKS: simulator, peers (our agent against kcat, rsyslog, Flume and the bare Python
loop), realtime (TAILDIR / exec latency at 1,000 lines/s), scale (1..4 flows on 3 brokers),
file_channel_pipeline (spooldir -> file -> kafka, our agent and Flume's file channel),
file_channel, avro_rpc (micro-benchmarks; they print only), exactly_once (the Kafka sink's
exactly-once mode beside at-least-once); none named runs them all.
Not in the default set: ``profile`` samples the agent with py-spy, ``trace`` times each
hop of the live path, ``hostile`` runs the hostile-input drill (peak RSS and a canary's stall
under each attack). Targets are printed beside the measured figures; a missed target is
shown, never hidden. A part that fails is reported as failed, with its reason, and the others
still run; the exit status is 1 if any failed. The figures (and the failures' reasons) are
also written to ``<lab home>/bench/bench-<time>.json``.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench.options import Options
from bench.peers import all_systems
from bench.report import machine, write_json

BENCHMARKS: tuple[str, ...] = (
    "simulator",
    "peers",
    "realtime",
    "scale",
    "file_channel_pipeline",
    "file_channel",
    "avro_rpc",
    "exactly_once",
)
EXTRA: tuple[str, ...] = ("profile", "trace", "hostile")


def parse(argv: list[str]) -> tuple[list[str], Options]:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument(
        "benchmarks",
        nargs="*",
        metavar="BENCHMARK",
        help=f"any of {', '.join(BENCHMARKS + EXTRA)} (default: all but {', '.join(EXTRA)})",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 10-car days (216,010 records), one round, 1..2 flows, 3 s live",
    )
    p.add_argument("--rounds", type=int, help="peers and scale: rounds (default 3, --quick 1)")
    p.add_argument(
        "--only",
        default="",
        help="peers: measure the agent and these systems only (python,kcat,...)",
    )
    args = p.parse_args(argv)
    unknown = [b for b in args.benchmarks if b not in BENCHMARKS + EXTRA]
    if unknown:
        p.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS + EXTRA)}")
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if rounds < 1:
        p.error("--rounds must be at least 1")
    only = tuple(s for s in args.only.split(",") if s)
    known = [s.key for s in all_systems()]
    wrong = [s for s in only if s not in known]
    if wrong:
        p.error(f"--only: unknown system {wrong[0]!r}; choose from {', '.join(known)}")
    return args.benchmarks or list(BENCHMARKS), Options(args.quick, rounds, only)


def _stop_cleanly(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so that every lab, daemon and temp folder is cleaned up."""
    raise SystemExit(128 + signum)


Part = Callable[[Options], Any]


def load(name: str) -> Part:
    """The ``run`` of benchmark *name* (its module is imported when it runs, so that one
    part that cannot even be imported fails alone)."""
    run: Part = importlib.import_module(f"bench.{name}").run
    return run


def run_parts(
    chosen: list[str], options: Options, results: dict[str, Any], parts: Callable[[str], Part]
) -> list[str]:
    """Run each chosen part in turn into *results*; return the names of those that failed.

    A part that raises is that part's failure: its reason is printed and kept in the JSON
    (``{"failed": reason}``), its lab and temporary files are gone (each part cleans up in its
    own ``finally``), and the next part runs. Ctrl-C and SIGTERM stop the whole run."""
    failed: list[str] = []
    for name in chosen:
        began = time.monotonic()
        try:
            results[name] = parts(name)(options)
        except Exception as exc:  # one part's failure, whatever it is, is that part's alone
            reason = f"{type(exc).__name__}: {exc}".strip()
            results[name] = {"failed": reason, "traceback": traceback.format_exc()}
            failed.append(name)
            print(traceback.format_exc(), file=sys.stderr, flush=True)
            print(f"bench: {name} FAILED after {time.monotonic() - began:.0f} s: {reason}",
                  flush=True)  # fmt: skip
        print(flush=True)
    return failed


def main(argv: list[str], parts: Callable[[str], Part] = load) -> int:
    chosen, options = parse(argv)
    signal.signal(signal.SIGTERM, _stop_cleanly)
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "options": vars(options) | {"cars": options.cars},
        "machine": machine(),
    }
    began = time.monotonic()
    failed: list[str] = []
    try:
        failed = run_parts(chosen, options, results, parts)
    finally:
        results["seconds"] = round(time.monotonic() - began, 1)
        results["load_average_after"] = machine()["load_average"]
        results["failed"] = failed
        path = write_json(results)
        done = [n for n in chosen if n in results and n not in failed]
        left = [n for n in chosen if n not in results]
        print(
            f"bench: {', '.join(done) or 'nothing'} done in {results['seconds']:.0f} s"
            + (f"; FAILED: {', '.join(failed)}" if failed else "")
            + (f" ({', '.join(left)} not: stopped)" if left else "")
            + f"; figures in {path}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
