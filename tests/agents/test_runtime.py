"""The runtime with real threads and files: backpressure from a full channel, runners retry
what cannot start and restart what fails, health sees stalls,
stop drains only what a running sink can drain, several channels per source, and the module
graph has no import cycle."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from tests.agents.agent_helpers import (
    REPO,
    SLOW_SINK,
    agent_from_text,
    lines_in,
    wait_for,
)

FLAKY_SOURCE = '''
from agents.component import Status
from agents.event import EventBatch
from agents.sources.base import Source

class Flaky(Source):
    """Emits n1, n2, ...; its process() raises on the 3rd and 6th call (a reader that dies)."""
    calls = 0
    starts = 0

    def start(self):
        type(self).starts += 1
        super().start()

    def process(self):
        self.flush()
        type(self).calls += 1
        if type(self).calls in (3, 6):
            raise OSError("disk read error")
        if type(self).calls > 10:
            return Status.BACKOFF
        self.send([(EventBatch([b"n%d" % type(self).calls]), None)])
        return Status.READY
'''

SINKLESS = (
    "a.sources = x\na.channels = c\na.sinks = k\n"
    "a.sources.x.type = exec\na.sources.x.command = seq 1 1000\na.sources.x.channels = c\n"
    "a.channels.c.type = memory\na.channels.c.capacity = 10000\n"
    "a.channels.c.transactionCapacity = 1000\na.sources.x.batchSize = 1000\n"
)


def test_a_source_whose_process_raises_is_restarted_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10 item 8: a failing reader is restarted with backoff and counted."""
    (tmp_path / "flaky_src.py").write_text(FLAKY_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    agent = agent_from_text(
        "a.sources = x\na.channels = c\na.sinks = k\n"
        "a.sources.x.type = flaky_src.Flaky\na.sources.x.channels = c\n"
        "a.channels.c.type = memory\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\na.sinks.k.channel = c\n"
    )
    runner_pause = __import__("agents.runners", fromlist=["CRASH_PAUSE"])
    monkeypatch.setattr(runner_pause, "CRASH_PAUSE", (0.05, 0.1))
    agent.start()
    source = agent.sources["x"]
    try:
        assert wait_for(lambda: len(lines_in(out)) == 8)
    finally:
        agent.stop()
    assert lines_in(out) == [b"n%d" % i for i in (1, 2, 4, 5, 7, 8, 9, 10)]
    assert source.counters.get("RestartCount") == 2
    assert source.counters.get("GenericProcessingFail") == 2
    assert getattr(type(source), "starts", None) == 3  # a class of the test's own module


def test_stop_does_not_wait_for_a_channel_no_sink_drains(tmp_path: Path) -> None:
    """Issue 14 item 8: events left and no sink: stop at once, as Flume does (and say so)."""
    conf = SINKLESS.replace("a.sinks = k\n", "")
    agent = agent_from_text(conf + "a.sinks = \n")
    agent.start()
    assert wait_for(lambda: agent.channels["c"].size() == 1000)
    began = time.monotonic()
    agent.stop(drain_timeout=30)
    assert time.monotonic() - began < 5


def test_stop_waits_at_most_the_drain_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sink that delivers too slowly: stop gives up after drain_timeout, says what stays."""
    (tmp_path / "drain_slow_sink.py").write_text(
        "import time\n"
        "from agents.sinks.simple import BatchSink, BatchSink as _B\n"
        "class Slow(BatchSink):\n"
        "    PROPERTIES = (_B.BATCH_PROP,)\n"
        "    def write(self, batch):\n"
        "        time.sleep(0.2)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = agent_from_text(SINKLESS + "a.sinks.k.type = drain_slow_sink.Slow\n"
                            "a.sinks.k.batchSize = 1\na.sinks.k.channel = c\n")  # fmt: skip
    agent.start()
    assert wait_for(lambda: agent.sources["x"].counters.get("EventAcceptedCount") == 1000)
    began = time.monotonic()
    agent.stop(drain_timeout=1.5)
    took = time.monotonic() - began
    assert 1.5 <= took < 10, took
    assert 0 < agent.channels["c"].size() < 1000


def test_stop_does_not_wait_for_a_sink_whose_last_delivery_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 23 item 5: a destination that is down is not waited for; the events stay in the
    channel, and the log says a memory channel loses them."""
    (tmp_path / "failing_sink.py").write_text(
        "from agents.sinks.simple import BatchSink, BatchSink as _B\n"
        "class Failing(BatchSink):\n"
        "    PROPERTIES = (_B.BATCH_PROP,)\n"
        "    def write(self, batch):\n"
        "        raise OSError('disk full')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = agent_from_text(SINKLESS + "a.sinks.k.type = failing_sink.Failing\n"
                            "a.sinks.k.channel = c\n")  # fmt: skip
    agent.start()
    assert wait_for(lambda: agent.sources["x"].counters.get("EventAcceptedCount") == 1000)
    assert wait_for(lambda: agent.sinks["k"].failing())
    began = time.monotonic()
    agent.stop(drain_timeout=30)
    assert time.monotonic() - began < 10  # not the 30 s drain timeout
    assert agent.channels["c"].size() == 1000  # nothing was delivered, nothing was lost silently
    assert (
        "stopping with 1000 events in channel c: the last delivery of sink(s) k failed; "
        "a memory channel loses them" in caplog.text
    )


def test_a_rollback_storm_and_a_blocked_source_show_in_health(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10 item 9: a sink that always fails is 'rolling back', the source feeding its
    full channel is 'blocked'; each change of state is logged once."""
    (tmp_path / "failing_sink2.py").write_text(
        "from agents.sinks.simple import BatchSink\n"
        "class Failing(BatchSink):\n"
        "    PROPERTIES = (BatchSink.BATCH_PROP,)\n"
        "    def write(self, batch):\n"
        "        raise OSError('disk full')\n"
        "    def backoff_pause(self, attempt):\n"
        "        return 0.01\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    conf = (SINKLESS.replace("capacity = 10000", "capacity = 100")
            .replace("transactionCapacity = 1000", "transactionCapacity = 100")
            .replace("batchSize = 1000", "batchSize = 100")
            .replace("a.channels.c.type = memory\n",
                     "a.channels.c.type = memory\na.channels.c.keep-alive = 0.1\n"))  # fmt: skip
    agent = agent_from_text(conf + "a.sinks.k.type = failing_sink2.Failing\n"
                            "a.sinks.k.channel = c\n", stall_after=1.0)  # fmt: skip
    agent.start()
    try:
        sink, source = agent.sinks["k"], agent.sources["x"]
        assert wait_for(lambda: agent.health(sink).startswith("rolling back: "))
        assert "disk full" in agent.health(sink)
        assert wait_for(lambda: agent.health(source).startswith("blocked: channel c is full"))
    finally:
        agent.stop(drain_timeout=0)


def test_one_source_into_two_channels_each_with_its_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every event reaches both sinks exactly once, though one channel is small and its sink
    slow (the other channel is never asked twice for a batch it took), and the spool file is
    finished only once both sinks committed it."""
    (tmp_path / "slow_sink3.py").write_text(
        "import time\nfrom agents.sinks.simple import RollingFileSink\n"
        "class Slow(RollingFileSink):\n"
        "    def write(self, batch):\n"
        "        time.sleep(0.005)\n"
        "        super().write(batch)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spool, fast, slow = tmp_path / "spool", tmp_path / "fast", tmp_path / "slow"
    spool.mkdir()
    records = [b"%05d" % i for i in range(5000)]
    (spool / "f.txt").write_bytes(b"\n".join(records) + b"\n")
    agent = agent_from_text(
        "a.sources = s\na.channels = big small\na.sinks = f w\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\n"
        "a.sources.s.readyAfter = 0\na.sources.s.batchSize = 50\n"
        "a.sources.s.channels = big small\n"
        "a.channels.big.type = memory\na.channels.big.capacity = 100000\n"
        "a.channels.small.type = memory\na.channels.small.capacity = 100\n"
        "a.channels.small.transactionCapacity = 50\na.channels.small.keep-alive = 0\n"
        f"a.sinks.f.type = file_roll\na.sinks.f.sink.directory = {fast}\n"
        "a.sinks.f.channel = big\n"
        f"a.sinks.w.type = slow_sink3.Slow\na.sinks.w.sink.directory = {slow}\n"
        "a.sinks.w.batchSize = 20\na.sinks.w.channel = small\n"
    )
    agent.start()
    try:
        assert wait_for(lambda: (spool / "f.txt.COMPLETED").exists(), timeout=60)
        assert lines_in(slow) == records, "the file was finished before the slow sink had it"
    finally:
        agent.stop()
    assert lines_in(fast) == records
    assert agent.sources["s"].counters.get("ChannelWriteFail") > 0, "small never filled up"
    assert agent.channels["big"].counters.get("EventPutSuccessCount") == len(records)


def test_the_agent_package_has_no_import_cycle():
    """Issue 10 item 8: e.g. agents/processor.py <-> agents/sources/base.py is gone."""
    files = {
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): path
        for path in (REPO / "agents").rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        deps = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agents"):
                for alias in node.names:  # "from pkg import submodule" needs the submodule
                    sub = f"{node.module}.{alias.name}"
                    deps.add(sub if sub in files else str(node.module))
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("agents"))

    def cycle_from(start: str, at: str, seen: list[str]) -> list[str] | None:
        for dep in graph.get(at, ()):
            if dep == start:
                return [*seen, dep]
            if dep not in seen and dep in graph:
                found = cycle_from(start, dep, [*seen, dep])
                if found:
                    return found
        return None

    for module in graph:
        assert cycle_from(module, module, [module]) is None, cycle_from(module, module, [module])


def test_full_channel_slows_the_source_and_drops_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sink slower than the source: the channel (capacity 50) fills, the source waits."""
    (tmp_path / "slow_sink.py").write_text(SLOW_SINK)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    conf = (
        "a.sources = x\na.channels = c\na.sinks = k\n"
        "a.sources.x.type = exec\na.sources.x.command = seq 1 3000\na.sources.x.batchSize = 20\n"
        "a.sources.x.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 50\n"
        "a.channels.c.transactionCapacity = 20\na.channels.c.keep-alive = 0\n"
        f"a.sinks.k.type = slow_sink.Slow\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.rollInterval = 0\na.sinks.k.batchSize = 10\na.sinks.k.channel = c\n"
    )
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: len(lines_in(out)) == 3000, timeout=60)
    finally:
        agent.stop()
    assert lines_in(out) == [str(i).encode() for i in range(1, 3001)]
    source = agent.sources["x"]
    assert source.counters.get("ChannelWriteFail") > 0, "the channel never filled up"
    assert source.counters.get("EventAcceptedCount") == 3000


def test_a_component_that_fails_to_start_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "flaky_sink.py").write_text(
        "from agents.sinks.simple import RollingFileSink\n"
        "class Flaky(RollingFileSink):\n"
        "    attempts = 0\n"
        "    def start(self):\n"
        "        type(self).attempts += 1\n"
        "        if type(self).attempts < 3:\n"
        "            raise OSError('destination not reachable yet')\n"
        "        super().start()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    agent = agent_from_text(
        "a.sources = x\na.channels = c\na.sinks = k\n"
        "a.sources.x.type = exec\na.sources.x.command = seq 1 100\na.sources.x.channels = c\n"
        "a.channels.c.type = memory\n"
        f"a.sinks.k.type = flaky_sink.Flaky\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.channel = c\n"
    )
    agent.start()
    try:
        sink = agent.sinks["k"]
        assert wait_for(
            lambda: agent.health(sink).startswith("retrying: destination not reachable yet")
        )  # the runner's first attempt happens on its own thread
        assert wait_for(lambda: out.exists() and len(lines_in(out)) == 100, timeout=30)
        assert agent.health(sink) == "running"
    finally:
        agent.stop()
