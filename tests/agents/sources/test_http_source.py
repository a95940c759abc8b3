"""http with Flume's JSONHandler: events with headers, charsets, and the status codes Flume
answers for bad JSON (400), an unsupported charset (500) and a full channel (503)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from tests.agents.agent_helpers import running, take_all
from tests.conftest import free_port_block


def post(port: int, data: bytes, content_type: str = "application/json") -> tuple[int, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=data, method="POST",
                                 headers={"Content-Type": content_type})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def conf(port: int, capacity: int = 1000) -> str:
    return (
        "a.sources = s\na.channels = c\na.sources.s.type = http\n"
        f"a.sources.s.port = {port}\na.sources.s.channels = c\na.channels.c.type = memory\n"
        f"a.channels.c.capacity = {capacity}\na.channels.c.transactionCapacity = {capacity}\n"
        "a.channels.c.keep-alive = 0.1\n"
    )


def test_a_json_array_becomes_one_batch_with_headers(tmp_path: Path) -> None:
    port = free_port_block(1)
    first = {"headers": {"car": "K0001", "speed": 93, "ok": True}, "body": "20160101000004,K0001"}
    events = [first, {"body": "차량 2"}, {"headers": {"car": "K0003"}}]
    with running(conf(port), state_dir=tmp_path) as agent:
        assert post(port, json.dumps(events).encode()) == (200, "")
        utf16 = json.dumps([{"body": "wide"}]).encode("utf-16")
        assert post(port, utf16, "application/json; charset=UTF-16") == (200, "")
        got = take_all(agent.channels["c"], 4)
    assert got.bodies == [b"20160101000004,K0001", "차량 2".encode(), b"", "wide".encode("utf-16")]
    assert got.event_headers(0) == {"car": "K0001", "speed": "93", "ok": "true"}
    assert got.event_headers(1) == {} and got.event_headers(2) == {"car": "K0003"}


def test_bad_requests_and_a_full_channel_get_flumes_status_codes(tmp_path: Path) -> None:
    port = free_port_block(1)
    with running(conf(port, capacity=2), state_dir=tmp_path) as agent:
        status, text = post(port, b"{not json")
        assert status == 400 and text.startswith(
            "Bad request from client. Request has invalid JSON"
        )
        assert post(port, b'{"body": "x"}')[0] == 400  # not an array
        assert post(port, b'[{"headers": {"a": [1]}}]')[0] == 400
        status, text = post(port, b"[]", "application/json; charset=ISO-8859-1")
        assert status == 500 and "UTF-8, UTF-16 and UTF-32 only" in text
        assert post(port, b'[{"body": "1"}, {"body": "2"}]')[0] == 200
        status, text = post(port, b'[{"body": "3"}]')
        assert status == 503 and "channel c is full" in text
        assert take_all(agent.channels["c"], 2).bodies == [b"1", b"2"]
        assert agent.sources["s"].counters.get("EventReadFail") == 4
