"""What the dashboard and `labctl top` show: one snapshot of the lab, as plain data.

The collector fills it; the web page (as JSON) and the terminal view only render it. Nothing
here does I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Node:
    """One box of an agent's topology graph, placed on a grid (column, row)."""

    id: str  # "<kind>:<name>" ("interceptor:<source>/<name>" for interceptors)
    kind: str  # source | interceptor | channel | sink | topic
    name: str
    type: str  # the Flume type (spooldir, regex_filter, memory, kafka, ...) or "topic"
    column: int
    row: int
    health: str  # the agent's word (running, retrying: ..., stopped), or ours (agent down, ...)
    ok: bool  # False is drawn red
    detail: str = ""  # e.g. an interceptor's regex, a channel's "12 / 100,000"
    size: int | None = None  # channels: events held now
    capacity: int | None = None  # channels: their capacity


@dataclass(frozen=True)
class Edge:
    """Events moving from one node to the next; ``rate`` is None where no counter measures it."""

    source: str
    target: str
    rate: float | None
    counter: str = ""  # which Flume counter the rate comes from


@dataclass(frozen=True)
class AgentView:
    name: str
    conf_file: str
    running: bool
    pid: int | None
    problem: str  # why it is not running, or why its config cannot be read ("" if none)
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    in_rate: float = 0.0  # events/s received by every source
    out_rate: float = 0.0  # events/s delivered by every sink
    where: str = ""  # where it runs: "pid 1234", "container 3f2a9c01be77", "node host0"


@dataclass(frozen=True)
class Member:
    """A ZooKeeper server, a KRaft controller or a broker."""

    name: str
    role: str  # zookeeper | controller | broker
    port: int
    running: bool  # the process (or container) is up
    ok: bool  # running and, for a broker, registered in the metadata
    pid: int | None = None
    uptime_s: float | None = None
    broker_id: int | None = None
    in_metadata: bool = False
    is_controller: bool = False
    where: str = ""  # as `labctl status` says it: "pid 1234", "node host2 (node down)"


@dataclass(frozen=True)
class PartitionView:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    end_offset: int | None  # None: the leader did not answer
    rate: float | None  # records/s appended, from the end offset's change
    ok: bool  # a leader and a full ISR


@dataclass(frozen=True)
class GroupPartition:
    topic: str
    partition: int
    committed: int
    end_offset: int | None
    lag: int | None


@dataclass(frozen=True)
class GroupView:
    group_id: str
    state: str
    members: int
    lag: int | None  # summed over the partitions it committed; None when none is known
    partitions: tuple[GroupPartition, ...] = ()


@dataclass(frozen=True)
class ClusterView:
    mode: str  # zookeeper | kraft
    backend: str  # local | docker | swarm
    bootstrap: str
    topic: str
    members: tuple[Member, ...] = ()
    controller: int | None = None
    partitions: tuple[PartitionView, ...] = ()
    groups: tuple[GroupView, ...] = ()
    problem: str = ""  # what the brokers answered when they did not give metadata


@dataclass(frozen=True)
class StageView:
    """The newest `verify` report's checks for one stage."""

    stage: int
    title: str
    ok: bool | None  # None: no report has checked this stage yet
    checks: tuple[dict[str, Any], ...] = ()  # {name, ok, measured, hint}
    report: str = ""
    at: str = ""  # when that report was written (local time)


@dataclass(frozen=True)
class FlowRow:
    """One row of the pilot summary: generated / filtered / delivered lines of one flow."""

    flow: str
    generated: int
    filtered: int
    delivered: int
    where: str


@dataclass(frozen=True)
class PilotView:
    """The newest full run's figures (a `verify` with stages 3-5, as `labctl pilot` runs)."""

    ok: bool
    flows: tuple[FlowRow, ...]
    figures: dict[str, Any]
    report: str
    at: str


@dataclass(frozen=True)
class ProgressView:
    """What a running `labctl pilot` / `verify` is doing now (from its progress file)."""

    command: str
    step: str
    done: float
    total: float | None
    unit: str
    records: int | None
    left_s: float | None
    started: float


@dataclass(frozen=True)
class Snapshot:
    home: str
    at: float  # time.time() of the newest part
    lab: bool  # lab.json exists
    agent: AgentView | None = None
    cluster: ClusterView | None = None
    history: tuple[tuple[float, float, float], ...] = ()  # (time, in/s, out/s), 10 min
    stages: tuple[StageView, ...] = ()
    pilot: PilotView | None = None
    progress: ProgressView | None = None
    problems: tuple[str, ...] = field(default=())  # a part that could not be read, and why

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
