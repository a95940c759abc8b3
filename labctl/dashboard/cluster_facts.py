"""The cluster as the dashboard shows it: members up/down, controller, partitions, groups.

Who runs comes from the same code path as `labctl status` (``cluster_status``: processes or
containers, whichever backend the lab has, and the brokers' metadata). End offsets and
consumer groups come from Kafka's admin API, sampled apart (``KafkaReader``): while a dead
leader is being replaced those requests wait out their timeout, and the members must not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from labctl.cluster import Cluster
from labctl.dashboard.model import ClusterView, GroupPartition, GroupView, Member, PartitionView
from labctl.dashboard.rates import RateMeter
from labctl.status import cluster_status

REQUEST_TIMEOUT_S = 1.5
MAX_GROUPS = 20  # groups shown (each costs a request per sample)


def read_cluster(cluster: Cluster) -> ClusterView:
    """Who runs and what the metadata says, through `labctl status`'s path (fast: no request
    waits on a dead broker). End offsets and groups are added by ``with_offsets``."""
    status = cluster_status(cluster)
    spec = cluster.spec
    partitions = tuple(
        PartitionView(p["topic"], p["partition"], p["leader"], tuple(p["replicas"]),
                      tuple(p["isr"]), None, None,
                      p["leader"] >= 0 and set(p["replicas"]) <= set(p["isr"]))
        for p in status["partitions"]
    )  # fmt: skip
    return ClusterView(spec.mode, spec.backend, spec.bootstrap, spec.topic.name,
                       members(status), status.get("controller"), partitions,
                       problem=str(status.get("error", "")))  # fmt: skip


@dataclass(frozen=True)
class KafkaFacts:
    """What Kafka's admin API said in one sample."""

    ends: dict[tuple[str, int], tuple[int, float | None]]  # (topic, partition) -> end, rate
    groups: tuple[GroupView, ...]
    problem: str


class KafkaReader:
    """End offsets (and their rates) and consumer groups with their lag. A new admin client
    per sample: one that talked to a broker killed since keeps waiting on it."""

    def __init__(self) -> None:
        self.rates = RateMeter()

    def read(self, cluster: Cluster, partitions: Iterable[tuple[str, int]],
             now: float) -> KafkaFacts:  # fmt: skip
        admin = cluster.admin()
        problems: list[str] = []
        groups = _groups(admin, problems)
        wanted = set(partitions) | {(tp.topic, tp.partition) for g in groups.values()
                                    for tp in g[1]}  # fmt: skip
        ends = _end_offsets(admin, wanted, problems)
        with_rates = {key: (end, self.rates.update(f"{key[0]}/{key[1]}", end, now))
                      for key, end in ends.items()}  # fmt: skip
        return KafkaFacts(with_rates, _group_views(groups, ends),
                          "; ".join(dict.fromkeys(problems)))  # fmt: skip


def with_offsets(view: ClusterView, facts: KafkaFacts | None) -> ClusterView:
    """The cluster view with the newest end offsets, rates and groups."""
    if facts is None:
        return view
    partitions = []
    for p in view.partitions:
        end, rate = facts.ends.get((p.topic, p.partition), (None, None))
        partitions.append(replace(p, end_offset=end, rate=rate))
    problem = "; ".join(x for x in (view.problem, facts.problem) if x)
    return replace(view, partitions=tuple(partitions), groups=facts.groups, problem=problem)


def members(status: dict[str, Any]) -> tuple[Member, ...]:
    """`labctl status` rows as members: role, up/down, and what the metadata says."""
    registered = set(status["brokers"])
    out = []
    for row in status["components"]:
        name: str = row["component"]
        running = row["state"] == "running"
        if name.startswith("broker-"):
            broker_id = int(name.split("-")[1])
            listed = broker_id in registered
            out.append(Member(name, "broker", row["port"], running, running and listed,
                              row["pid"], row["uptime_s"], broker_id, listed,
                              broker_id == status.get("controller"),
                              row["where"] or ""))  # fmt: skip
        else:
            role = "controller" if name.startswith("controller") else "zookeeper"
            out.append(Member(name, role, row["port"], running, running, row["pid"],
                              row["uptime_s"], where=row["where"] or ""))  # fmt: skip
    return tuple(out)


GroupFacts = tuple[str, list[TopicPartition], int]  # state, committed offsets, members


def _groups(admin: AdminClient, problems: list[str]) -> dict[str, GroupFacts]:
    """Each consumer group's state, committed offsets and member count."""
    try:
        listed = admin.list_consumer_groups(request_timeout=REQUEST_TIMEOUT_S).result()
        if listed.errors:
            problems.append(f"consumer groups: a broker did not answer ({listed.errors[0]})")
        ids = sorted(g.group_id for g in listed.valid)[:MAX_GROUPS]
        if not ids:
            return {}
        described = admin.describe_consumer_groups(ids, request_timeout=REQUEST_TIMEOUT_S)
        out: dict[str, GroupFacts] = {}
        for group_id in ids:
            desc = described[group_id].result()
            offsets = admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group_id)], request_timeout=REQUEST_TIMEOUT_S
            )[group_id].result()
            committed = [tp for tp in offsets.topic_partitions or [] if tp.offset >= 0]
            out[group_id] = (desc.state.name.lower(), committed, len(desc.members))
        return out
    except KafkaException as exc:
        problems.append(f"consumer groups: {reason(exc)}")
        return {}


def _end_offsets(admin: AdminClient, wanted: Iterable[tuple[str, int]],
                 problems: list[str]) -> dict[tuple[str, int], int]:  # fmt: skip
    request = {TopicPartition(t, p): OffsetSpec.latest() for t, p in sorted(wanted)}
    if not request:
        return {}
    ends: dict[tuple[str, int], int] = {}
    futures = admin.list_offsets(request, request_timeout=REQUEST_TIMEOUT_S)
    for tp, future in futures.items():
        try:
            offset = future.result().offset
        except KafkaException as exc:
            problems.append(f"end offset of {tp.topic}[{tp.partition}]: {reason(exc)}")
            continue
        if offset >= 0:  # librdkafka answers OFFSET_INVALID while the partition has no leader
            ends[(tp.topic, tp.partition)] = offset
    return ends


def reason(exc: KafkaException) -> str:
    """A KafkaException's own words (its KafkaError's string when it carries one)."""
    error = exc.args[0] if exc.args else exc
    return str(error.str() if hasattr(error, "str") else error)


def _group_views(groups: dict[str, GroupFacts],
                 ends: dict[tuple[str, int], int]) -> tuple[GroupView, ...]:  # fmt: skip
    views = []
    for group_id, (state, committed, size) in groups.items():
        parts = []
        for tp in committed:
            end = ends.get((tp.topic, tp.partition))
            lag = max(end - tp.offset, 0) if end is not None else None
            parts.append(GroupPartition(tp.topic, tp.partition, tp.offset, end, lag))
        lags = [p.lag for p in parts if p.lag is not None]
        views.append(GroupView(group_id, state, size, sum(lags) if lags else None,
                               tuple(parts)))  # fmt: skip
    return tuple(views)
