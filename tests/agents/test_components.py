"""Each pilot component on its own: interceptors, the logger's rendering, header-driven Kafka
options, spooldir's tracking policies and headers."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from agents.event import EventBatch
from agents.interceptors.builtin import (
    HostInterceptor,
    RegexFilterInterceptor,
    StaticInterceptor,
    TimestampInterceptor,
)
from agents.interceptors.collect_day import CollectDayInterceptor
from agents.sinks.simple import render_event
from agents.sources.spooldir import SpoolDirSource
from labctl.cluster import Cluster
from tests.agents.agent_helpers import agent_from_text, lines_in, of_type, wait_for
from tests.agents.interceptor_helpers import configured


def test_header_interceptors_and_preserve_existing():
    batch = EventBatch([b"a", b"b"], {"logType": "old"})
    before = int(time.time() * 1000)
    configured(TimestampInterceptor).intercept(batch)
    assert before <= int(batch.common["timestamp"]) <= int(time.time() * 1000)
    configured(StaticInterceptor, key="logType", value="car-batch-log").intercept(batch)
    assert batch.common["logType"] == "old"  # static keeps an existing header by default
    configured(StaticInterceptor, key="logType", value="new", preserveExisting="false").intercept(
        batch
    )
    assert batch.common["logType"] == "new"
    host = configured(HostInterceptor, hostHeader="h")
    host.start()
    host.intercept(batch)
    assert batch.common["h"]


def test_regex_filter_include_exclude_and_binary_bodies():
    bodies = [b"20160101000004,K0001", b"SmartCar Status Information", b"\xff\xfe binary",
              b"2016010100000,short"]  # fmt: skip
    keep = configured(RegexFilterInterceptor, regex="^\\d{14}").intercept(EventBatch(bodies))
    assert keep.bodies == [b"20160101000004,K0001"]
    drop = configured(RegexFilterInterceptor, regex="^\\d{14}", excludeEvents="true")
    assert drop.intercept(EventBatch(bodies)).bodies == bodies[1:]
    text = configured(RegexFilterInterceptor, regex="차량")  # non-ASCII pattern: text matching
    assert text.intercept(EventBatch(["차량 1".encode(), b"car"])).bodies == ["차량 1".encode()]


def test_collect_day_appends_the_collection_day():
    out = CollectDayInterceptor("c").intercept(EventBatch([b"20160101000004,K0001"]))
    assert out.bodies == [b"20160101000004,K0001," + time.strftime("%Y%m%d").encode()]


def test_logger_rendering_is_flumes():
    line = render_event(b"20160101000004,K0001,93", {"logType": "x"}, 16)
    assert line == ("Event: { headers:{logType=x} body: 32 30 31 36 30 31 30 31 30 30 30 30 30 "
                    "34 2C 4B 20160101000004,K }")  # fmt: skip
    assert render_event(b"a\x00b", {}, 16).endswith("61 00 62" + " " * 40 + "a.b }")


def test_spooldir_tracker_dir_policy_and_headers(tmp_path: Path) -> None:
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    (spool / "a.txt").write_bytes(b"x\ny\n")
    conf = (
        "a.sources = s\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\n"
        "a.sources.s.trackingPolicy = tracker_dir\na.sources.s.readyAfter = 0\n"
        "a.sources.s.basenameHeader = true\na.sources.s.fileHeader = true\n"
        "a.sources.s.channels = c\na.channels.c.type = memory\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.serializer = HEADER_AND_TEXT\na.sinks.k.channel = c\n"
    )
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: (spool / ".flumespool" / "completed" / "a.txt").exists())
        assert wait_for(lambda: len(lines_in(out)) == 2)
        source = of_type(agent.sources["s"], SpoolDirSource)
        scans = source.scans  # two more looks must neither re-read nor reject the tracked file
        assert wait_for(lambda: source.scans >= scans + 2)
    finally:
        agent.stop()
    assert (spool / "a.txt").exists()  # tracker_dir leaves the file where it is
    lines = lines_in(out)
    assert [line.rsplit(b" ", 1)[1] for line in lines] == [b"x", b"y"]
    for line in lines:
        assert line.startswith(b"{file=" + str(spool / "a.txt").encode() + b", basename=a.txt}")
    # a different file under the consumed name is a duplicate: set aside
    (spool / "a.txt").unlink()
    (spool / "a.txt").write_bytes(b"z\n")
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: (spool / "a.txt.REJECTED").exists())
    finally:
        agent.stop()
    assert len(lines_in(out)) == 2


def test_null_sink_takes_and_discards(tmp_path: Path) -> None:
    agent = agent_from_text(
        "a.sources = x\na.channels = c\na.sinks = n\n"
        "a.sources.x.type = exec\na.sources.x.command = seq 1 500\na.sources.x.channels = c\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 1000\n"
        "a.sinks.n.type = null\na.sinks.n.channel = c\n"
    )
    agent.start()
    try:
        assert wait_for(lambda: agent.sinks["n"].counters.get("EventDrainSuccessCount") == 500)
    finally:
        agent.stop()
    assert agent.channels["c"].size() == 0


def test_kafka_sink_key_topic_partition_headers_and_event_format(
    kafka_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, other = f"k-{uuid.uuid4().hex[:6]}", f"o-{uuid.uuid4().hex[:6]}"
    kafka_cluster.create_topic(base, partitions=3)
    kafka_cluster.create_topic(other, partitions=1)
    script = tmp_path / "emit.sh"
    script.write_text(f"printf 'k1 {other} 0 body-a\\nk2 {base} 2 body-b\\n'\n")
    (tmp_path / "hdr_icp.py").write_text(
        "from agents.interceptors.base import Interceptor\n"
        "class Split(Interceptor):\n"
        "    def intercept(self, batch):\n"
        "        hs = batch.per_event()\n"
        "        bodies = []\n"
        "        for i, b in enumerate(batch.bodies):\n"
        "            key, topic, part, body = b.decode().split()\n"
        "            hs[i].update(key=key, topic=topic, part=part)\n"
        "            bodies.append(body.encode())\n"
        "        return batch.with_bodies(bodies)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = agent_from_text(
        "a.sources = x\na.channels = c\na.sinks = k\n"
        f"a.sources.x.type = exec\na.sources.x.command = sh {script}\n"
        "a.sources.x.interceptors = h\na.sources.x.interceptors.h.type = hdr_icp.Split\n"
        "a.sources.x.channels = c\na.channels.c.type = memory\n"
        f"a.sinks.k.type = kafka\na.sinks.k.kafka.bootstrap.servers = "
        f"{kafka_cluster.spec.bootstrap}\na.sinks.k.kafka.topic = {base}\n"
        "a.sinks.k.partitionIdHeader = part\na.sinks.k.useFlumeEventFormat = true\n"
        "a.sinks.k.channel = c\n"
    )
    agent.start()
    assert wait_for(lambda: agent.sinks["k"].counters.get("EventDrainSuccessCount") == 2)
    agent.stop()
    consumer = Consumer({**kafka_cluster.client_config(), "group.id": uuid.uuid4().hex})
    consumer.assign([TopicPartition(other, 0, 0), TopicPartition(base, 2, 0)])
    got: dict[str, tuple[int | None, bytes | None, bytes]] = {}
    deadline = time.monotonic() + 20
    while len(got) < 2 and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error() and (topic := m.topic()) and (value := m.value()):
            got[topic] = (m.partition(), m.key(), value)
    consumer.close()
    assert got[other][:2] == (0, b"k1") and got[base][:2] == (2, b"k2")
    assert got[other][2].endswith(b"\x0cbody-a")  # Avro: headers map, then the body bytes
    assert b"topic" in got[other][2] and b"key" in got[other][2]
