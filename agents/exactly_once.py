"""Which flows of an agent are exactly-once, what that asks of each source, and where it cannot
hold (docs/exactly-once.md).

An exactly-once Kafka sink (``exactlyOnce = true``) can promise each event once in Kafka only if
every event reaching it can be read again from a recorded position, and only if it is the one
writer of those events. ``plan`` looks at the built sinks and the planned sources and records a
problem (an error: ``--check`` and the agent refuse, with file and line) where a flow breaks
that:

- a source without replayable positions (exec, netcat, http, syslog, seq, ...) feeds one;
- a source feeds one and also a sink that is not exactly-once (its selector's other or optional
  channels): after a restart that sink would get the re-read events again;
- a channel an exactly-once sink drains has another sink (two writers, commits out of order);
- an exactly-once sink is in a sink group (failover or load balancing between writers that do
  not share positions).

The file channel is fine: an exactly-once sink drops what its replay repeats. What it returns
(``Roles``) says which sources mark their events, which resume from Kafka, which sinks fence at
start, and lines that explain it (``--check`` prints them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.committed import Committed

if TYPE_CHECKING:
    from agents.config.plan import AgentPlan
    from agents.sinks.base import Sink
    from agents.sinks.kafka_txn import TransactionalWriter


@dataclass
class Roles:
    marks: set[str] = field(default_factory=set)  # sources whose events carry marks
    resume: dict[str, list[Committed]] = field(default_factory=dict)  # source -> its sinks'
    waits: dict[str, dict[str, Committed]] = field(default_factory=dict)  # avro: channel ->
    eager: set[str] = field(default_factory=set)  # sinks that fence when they start
    notes: list[str] = field(default_factory=list)


def writer_of(sink: Sink) -> TransactionalWriter | None:
    """The exactly-once writer of a Kafka sink with ``exactlyOnce = true``; None for any other
    sink (looked up by attribute: this module does not import the Kafka sink)."""
    writer: TransactionalWriter | None = getattr(sink, "writer", None)
    return writer


def _eos(sink: Sink) -> bool:
    return writer_of(sink) is not None


def _committed(sink: Sink) -> Committed:
    writer = writer_of(sink)
    assert writer is not None, "an exactly-once sink"
    return writer.committed


def plan(agent_plan: AgentPlan, sinks: dict[str, Sink]) -> Roles:
    roles = Roles()
    drains: dict[str, list[Sink]] = {}
    for sink in sinks.values():
        if sink.channel is not None:
            drains.setdefault(sink.channel.name, []).append(sink)
    for name, sink in sinks.items():
        if not _eos(sink):
            continue
        assert sink.channel is not None
        others = [s.name for s in drains[sink.channel.name] if s is not sink]
        if others:
            agent_plan.sinks[name].context.problem(
                "channel",
                f"channel {sink.channel.name} is drained by sink(s) {', '.join(others)} too; an "
                "exactly-once sink must be its channel's only sink (two writers commit out of "
                "order)",
                "give each sink its own channel (a replicating selector fills both)",
            )
    for group in agent_plan.groups.values():
        written = [s for s in group.sinks if s in sinks and _eos(sinks[s])]
        if not written:
            continue
        others = [s for s in group.sinks if s in sinks and not _eos(sinks[s])]
        why = (f"mixes exactly-once sink {written[0]} with {', '.join(others)}, which is not: "
               "what the other writes is not in the transaction" if others else
               f"holds exactly-once sinks ({', '.join(written)}): writers that take over from "
               "each other do not share their read positions")  # fmt: skip
        group.context.problem(None, f"sink group {group.name} {why}",
                              "leave exactly-once sinks out of sink groups")  # fmt: skip
    for name, cp in agent_plan.sources.items():
        reach = [s for c in cp.channels for s in drains.get(c, [])]
        eos = [s for s in reach if _eos(s)]
        forward = [s for s in reach if s.forwards_marks()]
        if not eos and not forward:
            continue
        replayable = getattr(cp.cls, "REPLAYABLE", False)
        carrier = getattr(cp.cls, "CARRIES_MARKS", False)
        if eos and not (replayable or carrier):
            cp.context.problem("type", f"({cp.type_name}) has no read positions to replay from, "
                               f"so sink(s) {', '.join(s.name for s in eos)} cannot write its "
                               "events exactly once", "use spooldir or TAILDIR, or set "
                               "exactlyOnce = false")  # fmt: skip
            continue
        plain = [s.name for s in reach if not _eos(s)]
        if eos and plain:
            cp.context.problem("channels", f"feeds exactly-once sink(s) "
                               f"{', '.join(s.name for s in eos)} and also {', '.join(plain)}, "
                               "which is not exactly-once (after a restart it would get events "
                               "again)", "send this source's events to exactly-once sinks only, "
                               "or set exactlyOnce = false")  # fmt: skip
            continue
        if replayable or carrier:
            roles.marks.add(name)
        if eos and replayable:
            roles.resume[name] = [_committed(s) for s in eos]
            roles.eager.update(s.name for s in eos)
            roles.notes.append(f"exactly-once: source {name} ({cp.type_name}) resumes from the "
                               "read positions committed in Kafka by "
                               f"{', '.join(s.name for s in eos)}; its own position record is "
                               "a cache")  # fmt: skip
        elif eos and carrier:
            roles.waits[name] = {s.channel.name: _committed(s)
                                 for s in eos if s.channel is not None}  # fmt: skip
            roles.notes.append(f"exactly-once: source {name} ({cp.type_name}) answers a batch "
                               "once it is committed in Kafka; events that carry their origin "
                               "(an upstream sink with originHeaders) are written once, others "
                               "at least once")  # fmt: skip
        if forward and replayable:
            roles.notes.append(f"source {name} ({cp.type_name}) marks its events with their "
                               f"origin and position; {', '.join(s.name for s in forward)} "
                               "send(s) them on (originHeaders)")  # fmt: skip
    for name, sink in sinks.items():
        writer = writer_of(sink)
        if writer is not None:
            roles.notes.append(
                f"exactly-once: sink {name} writes each batch to "
                f"{writer.sink.settings.kafka_topic} in "
                f"one Kafka transaction (transactional.id {writer.tid}) with the read positions "
                f"it completes ({writer.topic}); read it with isolation.level=read_committed"
            )
    return roles
