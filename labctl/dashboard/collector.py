"""One data-collection layer for the web dashboard and `labctl top`.

Three threads sample the lab once a second: one reads what is local and quick (the agent's
``/metrics``, its config, the saved reports, a running pilot's progress file), one who runs
in the cluster (``labctl status``'s path) and one Kafka's admin API (end offsets, groups), so
a slow or dead broker never holds back the rest. ``snapshot()`` assembles the newest of each.
Only what exists is read: a lab that is not up yet, an agent that is not running or a missing
report are shown as such.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from confluent_kafka import KafkaException

from agents.errors import ConfigError
from labctl.cluster import Cluster, ClusterSpec, load_spec
from labctl.dashboard.agent_graph import agent_view
from labctl.dashboard.cluster_facts import KafkaFacts, KafkaReader, read_cluster, with_offsets
from labctl.dashboard.model import (
    AgentView,
    ClusterView,
    FlowRow,
    PilotView,
    ProgressView,
    Snapshot,
    StageView,
)
from labctl.dashboard.rates import RateMeter
from labctl.errors import LabError
from labctl.paths import LabPaths
from labctl.pilot import agent as lab_agent
from labctl.pilot.design import agent_plan
from labctl.pilot.progress import read_progress
from labctl.pilot.reports import ReportShelf, flows
from labctl.pilot.stages import STAGES

INTERVAL_S = 1.0
HISTORY_S = 600.0  # the chart's span: 10 minutes


class Collector:
    """Samples one lab home in the background; ``snapshot()`` is the newest picture."""

    def __init__(self, paths: LabPaths, interval: float = INTERVAL_S) -> None:
        self.paths = paths
        self.interval = interval
        self.version = 0  # grows with every sample taken
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._agent_rates = RateMeter()
        self._kafka_reader = KafkaReader()
        self._shelf = ReportShelf(paths)
        self._history: deque[tuple[float, float, float]] = deque()
        self._lab = False
        self._agent: AgentView | None = None
        self._cluster: ClusterView | None = None
        self._kafka: KafkaFacts | None = None
        self._stages: tuple[StageView, ...] = ()
        self._pilot: PilotView | None = None
        self._progress: ProgressView | None = None
        self._problems: dict[str, str] = {}
        self._at = 0.0
        self._samples: dict[str, int] = {}  # samples taken per part
        self._threads = [
            threading.Thread(target=self._loop, args=(self.sample_local, "local"),
                             name="local", daemon=True),
            threading.Thread(target=self._loop, args=(self.sample_cluster, "cluster"),
                             name="cluster", daemon=True),
            threading.Thread(target=self._loop, args=(self.sample_kafka, "kafka"),
                             name="kafka", daemon=True),
        ]  # fmt: skip

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Collector:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sampling; waits at most ``timeout`` for a sample under way (daemon threads)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def wait_complete(self, timeout: float, samples: int = 1) -> bool:
        """Block until every part has been sampled ``samples`` times (two give rates); False
        on timeout."""

        def complete() -> bool:
            counts = [self._samples.get(t.name, 0) for t in self._threads]
            return min(counts) >= samples

        with self._changed:
            return self._changed.wait_for(complete, timeout)

    def wait_newer(self, version: int, timeout: float) -> int:
        """Block until a sample newer than ``version`` (or the timeout); the newest version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version > version, timeout)
            return self.version

    def _loop(self, sample: Callable[[], None], part: str) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                sample()
                self._problems.pop(part, None)
            except (LabError, KafkaException, ConfigError, OSError, ValueError) as exc:
                self._problems[part] = f"{part}: {exc}"
            except Exception as exc:  # a sampler must outlive whatever it reads
                self._problems[part] = f"{part}: {type(exc).__name__}: {exc}"
            with self._changed:
                self._at = time.time()
                self._samples[part] = self._samples.get(part, 0) + 1
                self.version += 1
                self._changed.notify_all()
            self._stop.wait(max(self.interval - (time.monotonic() - began), 0.05))

    # -- sampling -------------------------------------------------------------------------
    def _spec(self) -> ClusterSpec | None:
        spec = load_spec(self.paths)
        self._lab = spec is not None
        return spec

    def sample_local(self) -> None:
        """The agent (graph, health, rates), the reports and a running pilot's progress."""
        now = time.monotonic()
        cluster = Cluster(self.paths, self._spec() or ClusterSpec())
        try:
            metrics = lab_agent.metrics(self.paths, timeout=1.0)
            recorded, problem = lab_agent.state(self.paths), ""
        except (LabError, OSError, ValueError) as exc:
            metrics, recorded, problem = None, {}, _why_down(exc)
        pid, where = recorded.get("pid"), recorded.get("where")
        self._agent = agent_view(agent_plan(cluster), metrics, self._agent_rates, now,
                                 pid=pid if isinstance(pid, int) else None,
                                 where=where if isinstance(where, str) else "",
                                 problem=problem)  # fmt: skip
        with self._changed:  # snapshot() copies the history under the same lock
            self._history.append((time.time(), self._agent.in_rate, self._agent.out_rate))
            while self._history[0][0] < time.time() - HISTORY_S:
                self._history.popleft()
        self._read_reports()
        state = read_progress(self.paths)
        self._progress = None if state is None else ProgressView(
            state.command, state.step, state.done, state.total, state.unit, state.records,
            state.seconds_left(time.time()), state.started)  # fmt: skip

    def _read_reports(self) -> None:
        per_stage = self._shelf.latest_per_stage()
        stages = []
        for stage in STAGES:
            report = per_stage.get(stage.number)
            if report is None:
                stages.append(StageView(stage.number, stage.title, None))
                continue
            checks = report.checks_of(stage.number)
            stages.append(StageView(stage.number, stage.title, all(c["ok"] for c in checks),
                                    checks, str(report.path),
                                    _local_time(report.written)))  # fmt: skip
        self._stages = tuple(stages)
        full = self._shelf.latest_full_run()
        self._pilot = None if full is None else PilotView(
            full.ok, tuple(FlowRow(f.flow, f.generated, f.filtered, f.delivered, f.where)
                           for f in flows(full.figures)),
            full.figures, str(full.path), _local_time(full.written))  # fmt: skip

    def sample_cluster(self) -> None:
        """Members up or down, the controller, each partition's leader and ISR."""
        spec = self._spec()
        self._cluster = None if spec is None else read_cluster(Cluster(self.paths, spec))

    def sample_kafka(self) -> None:
        """End offsets with their rates, consumer groups with their lag."""
        spec, cluster = self._spec(), self._cluster
        if spec is None or cluster is None or not any(m.ok for m in cluster.members
                                                      if m.role == "broker"):  # fmt: skip
            self._kafka = None
            return
        wanted = [(p.topic, p.partition) for p in cluster.partitions]
        self._kafka = self._kafka_reader.read(Cluster(self.paths, spec), wanted,
                                              time.monotonic())  # fmt: skip

    # -- the picture ----------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        cluster = self._cluster if self._lab else None
        if cluster is not None:
            cluster = with_offsets(cluster, self._kafka)
        agent = self._agent
        if agent is not None:
            agent = _with_topics(agent, cluster)
        with self._changed:
            history = tuple(self._history)
        return Snapshot(str(self.paths.home), self._at, self._lab, agent, cluster,
                        history, self._stages, self._pilot, self._progress,
                        tuple(self._problems.values()))  # fmt: skip


def _with_topics(agent: AgentView, cluster: ClusterView | None) -> AgentView:
    """The agent's topic nodes with what the cluster says of them (exists, leaders, ISR)."""
    nodes = []
    for node in agent.nodes:
        if node.kind == "topic":
            parts = [p for p in (cluster.partitions if cluster else ()) if p.topic == node.name]
            if cluster is None:
                health, detail = "cluster not running", ""
            elif not parts:
                health, detail = "not in the brokers' metadata", ""
            else:
                bad = [p for p in parts if not p.ok]
                health = "exists" if not bad else f"partition {bad[0].partition} degraded"
                end = sum(p.end_offset or 0 for p in parts)
                spread = f" in {len(parts)} partitions" if len(parts) > 1 else ""
                detail = f"end offset {end:,}{spread}"
            node = replace(node, health=health, ok=health == "exists", detail=detail)
        nodes.append(node)
    return replace(agent, nodes=tuple(nodes))


def _why_down(exc: BaseException) -> str:
    if isinstance(exc, LabError):  # "the agent is not running (no monitoring port recorded)."
        return str(exc).removeprefix("the agent is not running").strip(" .()") or str(exc)
    return f"its /metrics does not answer ({exc})"


def _local_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
