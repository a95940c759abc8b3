"""An agent at run time: components built from a plan, started in order, supervised, drained.

Start order is channels, sinks, sources (so nothing is put before someone can take); stop is
the reverse: sources stop reading, sinks drain the channels (up to ``drain_timeout``), then
sinks and channels stop. A component that fails to start is retried with a growing pause and
shows as ``retrying: <why>`` in logs and metrics; a sink whose ``process`` raises backs off
and tries again: nothing dies silently.
"""

from __future__ import annotations

import logging
import threading
import time

from agents.channels.base import Channel
from agents.component import Component
from agents.config.topology import AgentPlan, ComponentPlan
from agents.errors import ConfigError, Problem
from agents.processor import ChannelProcessor
from agents.sinks.base import Sink, Status
from agents.sources.base import Source

log = logging.getLogger("agents.runtime")
MAX_BACKOFF = 5.0


class SinkRunner:
    """Calls ``sink.process()`` on its own thread until stopped."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"sink-{sink.name}", daemon=True)
        self.failure: str | None = None

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        pause = 0.0
        while not self.stopping.is_set():
            try:
                status = self.sink.process()
                self.failure = None
            except Exception as exc:
                self.failure = str(exc)
                self.sink.counters.error(str(exc))
                pause = min(max(pause * 2, 0.1), MAX_BACKOFF)
                self.sink.log.exception("sink failed; retrying in %.1fs", pause)
                self.stopping.wait(pause)
                continue
            if status is Status.BACKOFF:
                pause = min(max(pause * 2, 0.005), 0.05)
                self.stopping.wait(pause)
            else:
                pause = 0.0

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


class Agent:
    def __init__(self, plan: AgentPlan) -> None:
        self.plan = plan
        self.name = plan.agent
        self.channels: dict[str, Channel] = {}
        self.sources: dict[str, Source] = {}
        self.sinks: dict[str, Sink] = {}
        self.runners: dict[str, SinkRunner] = {}
        self.retrying: dict[str, str] = {}
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._build()

    def _configure(self, cp: ComponentPlan) -> Component:
        comp: Component = cp.cls(cp.name)
        comp.configure(cp.context)
        return comp

    def _build(self) -> None:
        """Configure every planned component; drop those with errors (as Flume does)."""
        plan = self.plan
        built = [*plan.channels.values(), *plan.sinks.values(), *plan.sources.values()]
        for name, cp in list(plan.channels.items()):
            ch = self._configure(cp)
            if not _has_errors(cp):
                self.channels[name] = ch  # type: ignore[assignment]
            else:
                del plan.channels[name]
        for name, cp in list(plan.sinks.items()):
            sink = self._configure(cp)
            if _has_errors(cp) or cp.channels[0] not in self.channels:
                del plan.sinks[name]
                continue
            sink.channel = self.channels[cp.channels[0]]  # type: ignore[attr-defined]
            self.sinks[name] = sink  # type: ignore[assignment]
        for name, cp in list(plan.sources.items()):
            source = self._configure(cp)
            interceptors = [self._configure(i) for i in cp.interceptors]
            broken = _has_errors(cp) or any(_has_errors(i) for i in cp.interceptors)
            channels = [self.channels[c] for c in cp.channels if c in self.channels]
            if broken or len(channels) != len(cp.channels):
                del plan.sources[name]
                continue
            source.processor = ChannelProcessor(  # type: ignore[attr-defined]
                channels,
                interceptors,  # type: ignore[arg-type]
            )
            source.interceptors = interceptors  # type: ignore[attr-defined]
            self.sources[name] = source  # type: ignore[assignment]
        for cp in built:
            plan.problems.extend(cp.context.problems)
            for i in cp.interceptors:
                plan.problems.extend(i.context.problems)
        if not self.sources and not self.sinks:
            raise ConfigError(
                [
                    *plan.problems,
                    Problem(plan.file, None, plan.agent, "has no component that can run"),
                ]
            )

    def components(self) -> list[Component]:
        return [*self.sources.values(), *self.channels.values(), *self.sinks.values()]

    # lifecycle
    def start(self) -> None:
        for ch in self.channels.values():
            ch.start()
        for name, sink in self.sinks.items():
            if self._try_start(sink):
                self._start_runner(name, sink)
        for source in self.sources.values():
            self._try_start(source)
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()
        for line in self.plan.describe():
            log.info("running %s", line)

    def _start_runner(self, name: str, sink: Sink) -> None:
        runner = SinkRunner(sink)
        self.runners[name] = runner
        runner.start()

    def _try_start(self, comp: Component) -> bool:
        try:
            comp.start()
        except Exception as exc:
            self.retrying[comp.name] = str(exc)
            comp.counters.error(str(exc))
            log.error("%s %s failed to start (%s); retrying", comp.KIND.lower(), comp.name, exc)
            return False
        self.retrying.pop(comp.name, None)
        return True

    def _supervise(self) -> None:
        pause = 1.0
        while not self._stop.wait(pause):
            if not self.retrying:
                pause = 1.0
                continue
            for name in list(self.retrying):
                comp = self.sources.get(name) or self.sinks.get(name)
                if comp is not None and self._try_start(comp) and name in self.sinks:
                    self._start_runner(name, self.sinks[name])
            pause = min(pause * 2, 30.0)

    def health(self, comp: Component) -> str:
        if comp.name in self.retrying:
            return f"retrying: {self.retrying[comp.name]}"
        runner = self.runners.get(comp.name)
        if runner is not None and runner.failure:
            return f"retrying: {runner.failure}"
        return comp.health()

    def stop(self, drain_timeout: float = 30.0) -> None:
        """Stop sources, let sinks drain what the channels hold, then stop the rest."""
        self._stop.set()
        for source in self.sources.values():
            source.stop()
        deadline = time.monotonic() + drain_timeout
        while any(ch.size() for ch in self.channels.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = sum(ch.size() for ch in self.channels.values())
        if left:
            log.warning("stopping with %d events still in memory channels (not delivered)", left)
        for runner in self.runners.values():
            runner.stop()
        for sink in self.sinks.values():
            sink.stop()
        for source in self.sources.values():
            source.checkpoint()
        for ch in self.channels.values():
            ch.stop()
        log.info("agent %s stopped", self.name)


def _has_errors(cp: ComponentPlan) -> bool:
    return any(p.severity == "error" for p in cp.context.problems)
