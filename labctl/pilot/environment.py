"""Stage 2, the environment: ZooKeeper answers, every broker and a controller are in the
metadata, the topic has a leader and a full ISR on every partition, the agent answers, and the
working directories are there and writable."""

from __future__ import annotations

import uuid
from pathlib import Path

from confluent_kafka import KafkaException

from labctl.checks import Report
from labctl.cluster import Cluster
from labctl.pilot import agent as lab_agent


def stage2(cluster: Cluster, report: Report) -> None:
    answer = cluster.zk_four_letters("ruok")
    report.add(
        2,
        "ZooKeeper answers",
        answer == "imok",
        answer or "no answer",
        "start the lab with `labctl up`; see `labctl logs zookeeper`",
    )
    try:
        md = cluster.admin().list_topics(timeout=5)
    except KafkaException as exc:
        report.add(2, "brokers in metadata", False, str(exc), "no broker answers: `labctl up`")
        return
    report.add(
        2,
        "every broker in metadata",
        len(md.brokers) == cluster.spec.brokers,
        f"{len(md.brokers)}/{cluster.spec.brokers}",
        "a broker is down: `labctl up`",
    )
    report.add(
        2,
        "controller elected",
        md.controller_id >= 0,
        md.controller_id,
        "no controller: check `labctl logs broker-0`",
    )
    topic = md.topics.get(cluster.spec.topic.name)
    report.add(
        2,
        f"{cluster.spec.topic.name} exists",
        topic is not None,
        "yes" if topic else "missing",
        "create it again with `labctl up`",
    )
    if topic is not None:
        problem = cluster.partition_problem(md)
        report.add(
            2,
            "every partition has a leader and a full ISR",
            problem is None,
            problem or "ok",
            "a replica is behind or a broker is down",
        )
    try:
        lab_agent.metrics(cluster.paths)
        up = lab_agent.running(cluster) is not None
    except Exception:
        up = False
    report.add(
        2,
        "agent up, metrics answering",
        up,
        "yes" if up else "no",
        "start it with `labctl agent start`",
    )
    writable = all(d.is_dir() and _writable(d) for d in cluster.paths.working_dirs())
    report.add(
        2,
        "working directories present and writable",
        writable,
        "",
        f"check {cluster.paths.working_dir}",
    )


def _writable(d: Path) -> bool:
    probe = d / f".probe-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False
