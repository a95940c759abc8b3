"""Stage 1, the collection architecture: the lab's agent config realises the book's design
(the status-file flow to a logger, the driving-log flow to SmartCar-Topic, both filtered by
``^\\d{14}``, memory channels)."""

from __future__ import annotations

from agents.config.properties import load_properties
from agents.config.topology import AgentPlan, ComponentPlan, build_plan
from labctl.checks import Report
from labctl.cluster import Cluster
from labctl.pilot import agent as lab_agent

RECORD_FILTER = r"^\d{14}"


def agent_plan(cluster: Cluster) -> AgentPlan:
    """The flows of the lab's agent config (the running one's, else the pilot's)."""
    st = lab_agent.state(cluster.paths)
    conf = st.get("conf_file") or str(lab_agent.pilot_conf())
    env = lab_agent.agent_env(cluster.paths, cluster.spec)
    return build_plan(load_properties(str(conf), env), str(st.get("name", lab_agent.AGENT_NAME)))


def _filtered(src: ComponentPlan) -> bool:
    return any(i.type_name == "regex_filter" and i.context.get("regex") == RECORD_FILTER
               and (i.context.get("excludeEvents") or "false") == "false"
               for i in src.interceptors)  # fmt: skip


def _sinks_to(plan: AgentPlan, src: ComponentPlan, kind: str) -> bool:
    return any(k.type_name == kind and k.channels[0] in src.channels
               for k in plan.sinks.values())  # fmt: skip


def stage1(cluster: Cluster, report: Report) -> AgentPlan:
    plan = agent_plan(cluster)
    spool = [s for s in plan.sources.values() if s.type_name == "spooldir"]
    tail = [s for s in plan.sources.values() if s.type_name in ("exec", "taildir")]
    report.add(
        1,
        "spooldir flow: regex_filter ^\\d{14} -> logger sink",
        spool and _filtered(spool[0]) and _sinks_to(plan, spool[0], "logger"),
        ", ".join(plan.describe()[:1]),
        "the agent config lacks the status-file flow",
    )
    kafka_ok = (
        tail
        and _filtered(tail[0])
        and any(
            k.type_name == "kafka"
            and (k.context.get("topic") or k.context.get("kafka.topic")) == cluster.spec.topic.name
            for k in plan.sinks.values()
        )
    )
    report.add(
        1,
        "tail flow: regex_filter ^\\d{14} -> kafka sink on SmartCar-Topic",
        kafka_ok,
        "",
        "the agent config lacks the driving-log flow to SmartCar-Topic",
    )
    report.add(1, "memory channels", plan.channels and all(
        c.type_name == "memory" for c in plan.channels.values()), len(plan.channels),
        "the pilot buffers in memory channels")  # fmt: skip
    return plan
