"""python -m simulator: the smart-car log generator.

    python -m simulator car-status --date 20160101 --cars 100 --out DIR [--spool DIR]
    python -m simulator driver --date 20160101 --cars 100 --out FILE [--duration S]

Bad arguments, dates or paths end with a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from simulator.cars import MAX_CARS
from simulator.clock import DateError, parse_date
from simulator.driver import run_driver
from simulator.status import default_workers, write_status_file

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _date(text: str) -> str:
    try:
        parse_date(text)
    except DateError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _cars(text: str) -> int:
    value = _int(text)
    if not 1 <= value <= MAX_CARS:
        raise argparse.ArgumentTypeError(f"cars must be between 1 and {MAX_CARS}, not {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _positive_int(text: str) -> int:
    value = _int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _count(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _positive_float(text: str) -> float:
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def _fraction(text: str) -> float:
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def build_parser() -> Parser:
    parser = Parser(prog="simulator", description="The smart-car log generator.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    status = sub.add_parser("car-status", help="write a day's SmartCarStatusInfo_<date>.txt")
    driver = sub.add_parser("driver", help="append SmartCarDriverInfo records in real time")
    for p in (status, driver):
        p.add_argument("--date", required=True, type=_date, help="the day, YYYYMMDD")
        p.add_argument("--cars", required=True, type=_cars, help="number of cars")
        p.add_argument("--seed", type=_int, help="seed (default: random, in the manifest)")
        p.add_argument(
            "--garbage-rate",
            type=_fraction,
            default=0.0,
            metavar="R",
            help="garbage lines per valid record, 0-1 (default 0)",
        )
    status.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    status.add_argument(
        "--spool", type=Path, metavar="DIR", help="hand the finished file to this spooling folder"
    )
    status.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="worker processes (default: CPUs, at most 4)",
    )

    driver.add_argument("--out", required=True, type=Path, metavar="FILE", help="log file")
    driver.add_argument(
        "--rate", type=_positive_float, default=10.0, help="records a second per car (default 10)"
    )
    until = driver.add_mutually_exclusive_group()
    until.add_argument("--duration", type=_positive_float, metavar="S", help="seconds to run")
    until.add_argument("--records", type=_count, metavar="N", help="records to write, all cars")
    driver.add_argument(
        "--rotate-bytes",
        type=_positive_int,
        metavar="B",
        help="rotate FILE to FILE.1 (.. FILE.5) past B bytes",
    )
    return parser


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _car_status(args: argparse.Namespace, parser: Parser) -> int:
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is not a folder")
    if args.spool is not None and not args.spool.is_dir():
        parser.error(f"--spool {args.spool} does not exist or is not a folder")
    began = time.perf_counter()
    workers = args.workers or default_workers(args.cars)
    signal.signal(signal.SIGTERM, _interrupt)  # unwinds: the temp file is removed
    try:
        manifest = write_status_file(
            args.date, args.cars, args.out, args.seed, args.spool, args.garbage_rate,
            workers=workers,
        )  # fmt: skip
    except KeyboardInterrupt:
        print("car-status: interrupted; no status file written", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(
        f"car-status: wrote {manifest.lines} lines ({manifest.records} records, "
        f"{manifest.header_lines} headers, {manifest.garbage_lines} garbage) to "
        f"{manifest.output} in {time.perf_counter() - began:.1f} s (seed {manifest.seed})"
    )
    return 0


def _driver(args: argparse.Namespace, parser: Parser) -> int:
    if args.out.is_dir():
        parser.error(f"--out {args.out} is a folder, not a log file")
    if not args.out.parent.is_dir():
        parser.error(f"--out {args.out}: folder {args.out.parent} does not exist")
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    manifest = run_driver(
        args.date,
        args.cars,
        args.out,
        args.rate,
        args.duration,
        args.records,
        args.seed,
        args.rotate_bytes,
        args.garbage_rate,
        stop_event=stop,
    )
    print(
        f"driver: wrote {manifest.lines} lines ({manifest.records} records, "
        f"{manifest.header_lines} headers, {manifest.garbage_lines} garbage) to "
        f"{manifest.output} (seed {manifest.seed})",
        flush=True,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = _car_status if args.command == "car-status" else _driver
    try:
        return command(args, parser)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    sys.exit(main())
