"""``python -m agents``: run a Flume-equivalent agent, like ``flume-ng agent``.

    python -m agents --conf-file SmartCar_Agent.conf --name SmartCar_Agent
    python -m agents -f SmartCar_Agent.conf -n SmartCar_Agent --check

A config with errors is refused, in run mode as under ``--check`` (file, line, key and a
suggestion for each); ``--lenient`` runs what is valid and drops the rest, as Flume does.
``--check`` has no side effects: it creates nothing and connects nowhere (it does import the
Python modules that custom component types name).

Exit codes: 0 ran and stopped cleanly (or ``--check`` found no error), 1 configuration errors,
2 bad usage, 3 stopped because another agent took over an exactly-once sink's transactional.id
(this one was fenced: docs/exactly-once.md).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path

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
        help="run despite config errors, dropping the broken components (Flume's way)",
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


def check(conf_file: str, name: str) -> int:
    from agents.runtime import Agent

    plan = build_plan(load_properties(conf_file), name)
    agent = None
    with contextlib.suppress(ConfigError):
        agent = Agent(plan)
    problems = _sorted(plan.problems)
    for problem in problems:
        print(f"{problem.severity}: {problem}")
    errors = sum(p.severity == "error" for p in problems)
    flows = plan.describe()
    print(
        f"{conf_file}: agent {name}: {errors} error(s), "
        f"{len(problems) - errors} warning(s)"
        + ("; these would run:" if flows else "; nothing would run")
    )
    for line in flows:
        print(f"  {line}")
    for line in agent.notes if agent is not None else []:
        print(f"  {line}")
    return 1 if errors else 0


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(set(problems), key=lambda p: (p.line or 0, str(p)))


def run(args: argparse.Namespace) -> int:
    from agents.monitoring import MonitoringServer
    from agents.runtime import Agent

    log = logging.getLogger("agents")
    plan = build_plan(load_properties(args.conf_file), args.name)
    try:
        agent = Agent(plan, Path(args.state_dir) if args.state_dir else None, args.stall_after)
    except ConfigError as exc:
        for p in _sorted(exc.problems):
            (log.error if p.severity == "error" else log.warning)("%s", p)
        log.error("agent %s: nothing can run; stopping", args.name)
        return 1
    problems = _sorted(plan.problems)
    for p in problems:
        (log.error if p.severity == "error" else log.warning)("%s", p)
    errors = sum(p.severity == "error" for p in problems)
    if errors and not args.lenient:
        log.error(
            "agent %s: %d configuration error(s); refusing to run (fix them, or run with "
            "--lenient to drop the broken components as Flume does)",
            args.name,
            errors,
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
    try:
        agent.start()
    except AgentError as exc:
        log.error("agent %s: %s; stopping", args.name, exc)
        if monitor is not None:
            monitor.stop()
        return 1
    log.info("agent %s started from %s", args.name, args.conf_file)
    while not stop.wait(0.2) and not agent.ended.is_set():
        pass
    agent.stop(args.drain_timeout)
    if monitor is not None:
        monitor.stop()
    return 3 if agent.failure is not None else 0  # its sink said why, in one line


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.check:
        return check(args.conf_file, args.name)
    setup_logging(args.log_level)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
