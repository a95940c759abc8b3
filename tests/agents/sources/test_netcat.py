"""netcat: a line is an event, OK once the channel has it, FAILED when it cannot take it, and
a line over max-line-length is refused and the connection closed, as Flume does."""

from __future__ import annotations

import socket
from pathlib import Path

from agents.sources.netcat import NetcatSource
from tests.agents.agent_helpers import of_type, running, take_all, wait_for
from tests.conftest import free_port_block


def conf(port: int, extra: str = "") -> str:
    return (
        "a.sources = s\na.channels = c\na.sources.s.type = netcat\n"
        f"a.sources.s.port = {port}\na.sources.s.channels = c\na.channels.c.type = memory\n"
        "a.channels.c.capacity = 1000\na.channels.c.keep-alive = 0.1\n" + extra
    )


def read_answers(sock: socket.socket, n: int) -> list[bytes]:
    data = b""
    while data.count(b"\n") < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.splitlines()


def test_lines_are_acknowledged_once_in_the_channel(tmp_path: Path) -> None:
    port = free_port_block(1)
    with running(conf(port, "a.sources.s.encoding = ISO-8859-1\n"), state_dir=tmp_path) as agent:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"first\r\n" + "caf\xe9\n".encode("latin-1") + b"".join(
                b"line %d\n" % i for i in range(500)))  # fmt: skip
            assert read_answers(sock, 502) == [b"OK"] * 502
        events = take_all(agent.channels["c"], 502)
        assert of_type(agent.sources["s"], NetcatSource).servers[0].address == (
            "127.0.0.1",
            port,
        )  # not every address
    assert events.bodies[:2] == [b"first\r", "café".encode()]  # \r kept; re-encoded UTF-8
    assert events.bodies[2:] == [b"line %d" % i for i in range(500)]
    assert events.common == {} and agent.sources["s"].counters.get("EventAcceptedCount") == 502


def test_a_full_channel_is_answered_failed(tmp_path: Path) -> None:
    port = free_port_block(1)
    text = conf(port).replace(
        "capacity = 1000", "capacity = 5\na.channels.c.transactionCapacity = 5"
    )
    with running(text, state_dir=tmp_path) as agent:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"".join(b"%d\n" % i for i in range(5)))
            assert read_answers(sock, 5) == [b"OK"] * 5
            sock.sendall(b"six\n")
            (answer,) = read_answers(sock, 1)
            assert answer.startswith(b"FAILED: channel c is full")
        assert agent.channels["c"].size() == 5


def test_an_over_long_line_is_refused_and_the_connection_closed(tmp_path: Path) -> None:
    port = free_port_block(1)
    with running(conf(port, "a.sources.s.max-line-length = 10\n"), state_dir=tmp_path) as agent:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"123456789\n" + b"x" * 10 + b"\nnever\n")
            answers = read_answers(sock, 2)
            assert answers == [b"OK", b"FAILED: Event exceeds the maximum length (10 chars, "
                                      b"including newline)"]  # fmt: skip
            assert sock.recv(100) == b""  # closed
        assert take_all(agent.channels["c"], 1).bodies == [b"123456789"]
        assert wait_for(lambda: agent.sources["s"].counters.get("EventReadFail") == 1)
