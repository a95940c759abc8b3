"""http with Flume's JSONHandler: events with headers, charsets, and the status codes Flume
answers for bad JSON (400), an unsupported charset (500) and a full channel (503)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agents.sources.http import HttpSource
from tests.agents.agent_helpers import (
    CanaryWatch,
    of_type,
    running,
    take_all,
    wait_for,
    with_canary,
)
from tests.conftest import free_port_block


def post(port: int, data: bytes, content_type: str = "application/json") -> tuple[int, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=data, method="POST",
                                 headers={"Content-Type": content_type})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def conf(port: int, capacity: int = 1000, keep_alive: float = 0.1) -> str:
    return (
        "a.sources = s\na.channels = c\na.sources.s.type = http\n"
        f"a.sources.s.port = {port}\na.sources.s.channels = c\na.channels.c.type = memory\n"
        f"a.channels.c.capacity = {capacity}\na.channels.c.transactionCapacity = {capacity}\n"
        f"a.channels.c.keep-alive = {keep_alive}\n"
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


# ---- hostile input (issue 17 item 2) ------------------------------------------------------


def hostile_conf(port: int, extra: str = "") -> str:
    return with_canary(conf(port, capacity=100_000) + "a.sources.s.maxRequestBytes = 1m\n"
                       "a.sources.s.maxPendingBytes = 2m\na.sources.s.maxBatchEvents = 1000\n"
                       + extra)  # fmt: skip


def exchange(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes on a new connection; everything the server answers until it closes
    (or stops answering for *timeout* s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(request)
        got = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                got += chunk
                if b"\r\n\r\n" in got and b"Connection: close" not in got:
                    head, _, body = got.partition(b"\r\n\r\n")
                    m = re.search(rb"Content-Length: (\d+)", head)
                    if m and len(body) >= int(m.group(1)):
                        break
        return got


def head(length: str, extra: str = "") -> bytes:
    return (f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()  # fmt: skip


DEEP = b"[" * 100_000 + b"]" * 100_000
BAD_REQUESTS = {
    "non-numeric Content-Length": (head("abc") + b"[]", 400, "Content-Length must be a number"),
    "negative Content-Length": (head("-1") + b"[]" * 1000, 400, "Content-Length must be a number"),
    "two Content-Lengths": (head("2", "Content-Length: 5\r\n") + b"[]", 400, "must be a number"),
    "chunked body": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n",
        411,
        "send Content-Length",
    ),
    "body over maxRequestBytes": (head("2000000"), 413, "at most 1,048,576 bytes"),
    "JSON nested 100,000 deep": (head(str(len(DEEP))) + DEEP, 400, "nested too deeply"),
    "more events than maxBatchEvents": (
        head(str(3 * 300_000 + 1)) + b"[" + b"{}," * 299_999 + b"{}]",
        413,
        "more than 1,000 events",
    ),
    "not HTTP": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400, ""),
    "a request line of 70,000 bytes": (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, ""),
    "101 headers": (head("2", "".join(f"X-{i}: y\r\n" for i in range(101))) + b"[]", 431, ""),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_each_bad_request_gets_its_answer_and_one_log_line(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Sent 30 times: 30 answers with the status HTTP has for it, 30 EventReadFail, one log
    line (rate-limited, no traceback), and the canary flow beside it never stalls 1 s."""
    request, status, text = BAD_REQUESTS[name]
    port = free_port_block(1)
    caplog.set_level(logging.INFO)
    with running(hostile_conf(port), state_dir=tmp_path) as agent, CanaryWatch(agent) as canary:
        for _ in range(30):
            answer = exchange(port, request)
            assert answer.startswith(b"HTTP/1.") and answer.split()[1] == b"%d" % status, answer
            assert text.encode() in answer
        assert agent.sources["s"].counters.get("EventReadFail") == 30
        assert take_all(agent.channels["c"], 0).bodies == []
    assert canary.longest < 1.0, canary.longest
    said = [r for r in caplog.records if r.name == "agents.source.s"]
    assert len(said) == 1 and said[0].exc_info is None, [r.getMessage() for r in said]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_legal_16_mib_body_of_empty_events_is_refused_early(tmp_path: Path) -> None:
    """Issue 17: 64 MiB of [{},{},...] took 243 s and 3.65 GB. At the default limits a body of
    16 MiB is read, and the parse stops at event 10,001 with 413; the canary keeps moving."""
    port = free_port_block(1)
    body = b"[" + b"{}," * (16 * 2**20 // 3 - 1) + b"{}]"
    assert len(body) <= 16 * 2**20
    with running(with_canary(conf(port)), state_dir=tmp_path) as agent, CanaryWatch(agent) as c:
        began = time.monotonic()
        answer = exchange(port, head(str(len(body))) + body)
        took = time.monotonic() - began
    assert answer.split()[1] == b"413" and b"more than 10,000 events" in answer
    assert took < 5, took
    assert c.longest < 1.0, c.longest


def test_a_client_that_hangs_up_costs_no_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port_block(1)
    caplog.set_level(logging.INFO)
    with running(hostile_conf(port), state_dir=tmp_path):
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(head("1000") + b"[{")  # and gone, half-way through the body
        big = json.dumps([{"body": "x" * 100}] * 500).encode()
        for _ in range(20):  # gone before the answer is written
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.sendall(head(str(len(big))) + big)
        assert post(port, b'[{"body": "after"}]') == (200, "")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_body_dribbled_past_request_timeout_is_answered_408(tmp_path: Path) -> None:
    port = free_port_block(1)
    text = hostile_conf(port, "a.sources.s.requestTimeout = 300\n")
    with running(text, state_dir=tmp_path), socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head("100") + b"[")
        began = time.monotonic()
        got = b""
        with contextlib.suppress(OSError):
            while not got:
                sock.sendall(b" ")  # a byte every 50 ms: never idle, never done
                time.sleep(0.05)
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    got = sock.recv(1000)
                sock.setblocking(True)
    assert got.split()[1] == b"408" and b"did not arrive in time" in got
    assert 0.25 < time.monotonic() - began < 5


