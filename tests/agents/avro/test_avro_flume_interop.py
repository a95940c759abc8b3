"""Flume's Avro RPC both ways against a real Apache Flume 1.11 agent, with and without deflate.

One Flume agent per compression mode runs two flows:
- ``avro source -> memory -> logger``: our AvroRpcClient sends to it; the events are read
  back from Flume's log file (bodies and headers compared);
- ``seq source -> memory -> avro sink``: Flume's sink sends 2,000 numbered events to our
  AvroRpcServer, whose handler commits each batch to a real file channel before answering
  OK. In the deflate run the handler refuses the first call: Flume's sink rolls back and
  resends, and every number still arrives once.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.avro import AvroRpcClient, AvroRpcError, AvroRpcServer
from agents.channels.filelog import FileChannelConfig, FileChannelStore
from agents.event import EventBatch
from agents.sources.avro import AvroSource
from labctl.cluster import free_port_block
from labctl.flume import ensure_flume
from tests.agents.agent_helpers import of_type, running, take_all, terminate_or_kill, wait_for

SEQ_EVENTS = 2000
FLUME_CONF = """\
a.sources = r gen
a.channels = c1 c2
a.sinks = log fwd
a.sources.r.type = avro
a.sources.r.bind = 127.0.0.1
a.sources.r.port = {source_port}
a.sources.r.compression-type = {compression}
a.sources.r.channels = c1
a.channels.c1.type = memory
a.channels.c1.capacity = 20000
a.channels.c1.transactionCapacity = 2000
a.sinks.log.type = logger
a.sinks.log.maxBytesToLog = 64
a.sinks.log.channel = c1
a.sources.gen.type = seq
a.sources.gen.totalEvents = {seq_events}
a.sources.gen.batchSize = 1000
a.sources.gen.channels = c2
a.sources.gen.interceptors = st ts
a.sources.gen.interceptors.st.type = static
a.sources.gen.interceptors.st.key = origin
a.sources.gen.interceptors.st.value = flume
a.sources.gen.interceptors.ts.type = timestamp
a.channels.c2.type = memory
a.channels.c2.capacity = 10000
a.channels.c2.transactionCapacity = 1000
a.sinks.fwd.type = avro
a.sinks.fwd.hostname = 127.0.0.1
a.sinks.fwd.port = {server_port}
a.sinks.fwd.batch-size = 1000
a.sinks.fwd.compression-type = {compression}
a.sinks.fwd.compression-level = 6
a.sinks.fwd.channel = c2
"""
LOGGED = re.compile(r"Event: \{ headers:\{(.*?)\} body: ([0-9A-F ]*?) {2}")


def logged_events(log: Path) -> list[tuple[bytes, dict[str, str]]]:
    """(body, headers) of every event Flume's logger sink wrote."""
    text = log.read_text() if log.exists() else ""
    out = []
    for headers, body in LOGGED.findall(text):
        pairs = (kv.split("=", 1) for kv in headers.split(", ") if kv)
        out.append((bytes.fromhex(body), dict(pairs)))
    return out


