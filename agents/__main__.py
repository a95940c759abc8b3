"""``python -m agents``: run a Flume-equivalent agent, like ``flume-ng agent``.

    python -m agents --conf-file SmartCar_Agent.conf --name SmartCar_Agent
    python -m agents -f SmartCar_Agent.conf -n SmartCar_Agent --check

A config with errors is refused, in run mode as under ``--check`` (file, line, key and a
suggestion for each, and what Flume and ``--lenient`` would do); ``--lenient`` runs the config
as Apache Flume runs it: unknown keys ignored, bad values read as Flume reads them, broken
pieces left out, one WARNING each (``agents.config.topology``).
``--check`` has no side effects: it creates nothing and connects nowhere (it does import the
Python modules that custom component types name).

``--flow-processes`` runs each independent flow (no channel, sink or sink group shared with
another) in a process of its own, supervised by the agent process: one ``/metrics``, one stop,
a flow process that dies is restarted (``agents.supervisor``). ``--flow NAME`` runs only that
flow (what each flow process runs). ``--check`` is the same either way.

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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from agents.builder import AgentBuild, build
from agents.config.properties import load_properties
from agents.config.topology import build_plan
from agents.errors import AgentError, ConfigError, Problem

if TYPE_CHECKING:
    from agents.monitoring import MonitoringServer
    from agents.runtime import Agent
    from agents.supervisor import Supervisor

FLOW_PROCESSES = True  # the default of --flow-processes (docs/performance.md: measured)


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
        "--flow-processes",
        action=argparse.BooleanOptionalAction,
        default=FLOW_PROCESSES,
        help="run each independent flow in a process of its own, supervised by this one "
        f"(default {'on' if FLOW_PROCESSES else 'off'}; a config with one flow runs in one "
        "process either way)",
    )
    p.add_argument("--flow", metavar="NAME", help="run only this flow of the agent (named by "
                   "its sources, joined by '+'; by its sinks if it has none)")  # fmt: skip
    p.add_argument("--supervisor", help=argparse.SUPPRESS)  # a flow process: PARENT_PID:FD
    p.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"],
    )
    return p.parse_args(argv)


def setup_logging(level: str, flow: str | None = None) -> None:
    """Log lines to stdout; a flow process's lines say its flow (``[flow NAME]``)."""
    handler = logging.StreamHandler(sys.stdout)
    where = f"[flow {flow.replace('%', '%%')}] " if flow else ""
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s %(levelname)-5s {where}[%(name)s] %(message)s")
    )
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
    from agents.runtime import Agent

    log = logging.getLogger("agents")
    supervised = args.supervisor is not None
    if supervised:  # a flow process: die with the agent process that started it
        from agents.supervisor import die_with_parent

        die_with_parent(int(args.supervisor.split(":")[0]))
    built = build(build_plan(load_properties(args.conf_file), args.name))
    flows = built.flows()
    try:
        agent = Agent(built, Path(args.state_dir) if args.state_dir else None, args.stall_after)
    except ConfigError:
        agent = None
    problems = _sorted(built.problems)
    blocking = sum(p.blocks(args.lenient) for p in problems)
    for p in problems if blocking or not supervised else []:  # the agent process said them
        said = _say(p, args.lenient)
        level, _, text = said.partition(": ")
        (log.error if level == "error" else log.warning)("%s", text)
    if agent is None or blocking:
        log.error(
            "agent %s: %d configuration error(s); refusing to run%s",
            args.name,
            blocking,
            ""
            if args.lenient or any(p.lenient == "refuse" for p in problems)
            else " (fix them, or run with --lenient to run the config as Flume would)",
        )
        return _refused(args, "configuration errors")
    if args.flow is not None:
        if args.flow not in flows:
            log.error("agent %s has no flow %r; its flows: %s", args.name, args.flow,
                      ", ".join(flows))  # fmt: skip
            return _refused(args, f"no flow {args.flow!r} in {args.conf_file}")
        agent = Agent(flows[args.flow], agent.state_dir, args.stall_after)
    elif args.flow_processes and len(flows) > 1:
        return supervise(args, flows)
    elif args.flow_processes:
        log.info("agent %s has one flow: it runs in this process", args.name)
    if supervised:
        from multiprocessing.connection import Connection

        from agents.supervisor import serve_flow

        conn = Connection(int(args.supervisor.split(":")[1]))
        return serve_flow(agent, conn, args.drain_timeout)
    return run_agent(args, agent)


def _refused(args: argparse.Namespace, why: str) -> int:
    """Exit 1; a flow process tells the agent process first, which stops (not restarts)."""
    if args.supervisor is not None:
        from multiprocessing.connection import Connection

        with Connection(int(args.supervisor.split(":")[1])) as conn:
            conn.send(("fatal", 1, why))
    return 1


def on_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set *stop*: whoever waits on it drains and stops."""
    log = logging.getLogger("agents")

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s: draining and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def supervise(args: argparse.Namespace, flows: Mapping[str, AgentBuild]) -> int:
    """Run each flow in a process of its own (``agents.supervisor``) until told to stop."""
    from agents.supervisor import Supervisor

    argv = ["-f", args.conf_file, "-n", args.name, "--drain-timeout", str(args.drain_timeout),
            "--stall-after", str(args.stall_after), "--log-level", args.log_level]  # fmt: skip
    argv += ["--lenient"] if args.lenient else []
    argv += ["--state-dir", args.state_dir] if args.state_dir else []
    supervisor = Supervisor(args.name, flows, argv, args.conf_file, args.drain_timeout)
    stop = threading.Event()
    on_stop_signals(stop)
    monitor = start_monitoring(args, supervisor)
    try:
        return supervisor.run(stop)
    finally:
        if monitor is not None:
            monitor.stop()


def start_monitoring(
    args: argparse.Namespace, target: Agent | Supervisor
) -> MonitoringServer | None:
    """The HTTP server of ``--monitoring-port`` for *target*, started; None without one."""
    from agents.monitoring import MonitoringServer

    if args.monitoring_port is None:
        return None
    monitor = MonitoringServer(target, args.monitoring_port, args.monitoring_host)
    monitor.start()
    logging.getLogger("agents").info(
        "metrics at http://%s:%d/metrics", args.monitoring_host, monitor.port
    )
    return monitor


def run_agent(args: argparse.Namespace, agent: Agent) -> int:
    """Run *agent* in this process until told to stop (or a component stops it)."""
    log = logging.getLogger("agents")
    stop = threading.Event()
    on_stop_signals(stop)
    monitor = start_monitoring(args, agent)
    agent.on_fatal = stop.set  # a component that must stop the agent (exit 1, or 3 if fenced)
    try:
        agent.start()
    except AgentError as exc:
        log.error("agent %s: %s; stopping", args.name, exc)
        if monitor is not None:
            monitor.stop()
        return 1
    if agent.fatal is None:
        what = f"flow {args.flow}" if args.flow is not None else f"agent {args.name}"
        log.info("%s started from %s", what, args.conf_file)
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
    setup_logging(args.log_level, args.flow if args.supervisor is not None else None)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
