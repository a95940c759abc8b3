"""An agent's topology as a graph: nodes on a grid, edges labelled with events/s.

The shape comes from the agent's config (the plan); health, channel fill and rates from its
Flume-shaped ``/metrics`` JSON. Edges carry the rate of the Flume counter that measures that
hop: a source's ``EventReceivedCount`` into its interceptors, its ``EventForwardedCount`` (what
the interceptors let through; Flume's ``EventAcceptedCount`` counts before them) into each
channel, a sink's ``EventDrainAttemptCount`` out of its channel and its
``EventDrainSuccessCount`` into a Kafka topic. No counter measures the hop between two
interceptors, so such an edge has no rate.
"""

from __future__ import annotations

from collections.abc import Mapping

from agents.config.topology import AgentPlan, ComponentPlan
from labctl.dashboard.model import AgentView, Edge, Node
from labctl.dashboard.rates import RateMeter

Metrics = Mapping[str, Mapping[str, object]]
AGENT_DOWN = "agent not running"
TOPIC_UNKNOWN = "not known yet"  # a topic's state comes from the cluster (the collector)


class _Grid:
    """Cells taken so far; a node goes to the first free row at or below the one it wants."""

    def __init__(self) -> None:
        self.taken: set[tuple[int, int]] = set()
        self.rows = 0

    def place(self, column: int, row: int) -> int:
        while (column, row) in self.taken:
            row += 1
        self.taken.add((column, row))
        self.rows = max(self.rows, row + 1)
        return row


class _Builder:
    def __init__(self, plan: AgentPlan, metrics: Metrics | None, rates: RateMeter,
                 now: float) -> None:  # fmt: skip
        self.plan, self.metrics, self.rates, self.now = plan, metrics, rates, now
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self.grid = _Grid()
        self.depth = max((len(s.interceptors) for s in plan.sources.values()), default=0)

    # -- counters -------------------------------------------------------------------------
    def value(self, key: str, counter: str) -> int | None:
        if self.metrics is None or key not in self.metrics:
            return None
        try:
            return int(float(str(self.metrics[key].get(counter, ""))))
        except ValueError:
            return None

    def rate(self, key: str, counter: str) -> float | None:
        value = self.value(key, counter)
        if value is None:
            return None
        return self.rates.update(f"{key}/{counter}", value, self.now)

    def health(self, key: str) -> str:
        if self.metrics is None:
            return AGENT_DOWN
        if key not in self.metrics:
            return "not running (dropped by the agent)"
        return str(self.metrics[key].get("Health", "running"))

    # -- nodes and edges ------------------------------------------------------------------
    def add(self, node_id: str, kind: str, cp: ComponentPlan | None, name: str, column: int,
            row: int, health: str, detail: str = "", **extra: int | None) -> str:  # fmt: skip
        if node_id not in self.nodes:
            placed = self.grid.place(column, row)
            self.nodes[node_id] = Node(node_id, kind, name, cp.type_name if cp else "kafka",
                                       column, placed, health,
                                       health in ("running", "exists"), detail,
                                       **extra)  # fmt: skip
        return node_id

    def edge(self, source: str, target: str, key: str | None, counter: str) -> None:
        rate = self.rate(key, counter) if key else None
        self.edges.append(Edge(source, target, rate, counter if key else ""))

    def source(self, cp: ComponentPlan) -> None:
        row = self.grid.rows
        key = f"SOURCE.{cp.name}"
        here = self.add(f"source:{cp.name}", "source", cp, cp.name, 0, row, self.health(key),
                        _total(self.value(key, "EventReceivedCount"), "received"))  # fmt: skip
        for i, icp in enumerate(cp.interceptors):
            health = "running" if self.metrics is not None else AGENT_DOWN
            node = self.add(f"interceptor:{cp.name}/{icp.name}", "interceptor", icp, icp.name,
                            1 + i, row, health, icp.context.get("regex") or "")  # fmt: skip
            self.edge(here, node, key if i == 0 else None, "EventReceivedCount")
            here = node
        for ch_name in cp.channels:
            channel = self.channel(ch_name, row)
            self.edge(here, channel, key, "EventForwardedCount")

    def channel(self, name: str, row: int) -> str:
        node_id = f"channel:{name}"
        if node_id in self.nodes:
            return node_id
        key = f"CHANNEL.{name}"
        size, capacity = self.value(key, "ChannelSize"), self.value(key, "ChannelCapacity")
        if capacity is None:
            configured = self.plan.channels[name].context.get("capacity")
            capacity = int(configured) if configured and configured.isdigit() else None
        detail = f"{size:,} / {capacity:,}" if size is not None and capacity else ""
        self.add(node_id, "channel", self.plan.channels[name], name, self.depth + 1, row,
                 self.health(key), detail, size=size, capacity=capacity)  # fmt: skip
        for sink in self.plan.sinks.values():
            if sink.channels[0] == name:
                self.sink(sink, node_id, self.nodes[node_id].row)
        return node_id

    def sink(self, cp: ComponentPlan, channel: str, row: int) -> None:
        key = f"SINK.{cp.name}"
        node = self.add(f"sink:{cp.name}", "sink", cp, cp.name, self.depth + 2, row,
                        self.health(key),
                        _total(self.value(key, "EventDrainSuccessCount"), "delivered"))  # fmt: skip
        self.edge(channel, node, key, "EventDrainAttemptCount")
        topic = kafka_topic(cp)
        if topic is not None:
            target = self.add(f"topic:{topic}", "topic", None, topic, self.depth + 3,
                              self.nodes[node].row, TOPIC_UNKNOWN)  # fmt: skip
            self.edge(node, target, key, "EventDrainSuccessCount")

    def totals(self) -> tuple[float, float]:
        """(events/s received by all sources, events/s delivered by all sinks)."""
        ins = [self.rate(f"SOURCE.{n}", "EventReceivedCount") for n in self.plan.sources]
        outs = [self.rate(f"SINK.{n}", "EventDrainSuccessCount") for n in self.plan.sinks]
        return sum(r or 0.0 for r in ins), sum(r or 0.0 for r in outs)


def _total(value: int | None, what: str) -> str:
    return "" if value is None else f"{value:,} {what}"


def kafka_topic(cp: ComponentPlan) -> str | None:
    """The topic a Kafka sink writes to (its configured one, else the declared default)."""
    if cp.type_name != "kafka":
        return None
    for prop in getattr(cp.cls, "PROPERTIES", ()):
        if prop.name == "kafka.topic":
            for name in prop.names():
                if cp.context.get(name):
                    return cp.context.get(name)
            return str(prop.default)
    return None


def agent_view(plan: AgentPlan, metrics: Metrics | None, rates: RateMeter, now: float, *,
               pid: int | None, problem: str, where: str = "") -> AgentView:  # fmt: skip
    """The graph of ``plan`` with what ``metrics`` says (None: the agent is not running)."""
    builder = _Builder(plan, metrics, rates, now)
    for cp in plan.sources.values():
        builder.source(cp)
    for name in plan.channels:  # a channel only sinks read (no source of this agent)
        builder.channel(name, builder.grid.rows)
    in_rate, out_rate = builder.totals()
    return AgentView(plan.agent, plan.file, metrics is not None, pid, problem,
                     tuple(builder.nodes.values()), tuple(builder.edges), in_rate,
                     out_rate, where or (f"pid {pid}" if pid is not None else ""))  # fmt: skip
