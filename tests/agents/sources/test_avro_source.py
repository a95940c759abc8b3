"""The avro source: Flume's Avro RPC in, OK only after the channel committed, FAILED when it
refused (the sender keeps the batch), deflate, headers per event and per batch."""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import time
import zlib
from pathlib import Path

import pytest

from agents.avro import AvroRefusedError, AvroRpcClient, AvroRpcError
from agents.avro import _protocol as p
from agents.avro._transport import Connection
from agents.avro._transport import frame as _frame
from agents.event import EventBatch
from agents.sources.avro import AvroSource
from tests.agents.agent_helpers import (
    CanaryWatch,
    of_type,
    running,
    take_all,
    wait_for,
    with_canary,
)
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
        source = of_type(agent.sources["r"], AvroSource)
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


# ---- hostile input (issue 17 item 2) ------------------------------------------------------


def hostile_conf(port: int, extra: str = "") -> str:
    return with_canary(conf(port, capacity=100_000) + "a.sources.r.maxBatchEvents = 1000\n"
                       + extra)  # fmt: skip


def frame(message: str, params: bytes) -> bytes:
    """A first request (handshake + call) as Flume's clients frame it."""
    return _frame(1, p.request(message, params, protocol=None))


def answer_to(port: int, data: bytes, compress: bool = False) -> bytes | None:
    """Send *data* on a new connection; the server's answer (handshake skipped), or None if
    it closed the connection without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        conn = Connection(sock, "deflate" if compress else "none")
        with contextlib.suppress(OSError):
            sock.sendall(zlib.compress(data) if compress else data)
        try:
            _, reply = conn.receive()
        except (EOFError, OSError):
            return None
    inp = io.BytesIO(reply)
    p.read(inp, p.HANDSHAKE_RESPONSE)
    p.read(inp, p.CALL_META)
    return reply[inp.tell() :]


def error_of(answer: bytes | None) -> str:
    assert answer is not None, "closed without an answer"
    inp = io.BytesIO(answer)
    assert p.read(inp, p.BOOLEAN), "not an error answer"
    return str(p.read(inp, p.ERROR))


EMPTY_EVENTS = (8 << 20) // 2  # 8 MiB of empty events (2 bytes each): 4,194,304
BAD_FRAMES = {
    # the 8 MiB appendBatch of empty events (decoded to 1.3 GB): refused at its count
    "8 MiB of empty events": (
        frame("appendBatch", p._long(EMPTY_EVENTS) + b"\x00\x00" * EMPTY_EVENTS + b"\x00"),
        "appendBatch of 4,194,304 or more events refused",
    ),
    "a count past the bytes": (frame("appendBatch", p._long(10**9) + b"\x00" * 20), None),
    "a frame over maxFrameBytes": (_frame(1, bytes(17 << 20)), "takes 16,777,216 at most"),
    "a length that is negative": (b"\x00\x00\x00\x01\x00\x00\x00\x01\xff\xff\xff\xff", None),
    "garbage": (bytes(range(256)) * 40, None),
    "a header map of 10**8 entries": (
        frame("appendBatch", p._long(1) + p._long(10**8) + b"\x00\x00" * 10),
        None,
    ),
    "deep JSON as the client's protocol": (
        _frame(1, p.PROTOCOL_MD5 + b"\x02" + p._long(200_000) + b"[" * 100_000 + b"]" * 100_000),
        None,
    ),
}


@pytest.mark.parametrize("name", list(BAD_FRAMES))
def test_each_bad_frame_is_refused_with_one_log_line(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Sent on 10 connections: Avro's error answer naming the limit where there is one (else
    the connection is closed), nothing put, 10 EventReadFail, one log line without a
    traceback, and the canary flow beside it never stalls 1 s."""
    data, error = BAD_FRAMES[name]
    port = free_port_block(1)
    caplog.set_level(logging.INFO)
    with running(hostile_conf(port), state_dir=tmp_path) as agent, CanaryWatch(agent) as canary:
        for _ in range(10):
            answer = answer_to(port, data)
            if error is None:
                assert answer is None
            else:
                assert error in error_of(answer)
        source = agent.sources["r"]
        assert wait_for(lambda: source.counters.get("EventReadFail") == 10)
        assert agent.channels["c"].size() == 0
    assert canary.longest < 1.0, canary.longest
    said = [r for r in caplog.records if r.name == "agents.source.r"]
    assert len(said) == 1 and said[0].exc_info is None, [r.getMessage() for r in said]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_deflate_bomb_inflates_no_further_than_the_frame_it_announces(tmp_path: Path) -> None:
    """A frame of 1 GiB announced inside a deflate stream of zeros (1,000:1): refused at its
    length, after at most a read's worth of inflating."""
    port = free_port_block(1)
    bomb = b"\x00\x00\x00\x01\x00\x00\x00\x01" + (1 << 30).to_bytes(4, "big")
    packer = zlib.compressobj()
    stream = packer.compress(bomb) + b"".join(packer.compress(bytes(1 << 24)) for _ in range(4))
    with running(hostile_conf(port, "a.sources.r.compression-type = deflate\n"),
                 state_dir=tmp_path) as agent:  # fmt: skip
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(stream + packer.flush())
            conn = Connection(sock, "deflate")
            _, reply = conn.receive()
        assert b"takes 16,777,216 at most" in reply
        assert agent.sources["r"].counters.get("EventReadFail") == 1


