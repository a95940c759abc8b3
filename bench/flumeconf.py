"""The bench's agent config, in Flume's properties format: one text for our agent and Flume.

Each flow is ``spooldir -> regex_filter (^\\d{14}) -> memory -> kafka`` (or a durable
``file`` channel in the flow's ``channel_dir``) with the book's batch sizes and acks=1,
written with the property names both implementations know (no aliases), so Apache Flume 1.11
and ``python -m agents`` run the very same file. ``readyAfter`` is ours (Flume has no such
key and ignores it): 0, because the bench hands files over whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AGENT = "a"


@dataclass(frozen=True)
class Flow:
    spool: Path
    topic: str
    channel_dir: Path | None = None  # a file channel's checkpoint and data there; else memory


def spool_to_kafka(flows: list[Flow], bootstrap: str) -> str:
    """An agent named ``a`` with one ``spooldir -> ... -> kafka`` flow per item of *flows*."""
    n = range(1, len(flows) + 1)
    lines = [
        f"{AGENT}.sources = {' '.join(f's{i}' for i in n)}",
        f"{AGENT}.channels = {' '.join(f'c{i}' for i in n)}",
        f"{AGENT}.sinks = {' '.join(f'k{i}' for i in n)}",
    ]
    for i, flow in zip(n, flows, strict=True):
        s, c, k = f"{AGENT}.sources.s{i}", f"{AGENT}.channels.c{i}", f"{AGENT}.sinks.k{i}"
        lines += [
            f"{s}.type = spooldir",
            f"{s}.spoolDir = {flow.spool}",
            f"{s}.deletePolicy = immediate",
            f"{s}.batchSize = 1000",
            f"{s}.pollDelay = 20",
            f"{s}.readyAfter = 0",
            f"{s}.interceptors = f",
            f"{s}.interceptors.f.type = regex_filter",
            f"{s}.interceptors.f.regex = ^\\\\d{{14}}",
            f"{s}.channels = c{i}",
            *_channel(c, flow.channel_dir),
            f"{k}.type = org.apache.flume.sink.kafka.KafkaSink",
            f"{k}.kafka.bootstrap.servers = {bootstrap}",
            f"{k}.kafka.topic = {flow.topic}",
            f"{k}.kafka.producer.acks = 1",
            f"{k}.flumeBatchSize = 1000",
            f"{k}.channel = c{i}",
        ]
    return "\n".join(lines) + "\n"


def _channel(c: str, channel_dir: Path | None) -> list[str]:
    if channel_dir is None:
        return [f"{c}.type = memory", f"{c}.capacity = 100000", f"{c}.transactionCapacity = 10000"]
    return [  # Flume's defaults but the directories; every commit fsynced (its default)
        f"{c}.type = file",
        f"{c}.checkpointDir = {channel_dir}/checkpoint",
        f"{c}.dataDirs = {channel_dir}/data",
        f"{c}.capacity = 1000000",
        f"{c}.transactionCapacity = 10000",
        f"{c}.minimumRequiredSpace = 67108864",  # in bytes: Flume reads no units here
    ]


def follow_to_kafka(kind: str, log: Path, state: Path, topic: str, bootstrap: str) -> str:
    """An agent named ``a`` following *log* (``exec`` ``tail -F`` or ``TAILDIR``) into Kafka."""
    s = f"{AGENT}.sources.s1"
    if kind == "exec":
        source = [f"{s}.type = exec", f"{s}.command = tail -F {log}"]
    else:
        source = [
            f"{s}.type = TAILDIR",
            f"{s}.filegroups = g",
            f"{s}.filegroups.g = {log}",
            f"{s}.positionFile = {state}/taildir_position.json",
        ]
    lines = [
        f"{AGENT}.sources = s1",
        f"{AGENT}.channels = c1",
        f"{AGENT}.sinks = k1",
        *source,
        f"{s}.batchSize = 1000",
        f"{s}.channels = c1",
        f"{AGENT}.channels.c1.type = memory",
        f"{AGENT}.channels.c1.capacity = 100000",
        f"{AGENT}.channels.c1.transactionCapacity = 10000",
        f"{AGENT}.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink",
        f"{AGENT}.sinks.k1.kafka.bootstrap.servers = {bootstrap}",
        f"{AGENT}.sinks.k1.kafka.topic = {topic}",
        f"{AGENT}.sinks.k1.kafka.producer.acks = 1",
        f"{AGENT}.sinks.k1.flumeBatchSize = 1000",
        f"{AGENT}.sinks.k1.channel = c1",
    ]
    return "\n".join(lines) + "\n"
