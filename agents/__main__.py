"""``python -m agents``: run a Flume-equivalent agent, like ``flume-ng agent``.

    python -m agents --conf-file SmartCar_Agent.conf --name SmartCar_Agent
    python -m agents -f SmartCar_Agent.conf -n SmartCar_Agent --check

A config with errors is refused, in run mode as under ``--check`` (file, line, key and a
suggestion for each, and what Flume and ``--lenient`` would do); ``--lenient`` runs the config
as Apache Flume runs it: unknown keys ignored, bad values read as Flume reads them, broken
pieces left out, one WARNING each (``agents.config.topology``).
``--check`` has no side effects: it creates nothing and connects nowhere (it does import the
Python modules that custom component types name).

Exit codes: 0 ran and stopped cleanly (or ``--check`` found no error), 1 configuration errors
or a component that cannot run (a file channel's directories or a spool dir or position file
that another agent holds), 2 bad usage, 3 stopped because another agent took over an
exactly-once sink's transactional.id (this one was fenced: docs/exactly-once.md).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from agents.builder import build
from agents.config.properties import load_properties
from agents.config.topology import build_plan
from agents.errors import AgentError, ConfigError, Problem


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m agents", description=__doc__.splitlines()[0])
    p.add_argument("-f", "--conf-file", required=True, help="Flume properties file")
    p.add_argument("-n", "--name", required=True, help="agent name in the file")
    p.add_argument("-c", "--conf", help="accepted for flume-ng compatibility; unused")
    p.add_argument("--monitoring-port", type=int, help="serve /metrics on this port")
    p.add_argument("--monitoring-host", default="127.0.0.1", help="default 127.0.0.1")
    p.add_argument("--check", action="store_true", help="validate the config and exit 0/1")
    p.add_argument(
        "--lenient",
        action="store_true",
        help="run the config as Flume runs it: ignore what Flume ignores, leave out what it "
        "leaves out (one WARNING each)",
    )
    p.add_argument(
        "--state-dir",
        help="where the agent keeps its state, e.g. dead letters (default ~/.flume/agents/<name>)",
    )
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="seconds sinks get to drain the channels at stop (default 30)",
    )
    p.add_argument(
        "--stall-after",
        type=float,
        default=10.0,
        help="seconds without progress before a sink is 'stalled' or a source "
        "'blocked' (default 10)",
    )
    p.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"],
    )
    return p.parse_args(argv)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s [%(name)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    events = logging.getLogger("agents.events")  # logger sink lines, already formatted
    events.propagate = False
    raw = logging.StreamHandler(sys.stdout)
    raw.setFormatter(logging.Formatter("%(message)s"))
    events.handlers[:] = [raw]
    events.setLevel(logging.INFO)


def check(conf_file: str, name: str, lenient: bool = False) -> int:
    """Build the agent (configured, never started: no side effects) and say what it found."""
    built = build(build_plan(load_properties(conf_file), name))
    problems = _sorted(built.problems)
    for problem in problems:
        print(_say(problem, lenient))
    blocking = sum(p.blocks(lenient) for p in problems)
    flows = built.plan.describe() if not any(p.lenient == "refuse" and p.blocks(lenient)
                                       for p in problems) else []  # fmt: skip
    print(
        f"{conf_file}: agent {name}: {blocking} error(s), "
        f"{len(problems) - blocking} warning(s)"
        + ("; these would run" + (" with --lenient:" if not lenient and blocking else ":")
           if flows else "; nothing would run")
    )  # fmt: skip
    for line in flows:
        print(f"  {line}")
    for line in built.notes if built.runnable else []:
        print(f"  {line}")
    return 1 if blocking else 0


def _say(problem: Problem, lenient: bool) -> str:
    """One problem as this mode reports it: an error --lenient runs is a warning there."""
    if problem.blocks(lenient):
        return f"error: {problem}"
    return f"warning: {problem.lenient_str() if lenient else problem}"


def _sorted(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(set(problems), key=lambda p: (p.line or 0, str(p)))


def run(args: argparse.Namespace) -> int:
    from agents.monitoring import MonitoringServer
    from agents.runtime import Agent

    log = logging.getLogger("agents")
    built = build(build_plan(load_properties(args.conf_file), args.name))
    try:
        agent = Agent(built, Path(args.state_dir) if args.state_dir else None, args.stall_after)
    except ConfigError:
        agent = None
    problems = _sorted(built.problems)
    for p in problems:
        said = _say(p, args.lenient)
        level, _, text = said.partition(": ")
        (log.error if level == "error" else log.warning)("%s", text)
    blocking = sum(p.blocks(args.lenient) for p in problems)
    if agent is None or blocking:
        log.error(
            "agent %s: %d configuration error(s); refusing to run%s",
            args.name,
            blocking,
            ""
            if args.lenient or any(p.lenient == "refuse" for p in problems)
            else " (fix them, or run with --lenient to run the config as Flume would)",
        )
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s: draining and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    monitor = None
    if args.monitoring_port is not None:
        monitor = MonitoringServer(agent, args.monitoring_port, args.monitoring_host)
        monitor.start()
        log.info("metrics at http://%s:%d/metrics", args.monitoring_host, monitor.port)
    agent.on_fatal = stop.set  # a component that must stop the agent (exit 1, or 3 if fenced)
    try:
        agent.start()
    except AgentError as exc:
        log.error("agent %s: %s; stopping", args.name, exc)
        if monitor is not None:
            monitor.stop()
        return 1
    if agent.fatal is None:
        log.info("agent %s started from %s", args.name, args.conf_file)
    stop.wait()
    agent.stop(args.drain_timeout)
    if monitor is not None:
        monitor.stop()
    if agent.fatal is not None:
        # the component said why, in one line; this says only that the agent stopped for it
        log.error("agent %s stopped (exit %d)", args.name, agent.fatal.exit_code)
        return agent.fatal.exit_code
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.check:
        return check(args.conf_file, args.name, args.lenient)
    setup_logging(args.log_level)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