def test_a_batch_within_the_limits_goes_through_beside_refused_ones(tmp_path: Path) -> None:
    port = free_port_block(1)
    with running(hostile_conf(port), state_dir=tmp_path) as agent:
        with AvroRpcClient("127.0.0.1", port) as client:
            with pytest.raises(AvroRpcError, match="1,001 or more events refused"):
                client.append_batch(EventBatch([b"x"] * 1001))
            client.append_batch(EventBatch([b"y"] * 1000, {"car": "K1"}))
        got = take_all(agent.channels["c"], 1000)
    assert got.bodies == [b"y"] * 1000 and got.common == {"car": "K1"}


def test_connections_are_capped_and_idle_or_dribbling_ones_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """threads caps connections (Flume's meaning); idleTimeout closes a silent connection and
    requestTimeout one that sends a frame too slowly."""
    port = free_port_block(1)
    extra = ("a.sources.r.threads = 2\na.sources.r.idleTimeout = 400\n"
             "a.sources.r.requestTimeout = 400\n")  # fmt: skip
    caplog.set_level(logging.INFO)
    with running(hostile_conf(port, extra), state_dir=tmp_path) as agent:
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert wait_for(lambda: agent.sources["r"].counters.get("OpenConnectionCount") == 2)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as third:
            assert third.recv(10) == b""  # refused at once
        began = time.monotonic()
        data = frame("appendBatch", p.encode_events(EventBatch([b"z" * 500])))  # 10 s to send

        with contextlib.suppress(OSError):  # until the server closes it
            for byte in data[:-1]:  # a byte every 20 ms: never idle, never done
                slow.send(bytes([byte]))
                time.sleep(0.02)
        assert idle.recv(10) == b"" and slow.recv(10) == b""
        assert time.monotonic() - began < 3  # the slow one: its request timed out
        idle.close()
        slow.close()
        with AvroRpcClient("127.0.0.1", port) as client:
            client.append_batch(EventBatch([b"after"]))
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "refused a connection" in said and "closed the connection" in said


def test_the_client_reconnects_quietly_after_the_server_closed_an_idle_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port_block(1)
    caplog.set_level(logging.INFO)
    with running(hostile_conf(port, "a.sources.r.idleTimeout = 200\n"), state_dir=tmp_path) as a:
        with AvroRpcClient("127.0.0.1", port) as client:
            client.append_batch(EventBatch([b"one"]))
            assert wait_for(lambda: a.sources["r"].counters.get("OpenConnectionCount") == 0)
            client.append_batch(EventBatch([b"two"]))  # no error: a new connection
            assert client.connections == 2
        assert take_all(a.channels["c"], 2).bodies == [b"one", b"two"]
