"""Flows in processes of their own: one process per independent flow, supervised by the agent.

One Python process holds one GIL, so the flows of one agent take turns on one core. An agent
whose flows share nothing (``AgentBuild.flows``: no channel, sink or sink group in common; the
pilot's two flows, the examples' collectors) can run each flow in a child process of its own
(``--flow-processes``). The agent process (the parent) then runs no component: it

- starts one child per flow, ``python -m agents <the agent's options> --flow NAME``, so the
  child reads and checks the same config and runs only its flow; the child logs with
  ``[flow NAME]`` in each line;
- serves one ``/metrics``: it asks each child for its components' metrics at each scrape and
  serves the merge (the flows share no component, so no name is served twice). Counts carry
  on across a child's restart (what the dead child had said at the last scrape before it died
  is added to the new one's counts), and every component of a restarted flow counts the
  restart in ``RestartCount``; while a flow is down its components' ``Health`` says so
  (``restarting: ...``);
- restarts a child that died (any exit it did not ask for: a crash, SIGKILL, the OOM killer)
  after a growing pause (``CRASH_PAUSE``, as a runner restarts a component). State lives on
  disk per component (TAILDIR positions, spooldir trackers, file channels), so the new child
  resumes where the dead one had committed: at least once, as for a killed agent. What a dead
  child held in a memory channel is lost, as with a killed agent;
- stops them all on SIGTERM or SIGINT: each child drains with the agent's ``--drain-timeout``
  (children stop in parallel) and is killed if it has not exited ``STOP_GRACE`` s after that;
- stops them all when one of them stops for good (a ``FatalError`` that stops the agent:
  another agent holds its spool dir, a fenced exactly-once sink) and exits with its code.

A child dies with its parent: it asks Linux for SIGKILL when the parent dies
(``PR_SET_PDEATHSIG``) and, wherever that is missing, exits when its socket to the parent
reaches end of file. Children are only started from the thread that runs ``Supervisor.run``
(the main thread), because Linux sends that signal when the *thread* that started the child
ends.

Parent and child talk over a socket pair (``multiprocessing.connection`` framing, pickled
tuples), as ``agents.sinks.kafka_process`` does: parent -> child ``("metrics",)``,
``("stop",)``; child -> parent ``("started",)``, ``("metrics", data or None)``, ``("fatal",
exit code, why)``, ``("stopped",)``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from agents.builder import AgentBuild
from agents.component import growing_pause
from agents.errors import AgentError
from agents.monitoring import GAUGES, Metrics
from agents.runners import CRASH_PAUSE
from agents.runtime import Agent

log = logging.getLogger("agents.supervisor")

STOP_GRACE = 15.0  # s a child gets beyond the drain timeout to exit before it is killed
ASK_TIMEOUT = 5.0  # s a child gets to answer a metrics request
LOOK_EVERY = 0.25  # s between the supervisor's looks at a stop request and due restarts
PARENT_GONE = 70  # a child's exit code when it finds its parent gone (EX_SOFTWARE)
NOT_COUNTS = {*GAUGES, "Type", "Health", "Segments", "SegmentBytes"}  # not carried on
PR_SET_PDEATHSIG = 1


class FlowProcess:
    """One flow's child process, as the parent sees it: started, asked, restarted, stopped."""

    def __init__(self, name: str, built: AgentBuild, argv: Sequence[str]) -> None:
        self.name = name
        self.argv = list(argv)  # python -m agents <options>, without --flow
        comps = (*built.sources.values(), *built.channels.values(), *built.sinks.values())
        self.keys = [f"{c.KIND}.{c.name}" for c in comps]  # what /metrics shows of this flow
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None
        self._lock = threading.Lock()  # one request at a time on the socket
        self.running = False  # this child said its flow runs
        self.fatal: tuple[int, str] | None = None  # the child stopped for good: code, why
        self.state = "starting"
        self.restart_at: float | None = None  # when a dead child is started again
        self._started_at = 0.0
        self._crashes = 0  # deaths in a row, for the growing pause
        self._stopping = False
        self._last: Metrics = {}  # what the running child said last
        self._earlier: dict[str, dict[str, int]] = {}  # counts of children that died

    # -- life
    def spawn(self) -> None:
        """Start the child (from the supervisor's thread only: see the module's doc)."""
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[1])  # this checkout; the cwd stays first
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
        argv = [sys.executable, "-m", "agents", *self.argv, "--flow", self.name,
                "--supervisor", f"{os.getpid()}:{theirs.fileno()}"]  # fmt: skip
        try:
            self.proc = subprocess.Popen(argv, pass_fds=(theirs.fileno(),),
                                         stdin=subprocess.DEVNULL, env=env)  # fmt: skip
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.running, self.restart_at, self.state = False, None, "starting"
        self._started_at = time.monotonic()
        log.info("flow %s: process %d started", self.name, self.proc.pid)

    def take(self) -> None:
        """Read what the child said on its own (started, fatal), and notice its end."""
        with self._lock:
            conn = self.conn
            try:
                while conn is not None and conn.poll(0):
                    self._note(conn.recv())
            except (EOFError, OSError):
                self._ended()

    def ask(self) -> None:
        """Ask the running child for its metrics (kept in ``_last``)."""
        with self._lock:
            conn = self.conn
            if conn is None or not self.running:
                return
            try:
                conn.send(("metrics",))
                deadline = time.monotonic() + ASK_TIMEOUT
                while conn.poll(max(0.0, deadline - time.monotonic())):
                    message = conn.recv()
                    if message[0] == "metrics":
                        if message[1] is not None:
                            self._last = message[1]
                        return
                    self._note(message)
                log.warning("flow %s: no metrics within %.0f s", self.name, ASK_TIMEOUT)
            except (EOFError, OSError):
                self._ended()

    def _note(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "started":
            self.running, self.state = True, "running"
            log.info("flow %s: running in process %d", self.name, self.pid)
        elif kind == "fatal":
            self.fatal = (message[1], message[2])

    def _ended(self) -> None:
        """The child's socket reached its end: the child exited (or is exiting)."""
        assert self.conn is not None and self.proc is not None
        self.conn.close()
        self.conn = None
        self.running = False
        try:
            code = self.proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:  # it closed its socket and lives on: end it
            self.proc.kill()
            code = self.proc.wait()
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        if self._stopping or self.fatal is not None:
            self.state = f"stopped: flow process {how}"
            return
        for key, snap in self._last.items():  # carry its counts on into the next child's
            counts = self._earlier.setdefault(key, {})
            for counter, value in snap.items():
                if counter not in NOT_COUNTS and str(value).lstrip("-").isdigit():
                    counts[counter] = counts.get(counter, 0) + int(str(value))
        for key in self.keys:
            counts = self._earlier.setdefault(key, {})
            counts["RestartCount"] = counts.get("RestartCount", 0) + 1
        self._last = {k: {c: v for c, v in snap.items() if c in NOT_COUNTS}
                      for k, snap in self._last.items()}  # fmt: skip
        if time.monotonic() - self._started_at > CRASH_PAUSE[1]:  # it had run well
            self._crashes = 0
        pause = growing_pause(*CRASH_PAUSE, self._crashes)
        self._crashes += 1
        self.restart_at = time.monotonic() + pause
        self.state = f"restarting: flow process {how}; started again in {pause:.0f} s"
        log.warning("flow %s: process %d ended (%s); starting it again in %.0f s", self.name,
                    self.proc.pid, how, pause)  # fmt: skip

    def stop(self) -> None:
        """Ask the child to drain and stop (it exits when done)."""
        self._stopping = True
        self.restart_at = None
        with self._lock:
            if self.conn is not None:
                with contextlib.suppress(OSError):
                    self.conn.send(("stop",))

    def wait_stopped(self, deadline: float) -> None:
        """Wait for the child to exit until *deadline* (monotonic); kill it after that."""
        while self.conn is not None:
            ready = wait([self.conn], max(0.0, deadline - time.monotonic()))
            if not ready:
                assert self.proc is not None
                log.warning("flow %s: process %d has not stopped; killing it", self.name,
                            self.proc.pid)  # fmt: skip
                self.proc.kill()
            self.take()

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    # -- what /metrics shows of this flow
    def metrics(self) -> Metrics:
        out: Metrics = {}
        for key in dict.fromkeys([*self.keys, *self._last]):
            snap = dict(self._last.get(key, {"Type": key.split(".", 1)[0]}))
            for counter, n in self._earlier.get(key, {}).items():
                snap[counter] = str(int(str(snap.get(counter, "0"))) + n)
            if not self.running:
                snap["Health"] = self.state
            out[key] = snap
        return out


class Supervisor:
    """The agent process when its flows run in processes of their own: starts, watches,
    restarts and stops one ``FlowProcess`` per flow; serves their metrics as one agent's."""

    def __init__(self, name: str, flows: Mapping[str, AgentBuild], argv: Sequence[str],
                 conf: str, drain_timeout: float = 30.0) -> None:  # fmt: skip
        self.name = name
        self.conf = conf  # the config file, for the log
        self.drain_timeout = drain_timeout  # each child's; the parent waits STOP_GRACE more
        self.flows = [FlowProcess(flow, built, argv) for flow, built in flows.items()]
        self.fatal: tuple[int, str] | None = None

    def metrics(self) -> Metrics:
        out: Metrics = {}
        for flow in self.flows:
            flow.ask()
            out.update(flow.metrics())
        return out

    def run(self, stop: threading.Event) -> int:
        """Run the flows until *stop* is set or one stops for good; stop them; the exit code.
        Call from the main thread (children die with the thread that started them)."""
        for flow in self.flows:
            flow.spawn()
        said = False
        while not stop.is_set() and self.fatal is None:
            conns = [f.conn for f in self.flows if f.conn is not None]
            ready = wait(conns, LOOK_EVERY) if conns else []
            if not conns:
                stop.wait(LOOK_EVERY)  # every flow is waiting for its restart
            for flow in self.flows:
                if flow.conn is not None and flow.conn in ready:
                    flow.take()
                if flow.fatal is not None and self.fatal is None:
                    self.fatal = flow.fatal
                    log.error("flow %s stopped for good (%s): stopping the agent", flow.name,
                              flow.fatal[1])  # fmt: skip
                if flow.restart_at is not None and time.monotonic() >= flow.restart_at:
                    flow.spawn()
            if not said and all(f.running for f in self.flows):
                said = True
                log.info("agent %s started from %s: %d flows in processes of their own (%s)",
                         self.name, self.conf, len(self.flows),
                         ", ".join(f"{f.name}: pid {f.pid}" for f in self.flows))  # fmt: skip
        return self.stop()

    def stop(self) -> int:
        for flow in self.flows:
            flow.stop()
        deadline = time.monotonic() + self.drain_timeout + STOP_GRACE
        for flow in self.flows:
            flow.wait_stopped(deadline)
            if flow.fatal is not None and self.fatal is None:
                self.fatal = flow.fatal
        code = self.fatal[0] if self.fatal is not None else 0
        log.info("agent %s stopped", self.name) if not code else log.error(
            "agent %s stopped (exit %d)", self.name, code)  # fmt: skip
        return code


# -- the child --------------------------------------------------------------------------------
def die_with_parent(parent: int) -> None:
    """Be killed when *parent* dies (Linux); exit now if it is already gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(PARENT_GONE)


def serve_flow(agent: Agent, conn: Connection, drain_timeout: float) -> int:
    """A flow process's life: run *agent* (one flow), answer the parent, stop when told (or on
    SIGTERM); its exit code. SIGINT is the parent's to handle (a terminal sends it to all)."""
    lock = threading.Lock()
    stop = threading.Event()
    started = threading.Event()

    def send(message: tuple[Any, ...]) -> None:
        with lock, contextlib.suppress(OSError):
            conn.send(message)

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the parent is gone: so is this flow, as if killed
                os._exit(PARENT_GONE)
            if message[0] == "metrics":
                send(("metrics", agent.metrics() if started.is_set() else None))
            elif message[0] == "stop":
                stop.set()

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    threading.Thread(target=listen, name="supervisor", daemon=True).start()
    agent.on_fatal = stop.set
    try:
        agent.start()
    except AgentError as exc:
        log.error("flow cannot start: %s", exc)
        send(("fatal", 1, str(exc)))
        return 1
    started.set()
    send(("started",))
    stop.wait()
    agent.stop(drain_timeout)
    if agent.fatal is not None:
        send(("fatal", agent.fatal.exit_code, str(agent.fatal)))
        return agent.fatal.exit_code
    send(("stopped",))
    return 0
