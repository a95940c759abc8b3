"""Architecture 4: four collectors send over Avro RPC to aggregator 5, with standby aggregator
6 behind a failover group on every collector; aggregator 5 is SIGKILLed mid-run and started
again. Every record reaches Kafka at least once; duplicates are counted and reported.

With ``--exactly-once`` the collectors' avro sinks send each event's origin and position
(``originHeaders``) and the aggregators' Kafka sinks write exactly once (one transactional.id
for both: the one that takes over fences the other); read committed, every record is there
once (docs/exactly-once.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from labctl.examples.base import (
    Example,
    ExampleRun,
    Scale,
    component_name,
    consumed,
    status_day,
    wait,
)
from labctl.ports import free_port_block

COLLECTORS = ("c1", "c2", "c3", "c4")
COMPOSE_TOPIC, COMPOSE_PORT = "flume-4-aggregated", 4545  # in a rendered compose project
Agent = tuple[str, str, dict[str, str]]  # shipped config, agent name, variables


def agents(topic: str, port5: int, host: Callable[[str], str]) -> dict[str, Agent]:
    """Each role's (shipped config, agent name, variables): aggregators 5 and 6 listen on
    ``port5`` and the next port and write to *topic*; collectors reach them at ``host(role)``."""
    plan: dict[str, Agent] = {}
    for agg, port in (("agg5", port5), ("agg6", port5 + 1)):
        env = {"AGG_PORT": str(port), "AGGREGATOR": agg, "EXAMPLE_TOPIC": topic}
        plan[agg] = ("flume-4-aggregator.conf", "aggregator", env)
    peers = {"AGG5_HOST": host("agg5"), "AGG5_PORT": str(port5),
             "AGG6_HOST": host("agg6"), "AGG6_PORT": str(port5 + 1)}  # fmt: skip
    for c in COLLECTORS:
        plan[c] = ("flume-4-collector.conf", "collector", {**peers, "COLLECTOR": c})
    return plan


class Flume4(Example):
    number = 4
    name = "flume-4"
    title = "collectors 1-4 -> aggregator 5 (avro) -> Kafka, standby 6; aggregator 5 killed"
    figure = "the seed's Flume architecture 4 (agents 1-4 collect, 5 aggregates, 6 stands by)"
    brokers = 1
    roles = ("agg5", "agg6", *COLLECTORS)

    def compose_agents(self) -> dict[str, Agent]:
        """The agents as a Compose project runs them: a fixed topic and ports, host names."""
        return agents(COMPOSE_TOPIC, COMPOSE_PORT, lambda role: component_name(self.name, role))

    def run(self, run: ExampleRun, scale: Scale) -> None:
        topic = run.topic("aggregated")
        port5 = free_port_block(2)
        backend = run.cluster.backend
        plan = agents(topic, port5, lambda role: backend.agent_host(run.component(role)))
        eos = scale.exactly_once
        to_kafka = (f"aggregator.sinks.kafka.exactlyOnce = true\n"
                    f"aggregator.sinks.kafka.positionsTopic = {topic}-positions\n")  # fmt: skip
        with_origin = "".join(f"collector.sinks.{s}.originHeaders = true\n"
                              for s in ("toAgg5", "toAgg6"))  # fmt: skip
        for agg in ("agg5", "agg6"):  # on hosts of their own where the lab has several
            run.start(agg, *plan[agg], extra=to_kafka if eos else "", apart=True)
        records: list[bytes] = []
        spools = {c: run.working(f"spool-{c}") for c in COLLECTORS}
        for c in COLLECTORS:
            run.start(c, *plan[c], extra=with_origin if eos else "")
        for n, c in enumerate(COLLECTORS):  # each collector its own day: distinct records
            records += status_day(run, f"2016010{n + 1}", scale, spools[c])
        run.progress(f"{len(records):,} records handed to 4 collectors")
        into5 = lambda: run.counter("agg5", "SOURCE.avroIn", "EventAcceptedCount")  # noqa: E731
        wait("aggregator 5 to receive", lambda: into5() > 0, timeout=60)
        received = into5()
        self.fail_aggregator(run)
        run.progress(f"aggregator 5 down after receiving {received:,}; collectors fail over")
        wait(
            "aggregator 6 to receive",
            lambda: run.counter("agg6", "SOURCE.avroIn", "EventAcceptedCount") > 0,
            timeout=60,
        )
        wait(
            "every collector to fail over",
            lambda: all(_failed_over(run, c) for c in COLLECTORS),
            timeout=60,
        )
        failed_over = sum(_failed_over(run, c) for c in COLLECTORS)
        if eos:  # 6 fenced 5's producer and committed: then 5 comes back and fences 6
            wait(
                "aggregator 6 to commit in Kafka",
                lambda: run.counter("agg6", "SINK.kafka", "TransactionCommitCount") > 0,
                timeout=60,
            )
        self.recover_aggregator(run)
        run.progress("aggregator 5 back")
        wait(
            "every collector to send everything",
            lambda: all(_drained(run, c) and consumed(spools[c]) for c in COLLECTORS),
            timeout=120 + len(records) / 1000,
        )
        wait(
            "both aggregators to drain",
            lambda: all(_drained(run, a) for a in ("agg5", "agg6")),
            timeout=120,
        )
        got = run.read_topic(topic, len(records), committed=eos)
        if eos:
            dups = run.check_records("every record in Kafka exactly once (read committed)",
                                     records, [v for v, _ in got])  # fmt: skip
        else:
            dups = run.check_records("every record in Kafka at least once", records,
                                     [v for v, _ in got], once=False,
                                     why_duplicates="batches aggregator 5 took but never "
                                     "answered, resent to 6")  # fmt: skip
        via = Counter(h.get("aggregator", "?") for _, h in got)
        by = Counter(h.get("collector", "?") for _, h in got)
        r = run.report
        r.add(
            4,
            "every collector failed over to aggregator 6",
            failed_over == len(COLLECTORS),
            f"{failed_over} of {len(COLLECTORS)} collectors",
        )
        r.add(
            4,
            "both aggregators delivered to Kafka",
            via.get("agg5", 0) > 0 and via.get("agg6", 0) > 0,
            ", ".join(f"{k} {v:,}" for k, v in sorted(via.items())),
        )
        r.add(
            4,
            "every collector's records arrived",
            set(by) == set(COLLECTORS),
            ", ".join(f"{k} {v:,}" for k, v in sorted(by.items())),
        )
        r.figures.update(
            records=len(records),
            duplicates=dups,
            agents=6,
            topic=topic,
            killed_after=received,
            exactly_once=eos,
        )

    def fail_aggregator(self, run: ExampleRun) -> None:
        """What happens to aggregator 5 mid-run: SIGKILL (a test may stop its host instead)."""
        run.kill("agg5")

    def recover_aggregator(self, run: ExampleRun) -> None:
        """Aggregator 5 back: started again, it replays its file channel, so what it had
        acknowledged is delivered."""
        run.restart("agg5")


def _drained(run: ExampleRun, role: str) -> bool:
    """The agent answers, its file channel runs (replayed, after a restart: an agent answers
    before its channels start) and holds nothing; or it is gone for good (a fenced
    exactly-once aggregator exits). One that runs but does not answer (a frozen host, a task
    Swarm is replacing) has not drained."""
    try:
        channel = run.metrics(role).get("CHANNEL.fc", {})
    except (OSError, ValueError):
        return run.cluster.backend.agent_where(run.agents[role].component) is None
    return channel.get("Health") == "running" and channel.get("ChannelSize") == "0"


def _failed_over(run: ExampleRun, collector: str) -> bool:
    """Did this collector's group set aggregator 5 aside (its sink retrying, or 6 delivering)?"""
    health = run.metrics(collector)["SINK.toAgg5"]["Health"]
    return (
        health.startswith("retrying: failed over")
        or run.counter(collector, "SINK.toAgg6", "EventDrainSuccessCount") > 0
    )