def test_idle_connections_are_closed_and_connections_are_capped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ServerConnector.idleTimeout closes a silent connection; QueuedThreadPool.maxThreads
    caps connections (one more is closed at once, with one log line however many)."""
    port = free_port_block(1)
    extra = ("a.sources.s.ServerConnector.idleTimeout = 500\n"
             "a.sources.s.QueuedThreadPool.maxThreads = 3\n")  # fmt: skip
    caplog.set_level(logging.INFO)
    with running(hostile_conf(port, extra), state_dir=tmp_path) as agent:
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        assert wait_for(lambda: agent.sources["s"].counters.get("OpenConnectionCount") == 3)
        for _ in range(10):
            assert exchange(port, head("2") + b"[]", timeout=5) == b""  # closed at once
        began = time.monotonic()
        assert all(sock.recv(10) == b"" for sock in held)  # idle: closed by the server
        assert 0.4 < time.monotonic() - began < 5
        for sock in held:
            sock.close()
        assert wait_for(lambda: post(port, b"[]") == (200, ""))
    refused = [r for r in caplog.records if "refused a connection" in r.getMessage()]
    assert len(refused) == 1


def test_the_listen_backlog_is_the_configured_one(tmp_path: Path) -> None:
    port = free_port_block(1)
    extra = "a.sources.s.ServerConnector.acceptQueueSize = 77\n"
    with running(hostile_conf(port, extra), state_dir=tmp_path):
        out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    assert out.split()[2] == "77", out  # LISTEN's Send-Q is the backlog


def test_bodies_in_hand_are_bounded_by_max_pending_bytes(tmp_path: Path) -> None:
    """A request holds twice its size of maxPendingBytes (2m here) from before its body is read
    until it is answered. One of 1 MiB waits for a full channel (keep-alive 3 s); another that
    comes meanwhile waits for room up to requestTimeout, then is answered 503."""
    port = free_port_block(1)
    text = (conf(port, capacity=10, keep_alive=3) + "a.sources.s.maxRequestBytes = 1m\n"
            "a.sources.s.maxPendingBytes = 2m\na.sources.s.requestTimeout = 500\n")  # fmt: skip
    big = json.dumps([{"body": "x" * 200}] * 5000).encode()[: 2**20 - 10]
    big = big[: big.rindex(b"},") + 1] + b"]"
    with running(text, state_dir=tmp_path) as agent:
        assert post(port, json.dumps([{"body": "1"}] * 10).encode()) == (200, "")  # full
        holder = threading.Thread(target=post, args=(port, big))
        holder.start()
        assert wait_for(lambda: of_type(agent.sources["s"], HttpSource).budget.used == 2 * len(big))
        began = time.monotonic()
        answer = exchange(port, head("1000") + b"[" + b" " * 998 + b"]")  # 2,000 do not fit
        assert answer.split()[1] == b"503" and b"maxPendingBytes" in answer
        assert 0.4 < time.monotonic() - began < 3
        holder.join()
        assert wait_for(lambda: of_type(agent.sources["s"], HttpSource).budget.used == 0)
        assert post(port, b"[]") == (200, "")
