"""`labctl topics / consume / produce`: talk to the lab's brokers with confluent-kafka."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from labctl.app import app, console
from labctl.cluster import Cluster
from labctl.commands.options import HomeOption
from labctl.errors import LabError, NotRunningError
from labctl.lab import open_lab
from labctl.paths import LabPaths, resolve_home


def _cluster(home: Path | None) -> Cluster:
    """The lab, with at least one broker running (else exit 6 at once, not after a timeout)."""
    cluster = open_lab(LabPaths(resolve_home(home)))
    if not any(s.running for s in cluster.backend.states() if s.name.startswith("broker-")):
        raise NotRunningError(f"the brokers of the lab in {cluster.paths.home} are down; "
                              "start them with `labctl up`.")  # fmt: skip
    return cluster


@app.command()
def topics(
    create: Annotated[str | None, typer.Option(help="Create this topic.")] = None,
    describe: Annotated[str | None, typer.Option(help="Describe this topic.")] = None,
    partitions: Annotated[int, typer.Option(min=1)] = 1,
    replication_factor: Annotated[int, typer.Option(min=0, help="0: min(3, brokers).")] = 0,
    home: HomeOption = None,
) -> None:
    """List topics, or create / describe one."""
    cluster = _cluster(home)
    admin = cluster.admin()
    try:
        if create:
            cluster.create_topic(create, partitions, replication_factor)
            console.print(f"created {create}")
            return
        metadata = admin.list_topics(timeout=10)
    except KafkaException as exc:
        raise LabError(f"the brokers refused: {exc.args[0].str()}.") from exc
    if describe:
        topic = metadata.topics.get(describe)
        if topic is None:
            raise LabError(f"there is no topic {describe!r}; `labctl topics` lists them.")
        configs = cluster.topic_configs(describe)
        for pid, part in sorted(topic.partitions.items()):
            console.print(f"{describe}[{pid}] leader {part.leader} replicas {part.replicas} "
                          f"isr {part.isrs}")  # fmt: skip
        for key in ("min.insync.replicas", "message.timestamp.type", "retention.ms"):
            console.print(f"  {key}={configs.get(key)}")
        return
    for name in sorted(t for t in metadata.topics if not t.startswith("__")):
        console.print(name)


ISOLATION_HELP = (
    "read_committed: only records of committed transactions (what an exactly-once sink wrote, "
    "never an aborted batch); read_uncommitted: every record, aborted ones too (Kafka's default)."
)


class Isolation(StrEnum):
    read_uncommitted = "read_uncommitted"
    read_committed = "read_committed"


@app.command()
def consume(
    topic: str,
    from_beginning: Annotated[bool, typer.Option(help="Start at the first offset.")] = False,
    max_messages: Annotated[int | None, typer.Option(min=1)] = None,
    partition: Annotated[int | None, typer.Option(min=0)] = None,
    idle_timeout: Annotated[float, typer.Option(help="Stop after this many idle seconds.")] = 0,
    isolation: Annotated[Isolation, typer.Option(help=ISOLATION_HELP)] = Isolation.read_uncommitted,
    home: HomeOption = None,
) -> None:
    """Print a topic's records, one per line (Ctrl-C stops)."""
    cluster = _cluster(home)
    reset = "earliest" if from_beginning else "latest"
    group = f"labctl-{time.time_ns()}"
    config = {"group.id": group, "enable.auto.commit": False, "auto.offset.reset": reset,
              "isolation.level": isolation.value}  # fmt: skip
    consumer = Consumer({**cluster.client_config(), **config})
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    if partition is not None:
        consumer.assign([TopicPartition(topic, partition, start)])
    else:
        consumer.subscribe([topic])
    seen, idle_since = 0, time.monotonic()
    out = sys.stdout.buffer
    try:
        while max_messages is None or seen < max_messages:
            message = consumer.poll(0.5)
            if message is None:
                if idle_timeout and time.monotonic() - idle_since > idle_timeout:
                    break
                continue
            error = message.error()
            if error is not None:
                raise LabError(f"consuming {topic} failed: {error.str()}.")
            out.write((message.value() or b"") + b"\n")
            out.flush()
            seen += 1
            idle_since = time.monotonic()
    finally:
        consumer.close()


@app.command()
def produce(
    topic: str,
    acks: Annotated[str, typer.Option(help="0, 1 or all.")] = "all",
    home: HomeOption = None,
) -> None:
    """Send each line of stdin as one record; fails if any record is not acknowledged."""
    cluster = _cluster(home)
    producer = Producer({**cluster.client_config(), "acks": acks, "linger.ms": 5})
    failures: list[str] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    count = 0
    for line in sys.stdin.buffer:
        producer.produce(topic, line.rstrip(b"\n"), on_delivery=delivered)
        producer.poll(0)
        count += 1
    left = producer.flush(30)
    if failures or left:
        raise LabError(f"{len(failures) + left} of {count} records were not acknowledged "
                       f"({failures[0] if failures else 'timed out'}).")  # fmt: skip
    console.print(f"{count} record(s) acknowledged by {topic} (acks={acks})", highlight=False)
