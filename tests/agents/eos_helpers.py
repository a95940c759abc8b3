"""Helpers for the exactly-once tests: configs, agents killed with SIGKILL, topics read whole."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import confluent_kafka as ck

from tests.agents.agent_helpers import run_agent_process, wait_for

HOLD_ENV = "AGENTS_EOS_HOLD"
READY = "fenced its predecessors"  # the sink's log line once it can write


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def eos_sink(bootstrap: str, topic: str, tid: str, positions: str, batch: int = 200,
             inflight: int = 4, extra: str = "") -> str:  # fmt: skip
    """The exactly-once Kafka sink ``k`` of agent ``a`` draining channel ``c``."""
    return (
        f"a.sinks.k.type = kafka\na.sinks.k.kafka.bootstrap.servers = {bootstrap}\n"
        f"a.sinks.k.kafka.topic = {topic}\na.sinks.k.flumeBatchSize = {batch}\n"
        f"a.sinks.k.maxInFlightBatches = {inflight}\na.sinks.k.exactlyOnce = true\n"
        f"a.sinks.k.transactionalId = {tid}\na.sinks.k.positionsTopic = {positions}\n"
        f"a.sinks.k.channel = c\n{extra}"
    )


def spool_eos_conf(spool: Path, sink: str, channel: str = "memory") -> str:
    return (
        "a.sources = s\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\n"
        "a.sources.s.readyAfter = 0\na.sources.s.pollDelay = 20\na.sources.s.batchSize = 100\n"
        f"a.sources.s.channels = c\na.channels.c.type = {channel}\n"
        + ("a.channels.c.capacity = 5000\na.channels.c.transactionCapacity = 1000\n"
           if channel == "memory" else "a.channels.c.transactionCapacity = 1000\n")
        + sink
    )  # fmt: skip


def write_spool_files(spool: Path, files: int, lines: int, tag: str = "") -> list[bytes]:
    """*files* files of *lines* distinct lines each, written hidden and renamed in."""
    records: list[bytes] = []
    for f in range(files):
        rows = [b"%s%02d-%06d,20160101000000,K%04d" % (tag.encode(), f, i, i % 100)
                for i in range(lines)]  # fmt: skip
        hidden = spool / f".f{f:02d}{tag}.log"
        hidden.write_bytes(b"\n".join(rows) + b"\n")
        hidden.rename(spool / f"f{f:02d}{tag}.log")
        records += rows
    return records


def read_all(bootstrap: str, topic: str, isolation: str = "read_committed",
             timeout: float = 60, at_least: int = 0) -> list[bytes]:  # fmt: skip
    """Every record value of *topic* up to its end (as the isolation level sees it); with
    *at_least*, waits (up to *timeout*) until that many are there."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                            "isolation.level": isolation, "enable.partition.eof": True,
                            "enable.auto.commit": False})  # fmt: skip
    try:
        meta = consumer.list_topics(topic, timeout=10)
        parts = list(meta.topics[topic].partitions)
        consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in parts])
        values: list[bytes] = []
        ended: set[int] = set()
        deadline = time.monotonic() + timeout
        while (len(ended) < len(parts) or len(values) < at_least) and (time.monotonic() < deadline):
            for m in consumer.consume(1000, 0.5):
                err = m.error()
                if err is None:
                    values.append(m.value() or b"")
                    ended.discard(m.partition() or 0)
                elif err.code() == ck.KafkaError._PARTITION_EOF:
                    ended.add(m.partition() or 0)
        assert len(ended) == len(parts), f"{topic} not read to its end in {timeout} s"
        return values
    finally:
        consumer.close()


def once_each(got: list[bytes], want: list[bytes]) -> str:
    """'' if *got* holds every record of *want* exactly once (and nothing else), else what
    is wrong."""
    counts = collections.Counter(got)
    missing = [r for r in want if r not in counts]
    dups = {r: n for r, n in counts.items() if n > 1}
    extra = set(counts) - set(want)
    if not (missing or dups or extra):
        return ""
    return (
        f"{len(got)} records for {len(want)}: {len(missing)} missing (e.g. {missing[:3]}), "
        f"{len(dups)} duplicated (e.g. {list(dups.items())[:3]}), {len(extra)} unknown"
    )


class KilledAgent:
    """An agent process started, SIGKILLed and started again from one config."""

    def __init__(self, conf_text: str, work: Path, name: str = "a", hold: Path | None = None):
        self.conf = work / f"{name}.conf"
        self.conf.write_text(conf_text)
        self.log = work / f"{name}.log"
        self.state = work / f"state-{name}"
        self.name = name
        self.hold = hold
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.starts = 0

    def start(self) -> subprocess.Popen[bytes]:
        env_hold = {HOLD_ENV: str(self.hold)} if self.hold is not None else {}
        old = {k: os.environ.get(k) for k in env_hold}
        os.environ.update(env_hold)
        try:
            self.proc = run_agent_process(self.conf, self.name, self.log, "--state-dir",
                                          str(self.state), "--drain-timeout", "5")  # fmt: skip
            self.starts += 1
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return self.proc

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.kills += 1
        with open(self.log, "ab") as fh:
            fh.write(b"---- SIGKILL ----\n")

    def stop(self) -> int:
        """SIGTERM once it runs (its signal handlers are set): its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else 0
        wait_for(lambda: self.log_count(" started from ") >= self.starts or (
            self.proc is None or self.proc.poll() is not None), 60)  # fmt: skip
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def kill_at_random(self, rng: random.Random, times: int, most: float) -> None:
        """Start and SIGKILL the agent *times* times: once it is writing (its sink fenced its
        predecessors), after a random pause of up to *most* s; one time in four sooner, while
        it starts."""
        for _ in range(times):
            ready = self.log_count(READY)
            self.start()
            if rng.random() < 0.25:
                time.sleep(rng.uniform(0, 1.0))  # a random instant of its start
            else:

                def started(before: int = ready) -> bool:
                    return self.log_count(READY) > before

                assert wait_for(started, 60), self.tail()
                time.sleep(rng.uniform(0, most))  # a random instant of its work
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            self.kill()

    def log_count(self, text: str) -> int:
        return self.log.read_text(errors="replace").count(text) if self.log.exists() else 0

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_held(self, timeout: float = 60) -> bool:
        assert self.hold is not None
        held = Path(str(self.hold) + ".held")
        return wait_for(held.exists, timeout)


def consumed(spool: Path) -> bool:
    return not [p for p in spool.iterdir() if p.name.endswith(".log")]