@contextlib.contextmanager
def flume_agent(conf: Path, name: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Apache Flume running agent *name* of *conf*, logging to *log*; stopped at the end."""
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(ensure_flume().argv(conf, name, log), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        yield proc
    finally:
        terminate_or_kill(proc)


class Receiver:
    """The server-side handler: commit each batch to a file channel, then say OK."""

    def __init__(self, root: Path, refuse_first: bool) -> None:
        conf = FileChannelConfig(root / "cp", (root / "data",), minimum_required_space=0)
        self.store = FileChannelStore(conf, "received")
        self.store.open()
        self.refuse = refuse_first
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, batch: EventBatch) -> bool:
        with self.lock:
            self.calls += 1
            if self.refuse:
                self.refuse = False
                return False
        with self.store.transaction() as tx:
            tx.put(batch)
            tx.commit()
        return True


@pytest.fixture(params=["none", "deflate"])
def flume(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, int, Receiver, AvroRpcServer, Path]]:
    compression = request.param
    receiver = Receiver(tmp_path / "fc", refuse_first=compression == "deflate")
    server = AvroRpcServer(receiver, compression=compression, name="from-flume")
    server.start()
    source_port = free_port_block(1)
    conf = tmp_path / "flume.conf"
    conf.write_text(FLUME_CONF.format(source_port=source_port, compression=compression,
                                      seq_events=SEQ_EVENTS, server_port=server.port))  # fmt: skip
    log = tmp_path / "logs" / "flume.log"
    try:
        with flume_agent(conf, "a", log):
            yield compression, source_port, receiver, server, log
    finally:
        server.stop()
        receiver.store.close()


@pytest.mark.kafka
def test_our_client_to_flume_and_flume_sink_to_our_server(
    flume: tuple[str, int, Receiver, AvroRpcServer, Path],
) -> None:
    compression, port, receiver, server, log = flume
    client = AvroRpcClient("127.0.0.1", port, compression=compression, connect_timeout=2)

    def up() -> bool:
        try:
            client.ping()
            return True
        except AvroRpcError:
            return False

    wait_for(up, 90, "Flume's avro source to listen", log=log)
    assert client.server_match == "BOTH"  # Flume recognised its own protocol's MD5
    big = EventBatch([b"big-%05d" % i for i in range(1000)], {"car": "A01", "mode": compression})
    client.append_batch(big)  # one appendBatch of 1000 events
    mixed = EventBatch([b"mix-0", b"mix-1", b"mix-2"], {"car": "B02"},
                       [{"seq": "0"}, {}, {"seq": "2", "car": "C03"}])  # fmt: skip
    client.append_batch(mixed)
    client.append(b"single", {"one": "1"})
    client.close()
    want = [*((b, big.common) for b in big.bodies), *mixed.iter_events(),
            (b"single", {"one": "1"})]  # fmt: skip
    got = wait_for(lambda: len(e := logged_events(log)) >= len(want) and e, 90,
                   "Flume's logger sink to log 1004 events", log=log)  # fmt: skip
    assert sorted(got, key=lambda e: e[0]) == sorted(want, key=lambda e: e[0])

    # Flume's avro sink -> our server -> a file channel
    wait_for(lambda: server.stats.events_ok >= SEQ_EVENTS, 90,
             f"{SEQ_EVENTS} events from Flume's avro sink", log=log)  # fmt: skip
    with receiver.store.transaction() as tx:
        batch = tx.take(SEQ_EVENTS + 1)
        tx.rollback()
    assert sorted(int(b) for b in batch.bodies) == list(range(SEQ_EVENTS))  # each once
    assert all(batch.header_of(i, "origin") == "flume" for i in range(len(batch)))
    assert batch.header_of(0, "timestamp") is not None  # per-event headers came through
    assert server.stats.handshakes.get("BOTH", 0) >= 1 and "NONE" not in server.stats.handshakes
    assert server.stats.protocol_errors == 0
    assert server.stats.batches_ok <= 4  # appendBatch calls of up to 1000 events
    if compression == "deflate":  # the refused call: Flume rolled back and resent
        assert server.stats.batches_failed == 1
        assert "Unable to deliver event" in log.read_text()
        assert receiver.calls == server.stats.batches_ok + 1


def test_a_non_avro_peer_and_a_compression_mismatch_get_clear_errors(tmp_path: Path) -> None:
    with AvroRpcServer(lambda b: True, compression="deflate") as server:
        client = AvroRpcClient("127.0.0.1", server.port, request_timeout=5)
        with pytest.raises(AvroRpcError):
            client.append_batch(EventBatch([b"x"]))
        wait_for(lambda: server.stats.protocol_errors == 1, 90, "the server to log the mismatch")
    with pytest.raises(AvroRpcError, match="cannot connect"):
        AvroRpcClient("127.0.0.1", free_port_block(1), connect_timeout=1).ping()


RELAY_CONF = """\
f.sources = r
f.channels = c
f.sinks = k
f.sources.r.type = avro
f.sources.r.bind = 127.0.0.1
f.sources.r.port = {relay_port}
f.sources.r.compression-type = deflate
f.sources.r.channels = c
f.channels.c.type = memory
f.channels.c.capacity = 20000
f.channels.c.transactionCapacity = 500
f.sinks.k.type = avro
f.sinks.k.hostname = 127.0.0.1
f.sinks.k.port = {our_port}
f.sinks.k.batch-size = 500
f.sinks.k.channel = c
"""


@pytest.mark.kafka
def test_our_agents_on_both_sides_of_a_flume_agent(tmp_path: Path) -> None:
    """Our agent -> (avro sink, deflate) -> Apache Flume (avro source -> memory -> avro sink)
    -> (plain) -> our agent's avro source. Each next hop starts only after its sender: the
    sending channels keep the events meanwhile, then every event arrives once, headers kept."""
    relay_port = free_port_block(2)
    our_port = relay_port + 1
    total = 5000
    sender = (
        "a.sources = s\na.channels = c\na.sinks = k\n"
        f"a.sources.s.type = seq\na.sources.s.totalEvents = {total}\na.sources.s.batchSize = 500\n"
        "a.sources.s.channels = c\na.sources.s.interceptors = st\n"
        "a.sources.s.interceptors.st.type = static\na.sources.s.interceptors.st.key = hop\n"
        "a.sources.s.interceptors.st.value = ours\n"
        "a.channels.c.type = memory\na.channels.c.capacity = 10000\n"
        "a.channels.c.transactionCapacity = 500\n"
        f"a.sinks.k.type = avro\na.sinks.k.hostname = 127.0.0.1\na.sinks.k.port = {relay_port}\n"
        "a.sinks.k.batch-size = 500\na.sinks.k.compression-type = deflate\n"
        "a.sinks.k.connect-timeout = 1000\na.sinks.k.channel = c\n"
    )
    receiver = (
        "b.sources = r\nb.channels = c\nb.sources.r.type = avro\n"
        f"b.sources.r.port = {our_port}\nb.sources.r.channels = c\n"
        "b.channels.c.type = memory\nb.channels.c.capacity = 20000\n"
        "b.channels.c.transactionCapacity = 500\n"
    )
    conf = tmp_path / "relay.conf"
    conf.write_text(RELAY_CONF.format(relay_port=relay_port, our_port=our_port))
    log = tmp_path / "logs" / "relay.log"
    with running(sender, state_dir=tmp_path / "a") as a:
        wait_for(lambda: a.sinks["k"].counters.get("ConnectionFailedCount") >= 1, 90,
                 "our avro sink to fail to connect")  # fmt: skip
        wait_for(lambda: a.channels["c"].size() == total, 90,
                 "every event kept while Flume is not up")  # fmt: skip
        with flume_agent(conf, "f", log) as proc:
            wait_for(lambda: a.channels["c"].size() == 0, 90, "Flume to take every event",
                     proc=proc, log=log)  # fmt: skip
            wait_for(lambda: "Unable to deliver event" in log.read_text(), 90,
                     "Flume's avro sink to fail on our absent agent", log=log)  # fmt: skip
            with running(receiver, "b", state_dir=tmp_path / "b") as b:
                got = take_all(b.channels["c"], total, timeout=90)
                source = of_type(b.sources["r"], AvroSource)
    assert sorted(int(x) for x in got.bodies) == list(range(total))  # each once
    assert {got.header_of(i, "hop") for i in range(len(got))} == {"ours"}
    assert source.server is not None and source.server.stats.handshakes.get("BOTH", 0) >= 1
