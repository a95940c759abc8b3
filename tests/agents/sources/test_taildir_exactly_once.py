"""TAILDIR into an exactly-once Kafka sink: logs written, rotated, truncated in place and their
inodes reused while the agent is SIGKILLed and started again; a read_committed reader finds
every line exactly once."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

from labctl.cluster import Cluster
from tests.agents.eos_helpers import KilledAgent, eos_sink, once_each, read_all, unique

LINES, ROTATE_EVERY, CHUNK = 24_000, 6_000, 200


def taildir_eos_conf(logs: Path, state: Path, sink: str) -> str:
    return (
        "a.sources = t\na.channels = c\na.sinks = k\n"
        "a.sources.t.type = TAILDIR\na.sources.t.filegroups = g\n"
        f"a.sources.t.filegroups.g = {logs}/app[.]log.*\n"
        f"a.sources.t.positionFile = {state}/pos.json\na.sources.t.writePosInterval = 100\n"
        "a.sources.t.batchSize = 100\na.sources.t.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 5000\n"
        "a.channels.c.transactionCapacity = 1000\n" + sink
    )


class Writer(threading.Thread):
    """Appends distinct lines to app.log at a steady pace, rotating it (rename, then a new
    file) every ROTATE_EVERY lines, as logrotate's default does."""

    def __init__(self, logs: Path) -> None:
        super().__init__(daemon=True)
        self.logs = logs
        self.lines: list[bytes] = []
        self.rotations = 0

    def run(self) -> None:
        log = self.logs / "app.log"
        while len(self.lines) < LINES:
            if self.lines and len(self.lines) % ROTATE_EVERY == 0:
                self.rotations += 1
                log.rename(self.logs / f"app.log.{self.rotations}")
            rows = [b"w-%06d,20160101000000,K0001" % (len(self.lines) + i) for i in range(CHUNK)]
            with open(log, "ab") as fh:
                fh.write(b"\n".join(rows) + b"\n")
            self.lines += rows
            time.sleep(0.01)  # a steady writer, not a burst


def write(path: Path, rows: list[bytes]) -> list[bytes]:
    with open(path, "ab") as fh:
        fh.write(b"\n".join(rows) + b"\n")
    return rows


def test_taildir_rotation_truncation_and_inode_reuse_with_sigkills(
    kafka_cluster: Cluster, tmp_path: Path
) -> None:
    bootstrap = kafka_cluster.spec.bootstrap
    topic, tid, positions = unique("eos"), unique("tid"), unique("positions")
    logs, state = tmp_path / "logs", tmp_path / "state"
    logs.mkdir()
    state.mkdir()
    conf = taildir_eos_conf(logs, state, eos_sink(bootstrap, topic, tid, positions))
    agent = KilledAgent(conf, tmp_path)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    writer = Writer(logs)
    writer.start()
    agent.kill_at_random(rng, 5, 1.5)  # while lines come and the log is rotated
    writer.join(120)
    assert writer.rotations >= 3
    records = list(writer.lines)
    agent.start()
    try:
        read_all(bootstrap, topic, timeout=120, at_least=len(records))
        # truncated in place (everything in it is in Kafka), new lines, SIGKILL before or
        # after the agent saw it: either way the new lines are a new stream, not duplicates
        os.truncate(logs / "app.log", 0)
        records += write(logs / "app.log", [b"t-%06d,after truncation" % i for i in range(500)])
        time.sleep(rng.uniform(0, 0.5))  # a random instant around the truncation
        agent.kill()
        agent.start()
        read_all(bootstrap, topic, timeout=120, at_least=len(records))
        # a rotated file deleted and a new one taking its inode (ext4 reuses it at once)
        old = logs / "app.log.1"
        inode = old.stat().st_ino
        old.unlink()
        reused = logs / "app.log.9"
        records += write(reused, [b"r-%06d,reused inode" % i for i in range(500)])
        time.sleep(rng.uniform(0, 0.5))
        agent.kill()
        agent.start()
        read_all(bootstrap, topic, timeout=120, at_least=len(records))
    finally:
        assert agent.stop() == 0, agent.tail()
    problem = once_each(read_all(bootstrap, topic), records)
    assert not problem, f"seed {seed}: {problem}\n{agent.tail()}"
    assert agent.kills == 7
    print(f"inode {'reused' if reused.stat().st_ino == inode else 'not reused'} (seed {seed})")
