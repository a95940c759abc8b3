"""The avro source: Flume's Avro RPC in, OK only after the channel committed, FAILED when it
refused (the sender keeps the batch), deflate, headers per event and per batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.avro import AvroRefusedError, AvroRpcClient
from agents.event import EventBatch
from tests.agents.agent_helpers import running, take_all
from tests.conftest import free_port_block


def conf(port: int, compression: str = "none", capacity: int = 1000) -> str:
    return (
        "a.sources = r\na.channels = c\na.sources.r.type = avro\n"
        f"a.sources.r.port = {port}\na.sources.r.compression-type = {compression}\n"
        "a.sources.r.channels = c\na.channels.c.type = memory\n"
        f"a.channels.c.capacity = {capacity}\na.channels.c.transactionCapacity = 100\n"
        "a.channels.c.keep-alive = 0\n"
    )


@pytest.mark.parametrize("compression", ["none", "deflate"])
def test_batches_arrive_with_their_headers(tmp_path: Path, compression: str) -> None:
    port = free_port_block(1)
    with running(conf(port, compression), state_dir=tmp_path) as agent:
        with AvroRpcClient("127.0.0.1", port, compression=compression) as client:
            client.append_batch(EventBatch([b"a%d" % i for i in range(100)], {"car": "K0001"}))
            client.append_batch(EventBatch([b"x", b"y"], {}, [{"n": "1"}, {"n": "2"}]))
            client.append(b"one", {"single": "yes"})
        got = take_all(agent.channels["c"], 103)
        source = agent.sources["r"]
        assert source.server is not None and source.server.host == "127.0.0.1"
    assert got.bodies == [*(b"a%d" % i for i in range(100)), b"x", b"y", b"one"]
    assert got.event_headers(0) == {"car": "K0001"} and got.event_headers(101) == {"n": "2"}
    assert got.event_headers(102) == {"single": "yes"}
    assert source.counters.get("EventAcceptedCount") == 103
    assert source.counters.get("AppendBatchAcceptedCount") == 3


def test_a_full_channel_answers_failed_and_keeps_nothing_half_done(tmp_path: Path) -> None:
    port = free_port_block(1)
    with running(conf(port, capacity=150), state_dir=tmp_path) as agent:
        with AvroRpcClient("127.0.0.1", port) as client:
            client.append_batch(EventBatch([b"%d" % i for i in range(100)]))
            with pytest.raises(AvroRefusedError, match="answered FAILED"):
                client.append_batch(EventBatch([b"%d" % i for i in range(100, 200)]))
            take_all(agent.channels["c"], 100)  # room again: the resend goes through
            client.append_batch(EventBatch([b"%d" % i for i in range(100, 200)]))
        got = take_all(agent.channels["c"], 100)
    assert [int(b) for b in got.bodies] == list(range(100, 200))
