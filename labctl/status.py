"""What `labctl status` shows, as data: where each component runs, then what the brokers
report. The dashboard reads the lab through the same function."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException

from labctl.cluster import Cluster
from labctl.pilot import agent as lab_agent


def cluster_status(cluster: Cluster) -> dict[str, Any]:
    """Components (processes or containers, as the lab's backend runs them), the agent, and
    the brokers, controller and partitions the metadata names."""
    spec = cluster.spec
    backend = cluster.backend
    components = [{"component": s.name, "port": s.port, "pid": s.pid, "where": s.where,
                   "state": "running" if s.running else "stopped", "uptime_s": s.uptime_s}
                  for s in backend.states()]  # fmt: skip
    result: dict[str, Any] = {"home": str(cluster.paths.home), "mode": spec.mode,
                              "backend": spec.backend, "started_by": backend.started_by,
                              "project": backend.compose_project,
                              "architecture": backend.architecture.name,
                              "bootstrap": spec.bootstrap, "components": components,
                              "agent": lab_agent.running(cluster),
                              "brokers": [], "controller": None, "partitions": []}  # fmt: skip
    if not any(c["state"] == "running" for c in components[spec.quorum :]):
        return result
    try:
        metadata = cluster.admin().list_topics(timeout=5)
    except KafkaException as exc:
        result["error"] = str(exc)
        return result
    result["brokers"] = sorted(metadata.brokers)
    result["controller"] = metadata.controller_id
    topic = metadata.topics.get(spec.topic.name)
    if topic is not None:
        for pid, part in sorted(topic.partitions.items()):
            result["partitions"].append({"topic": topic.topic, "partition": pid,
                                         "leader": part.leader, "replicas": part.replicas,
                                         "isr": part.isrs})  # fmt: skip
    return result
