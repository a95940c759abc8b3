"""The file channel in an agent process under the faults a user trusting it with production
data must survive (issue 11 item 7), against real Kafka:

- the agent SIGKILLed 3 times during a 500,000-line transfer: every line in Kafka at least
  once, duplicates counted;
- the Kafka cluster fully down for 60 s: the channel absorbs the input, the agent recovers by
  itself, nothing lost;
- a nearly full disk (a 24 MiB tmpfs): puts refused with a clear message, the source backs off,
  nothing lost once the sink drains and spent segments free the space;
- a corrupt segment: detected and reported at start, the rest replayed and delivered.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from labctl.cluster import Cluster
from tests.agents.agent_helpers import run_agent_process, stop_process, tmpfs, wait_for
from tests.conftest import free_port_block


def conf(spool: Path, root: Path, brokers: str, topic: str, extra: str = "") -> str:
    return (
        "a.sources = s\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\n"
        "a.sources.s.readyAfter = 0\na.sources.s.pollDelay = 50\na.sources.s.batchSize = 1000\n"
        "a.sources.s.deletePolicy = immediate\na.sources.s.channels = c\n"
        f"a.channels.c.type = file\na.channels.c.checkpointDir = {root}/cp\n"
        f"a.channels.c.dataDirs = {root}/data\na.channels.c.transactionCapacity = 1000\n"
        "a.channels.c.checkpointInterval = 1000\na.channels.c.minimumRequiredSpace = 1m\n"
        f"a.sinks.k.type = kafka\na.sinks.k.kafka.bootstrap.servers = {brokers}\n"
        f"a.sinks.k.kafka.topic = {topic}\na.sinks.k.flumeBatchSize = 1000\n"
        "a.sinks.k.kafka.producer.acks = all\na.sinks.k.channel = c\n" + extra
    )


class AgentProcess:
    """`python -m agents` on a config, with its metrics port; restartable."""

    def __init__(self, tmp: Path, text: str) -> None:
        self.conf = tmp / "a.conf"
        self.conf.write_text(text)
        self.log = tmp / "agent.log"
        self.state = tmp / "state"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> None:
        """Start it; returns once it runs (its channel replayed) and its metrics answer."""
        starts = self.log.read_text().count("agent a started") if self.log.exists() else 0
        self.port = free_port_block(1)
        options = ("--state-dir", str(self.state), "--monitoring-port", str(self.port),
                   "--stall-after", "2")  # fmt: skip
        self.proc = run_agent_process(self.conf, "a", self.log, *options)
        assert wait_for(lambda: self.log.read_text().count("agent a started") > starts
                        and self.answers(), timeout=60), self.log.read_text()[-2000:]  # fmt: skip

    def answers(self) -> bool:
        try:
            self.metrics()
            return True
        except OSError:
            return False

    def metrics(self) -> dict[str, dict[str, str]]:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as resp:
            data: dict[str, dict[str, str]] = json.loads(resp.read())
        return data

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Callable[[str], AgentProcess]]:
    made: list[AgentProcess] = []

    def make(text: str) -> AgentProcess:
        made.append(AgentProcess(tmp_path, text))
        return made[-1]

    yield make
    for a in made:
        a.stop()


def lines(first: int, n: int) -> list[bytes]:
    return [
        b"%07d,20160101000004,K0001,93,88,88,83,1,1,1,1,A,A,95" % i for i in range(first, first + n)
    ]


def spool_file(spool: Path, name: str, body: list[bytes]) -> None:
    tmp = spool / f".{name}.tmp"
    tmp.write_bytes(b"\n".join(body) + b"\n")
    tmp.rename(spool / name)


def end_offset(cluster: Cluster, topic: str) -> int:
    c = Consumer({**cluster.client_config(), "group.id": "faults"})
    try:
        return int(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)[1])
    except Exception:
        return -1
    finally:
        c.close()


def topic_values(cluster: Cluster, topic: str, expect: int, idle: float = 20.0) -> list[bytes]:
    """Every record of the topic (one partition), read until its end offset is reached."""
    c = Consumer({**cluster.client_config(), "group.id": uuid.uuid4().hex,
                  "enable.auto.commit": False})  # fmt: skip
    c.assign([TopicPartition(topic, 0, 0)])
    out: list[bytes] = []
    end = -1
    last = time.monotonic()
    while time.monotonic() - last < idle:
        if len(out) >= expect and end < 0:
            end = int(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
        if 0 <= end <= len(out):
            break
        batch = c.consume(20000, 0.5)
        out.extend(v for m in batch if m.error() is None and (v := m.value()) is not None)
        if batch:
            last = time.monotonic()
    c.close()
    return out


def tally(want: list[bytes], got: list[bytes]) -> tuple[int, int]:
    """(missing, duplicates)."""
    seen = Counter(got)
    return sum(1 for w in want if w not in seen), sum(n - 1 for n in seen.values() if n > 1)


def flow(cluster: Cluster, tmp_path: Path, what: str, root: str = "") -> tuple[str, Path, str]:
    """A new topic, a spool dir, and the config of spooldir -> file (in *root*) -> kafka."""
    topic = f"fc-{what}-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, 1, 1)
    spool = tmp_path / "spool"
    spool.mkdir()
    return topic, spool, conf(spool, Path(root or tmp_path / "fc"), cluster.bootstrap, topic)


def test_sigkill_three_times_during_half_a_million_lines(
    kafka_cluster: Cluster, tmp_path: Path, agent: Callable[[str], AgentProcess]
) -> None:
    topic, spool, text = flow(kafka_cluster, tmp_path, "kill")
    want = lines(0, 500_000)
    a = agent(text)
    for n in range(5):  # five files of 100,000 lines
        spool_file(spool, f"part-{n}.txt", want[n * 100_000 : (n + 1) * 100_000])
    a.start()
    kills = []
    for threshold in (100_000, 250_000, 400_000):

        def written(least: int = threshold) -> bool:
            return end_offset(kafka_cluster, topic) >= least

        assert wait_for(written, timeout=120)
        a.kill()
        kills.append(end_offset(kafka_cluster, topic))
        a.start()  # replays the channel, resumes the spool files where they were safe
    assert wait_for(lambda: not list(spool.glob("part-*")) and
                    int(a.metrics()["CHANNEL.c"]["ChannelSize"]) == 0, timeout=180)  # fmt: skip
    got = topic_values(kafka_cluster, topic, len(want))
    missing, duplicates = tally(want, got)
    print(f"killed at {kills}; {len(got):,} records, {duplicates:,} duplicates")
    assert missing == 0, f"{missing} lines lost"
    # at most, per kill: the Kafka sink's in-flight batches (32 x 1000) and a source batch
    assert duplicates <= 3 * (32 * 1000 + 1000)
    assert "replayed" in a.log.read_text()


def test_kafka_fully_down_for_a_minute(
    lab_factory: Callable[..., Cluster], tmp_path: Path, agent: Callable[[str], AgentProcess]
) -> None:
    cluster = lab_factory(brokers=1)
    topic, spool, text = flow(cluster, tmp_path, "down")
    want = lines(0, 200_000)
    a = agent(text)
    a.start()
    spool_file(spool, "before.txt", want[:50_000])
    assert wait_for(lambda: end_offset(cluster, topic) >= 50_000, timeout=60)
    down = time.monotonic()
    cluster.backend.stop()  # the brokers, then ZooKeeper
    spool_file(spool, "during.txt", want[50_000:])
    # the channel absorbs what comes in meanwhile: the file is consumed into it
    assert wait_for(lambda: not (spool / "during.txt").exists(), timeout=60)
    assert int(a.metrics()["CHANNEL.c"]["ChannelSize"]) >= 100_000
    assert wait_for(lambda: a.metrics()["SINK.k"]["Health"].startswith("stalled"), timeout=30)
    time.sleep(max(0.0, 60 - (time.monotonic() - down)))  # the outage lasts a minute
    cluster.up()
    assert wait_for(lambda: int(a.metrics()["CHANNEL.c"]["ChannelSize"]) == 0, timeout=180)
    got = topic_values(cluster, topic, len(want))
    missing, duplicates = tally(want, got)
    print(f"{len(got):,} records after a {time.monotonic() - down:.0f} s outage, "
          f"{duplicates} duplicates")  # fmt: skip
    assert missing == 0
    assert wait_for(lambda: a.metrics()["SINK.k"]["Health"] == "running", timeout=30)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "24m") as mnt:
        yield mnt


def test_a_nearly_full_disk_refuses_puts_then_recovers(
    lab_factory: Callable[..., Cluster], tmp_path: Path, small_disk: Path,
    agent: Callable[[str], AgentProcess],
) -> None:  # fmt: skip
    cluster = lab_factory(brokers=1)
    topic, spool, text = flow(cluster, tmp_path, "disk", str(small_disk))
    want = lines(0, 600_000)  # ~32 MB: more than the disk holds
    text = text.replace(
        "minimumRequiredSpace = 1m", "minimumRequiredSpace = 6m\na.channels.c.maxFileSize = 1m"
    )
    a = agent(text)
    cluster.backend.stop()  # Kafka away: the channel can only fill up
    a.start()
    for n in range(6):
        spool_file(spool, f"part-{n}.txt", want[n * 100_000 : (n + 1) * 100_000])
    assert wait_for(lambda: a.metrics()["SOURCE.s"]["Health"].startswith("blocked: "), timeout=90)
    health = a.metrics()["CHANNEL.c"]["Health"]
    assert "minimumRequiredSpace is 6,291,456: puts are refused until space returns" in health
    assert a.log.read_text().count("refuses puts:") == 1  # said once, not once per retry
    held = int(a.metrics()["CHANNEL.c"]["ChannelSize"])
    assert 0 < held < len(want)
    cluster.up()  # the sink drains, checkpoints delete spent segments: space comes back
    assert wait_for(lambda: not list(spool.glob("part-*")) and
                    int(a.metrics()["CHANNEL.c"]["ChannelSize"]) == 0, timeout=240)  # fmt: skip
    assert "disk space is back; puts are accepted again" in a.log.read_text()
    got = topic_values(cluster, topic, len(want))
    missing, duplicates = tally(want, got)
    print(f"held {held:,} events at the refusal; {duplicates} duplicates")
    assert missing == 0


def test_a_corrupt_segment_is_reported_and_the_rest_replayed(
    tmp_path: Path, agent: Callable[[str], AgentProcess]
) -> None:
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    text = conf(spool, tmp_path / "fc", "127.0.0.1:1", "unused").replace(
        "a.sinks = k\n", "").split("a.sinks.k.type")[0]  # fmt: skip
    a = agent(text + "a.channels.c.maxFileSize = 256k\n")
    want = lines(0, 20_000)
    spool_file(spool, "day.txt", want)
    a.start()
    assert wait_for(lambda: int(a.metrics()["CHANNEL.c"]["ChannelSize"]) == 20_000, timeout=60)
    a.kill()
    segments = sorted((tmp_path / "fc" / "data").glob("seg-*.log"))
    assert len(segments) > 2
    victim = segments[1]
    data = bytearray(victim.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = b"\xde\xad\xbe\xef" * 2  # bit rot inside a record
    victim.write_bytes(bytes(data))
    sink = (f"a.sinks = k\na.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
            "a.sinks.k.sink.rollInterval = 0\na.sinks.k.batchSize = 1000\n"
            "a.sinks.k.channel = c\n")  # fmt: skip
    a.conf.write_text(a.conf.read_text() + sink)
    a.start()
    assert wait_for(lambda: int(a.metrics()["CHANNEL.c"]["ChannelSize"]) == 0, timeout=60)
    log = a.log.read_text()
    assert str(victim) in log and "its events are lost" in log  # named: segment and bytes
    got = [line for f in sorted(out.iterdir()) for line in f.read_bytes().splitlines()]
    missing, duplicates = tally(want, got)
    assert 0 < missing <= 1000  # the one damaged batch (a put of at most 1000 events)
    kept = set(got)
    assert duplicates == 0 and got == [w for w in want if w in kept]  # the rest, in order
