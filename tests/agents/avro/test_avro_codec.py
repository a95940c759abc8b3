"""Our Avro pieces against each other: the batch encoder matches fastavro byte for byte, and
the server's handshake answers as Avro's Java Responder does (NONE, then CLIENT or BOTH)."""

from __future__ import annotations

import hashlib
import io
import socket
from collections.abc import Mapping

import pytest

from agents.avro import AvroRpcClient, AvroRpcError, AvroRpcServer
from agents.avro import _protocol as p
from agents.avro._transport import Connection
from agents.event import EventBatch

BATCHES = [
    EventBatch(),
    EventBatch([b"a", b""], {}),
    EventBatch([b"x" * 5000, b"y" * 70000], {"car": "A01", "한글": "값"}),
    EventBatch([b"1", b"2", b"3"], {"c": "1"}, [{"i": "0"}, {}, {"c": "2", "k": "v"}]),
]


@pytest.mark.parametrize("batch", BATCHES, ids=["empty", "no-headers", "big", "per-event"])
def test_batch_encoder_matches_fastavro_and_round_trips(batch: EventBatch) -> None:
    reference = io.BytesIO()
    p.write(reference, p.EVENTS, p.batch_to_events(batch))
    assert p.encode_events(batch) == reference.getvalue()
    back = p.events_to_batch(p.read(io.BytesIO(p.encode_events(batch)), p.EVENTS))
    assert list(back.iter_events()) == list(batch.iter_events())
    ours = p.In(reference.getvalue()).events(most=10)  # the server's bounded decoder
    assert list(ours.iter_events()) == list(batch.iter_events())
    assert (ours.headers is None) == (batch.headers is None or len(batch) < 2)


def test_the_bounded_decoder_refuses_counts_before_decoding() -> None:
    data = p.encode_events(EventBatch([b"x"] * 11))
    with pytest.raises(p.TooManyEvents, match="11 or more events refused"):
        p.In(data).events(most=10)
    with pytest.raises(ValueError, match="1,000,000,000 items announced in 3 bytes"):
        p.In(p._long(10**9) + b"\x00\x00\x00").events(most=10**12)
    with pytest.raises(ValueError, match="a length of 1,000 bytes where 2 are left"):
        p.In(p._long(1) + b"\x00" + p._long(1000) + b"ab").events(most=10)
    with pytest.raises(EOFError):
        p.In(b"\xff\xff").long()


def _raw_request(port: int, handshake: Mapping[str, object], message: str) -> dict[str, object]:
    """Send one handshake + call as a foreign Avro client would; the handshake response."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = Connection(sock)
    out = io.BytesIO()
    p.write(out, p.HANDSHAKE_REQUEST, handshake)
    p.write(out, p.CALL_META, {})
    p.write(out, p.STRING, message)
    p.write(out, p.EVENTS, [])
    conn.send(7, out.getvalue())
    serial, reply = conn.receive()
    conn.close()
    assert serial == 7
    return p.read(io.BytesIO(reply), p.HANDSHAKE_RESPONSE)


def test_server_handshake_none_then_client_then_both_and_refusals() -> None:
    calls: list[int] = []

    def handler(batch: EventBatch) -> bool:
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("channel full")  # answered FAILED, logged
        return len(calls) != 3

    with AvroRpcServer(handler) as server:
        other = p.PROTOCOL_JSON.replace('"append"', '"append"', 1) + " "
        other_md5 = hashlib.md5(other.encode()).digest()
        unknown = {"clientHash": other_md5, "clientProtocol": None,
                   "serverHash": other_md5, "meta": None}  # fmt: skip
        hs = _raw_request(server.port, unknown, "appendBatch")
        assert hs["match"] == "NONE" and hs["serverHash"] == p.FLUME_PROTOCOL_MD5
        assert p.is_flume_protocol(str(hs["serverProtocol"]))
        hs = _raw_request(server.port, {**unknown, "clientProtocol": other}, "appendBatch")
        assert hs["match"] == "CLIENT"  # it guessed our hash wrong, we told it ours
        hs = _raw_request(server.port, {**unknown, "serverHash": p.FLUME_PROTOCOL_MD5}, "")
        assert hs["match"] == "BOTH"  # its protocol is now known by hash alone

        client = AvroRpcClient("127.0.0.1", server.port)
        client.append_batch(EventBatch([b"ok"]))
        for _ in range(2):
            with pytest.raises(AvroRpcError, match="answered FAILED"):
                client.append_batch(EventBatch([b"no"]))
        client.append_batch(EventBatch([b"ok again"]))  # a fresh connection after a refusal
        with pytest.raises(AvroRpcError, match="unknown message 'nope'"):
            client._call("nope", b"")
        client.close()
        assert server.stats.batches_ok == 2 and server.stats.batches_failed == 2
        assert client.connections == 3  # one more after each refusal
