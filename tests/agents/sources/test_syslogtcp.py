"""syslogtcp: RFC 5424 and 3164 messages into Flume's headers, Invalid and Incomplete ones
marked, keepFields and a custom format, and a full channel slows the sender instead of
dropping messages."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from agents.sources.syslog_format import SyslogFormat, keep_fields
from tests.agents.agent_helpers import running, take_all, wait_for
from tests.conftest import free_port_block

R5424 = b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed"
R3164 = b"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!"


def test_flumes_headers_and_bodies() -> None:
    now = time.mktime((2026, 3, 1, 0, 0, 0, 0, 0, -1))
    fmt = SyslogFormat(keep_fields("none"), now=now)
    body, headers = fmt.parse(R5424)
    assert body == b"su - ID47 - 'su root' failed"
    assert headers == {"Facility": "4", "Severity": "2", "priority": "34", "version": "1",
                       "timestamp": "1065910455003", "host": "mymachine.example.com"}  # fmt: skip
    body, headers = fmt.parse(R3164)
    feb5 = int(time.mktime((2026, 2, 5, 17, 32, 18, 0, 0, -1)) * 1000)  # local time, this year
    assert body == b"Use the BFG!" and headers["timestamp"] == str(feb5)
    assert headers["host"] == "10.0.0.99" and "version" not in headers
    dec = SyslogFormat(None, now=time.mktime((2026, 1, 2, 0, 0, 0, 0, 0, -1)))
    _, headers = dec.parse(b"<13>Dec 31 23:00:00 h x")  # a stamp from last year
    assert headers["timestamp"] == str(int(time.mktime((2025, 12, 31, 23, 0, 0, 0, 0, -1)) * 1000))
    _, headers = fmt.parse(b"<13>1 2003-10-11T22:14:15.5+02:00 h app - - m")
    assert headers["timestamp"] == "1065903255500"  # the offset counts
    invalid = {"Facility": "0", "Severity": "0", "flume.syslog.status": "Invalid"}
    assert fmt.parse(b"no priority") == (b"no priority", invalid)
    assert fmt.parse(b"<13>neither layout") == (b"<13>neither layout",
                                                 {"Facility": "1", "Severity": "5"})  # fmt: skip
    keep = SyslogFormat(keep_fields("priority hostname"), now=now)
    assert keep.parse(R3164)[0] == b"<13>10.0.0.99 Use the BFG!"
    assert SyslogFormat(keep_fields("all")).parse(R3164)[0] == R3164


def conf(port: int, extra: str = "", capacity: int = 10000) -> str:
    return (
        "a.sources = s\na.channels = c\na.sources.s.type = syslogtcp\n"
        f"a.sources.s.port = {port}\na.sources.s.channels = c\na.channels.c.type = memory\n"
        f"a.channels.c.capacity = {capacity}\na.channels.c.transactionCapacity = {capacity}\n"
        "a.channels.c.keep-alive = 0\n" + extra
    )


def test_a_stream_with_a_long_message_and_client_headers(tmp_path: Path) -> None:
    port = free_port_block(1)
    extra = ("a.sources.s.eventSize = 48\na.sources.s.clientIPHeader = ip\n"
             "a.sources.s.format.regex = <(\\\\d+)>(\\\\d{14}) (\\\\S+) (.*)\n")  # fmt: skip
    text = conf(port, extra).replace("format.regex = <(\\\\d+)>", "format.regex = <(\\\\d+)>()")
    with running(text, state_dir=tmp_path) as agent:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(R3164 + b"\n\n<14>20160101000004 car1 custom layout\n"
                         + b"<13>" + b"x" * 60 + b"\n<15>last, no newline")  # fmt: skip
        got = take_all(agent.channels["c"], 5)
    assert got.bodies[0] == b"Use the BFG!"
    assert got.event_headers(1)["host"] == "car1" and got.bodies[1] == b"custom layout"
    assert got.bodies[2] == b"<13>" + b"x" * 44  # cut at eventSize
    assert got.event_headers(2)["flume.syslog.status"] == "Incomplete"
    assert got.bodies[3] == b"x" * 16 and got.event_headers(3)["flume.syslog.status"] == "Invalid"
    assert got.bodies[4] == b"<15>last, no newline"  # delivered when the sender closed
    assert {got.header_of(i, "ip") for i in range(5)} == {"127.0.0.1"}


def test_a_full_channel_slows_the_sender_and_loses_nothing(tmp_path: Path) -> None:
    port = free_port_block(1)
    with running(conf(port, capacity=500), state_dir=tmp_path) as agent:
        channel = agent.channels["c"]
        lines = [b"<13>Feb  5 17:32:18 host message %05d" % i for i in range(3000)]

        def send() -> None:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(b"\n".join(lines) + b"\n")

        sender = threading.Thread(target=send)
        sender.start()
        assert wait_for(lambda: agent.sources["s"].counters.get("ChannelWriteFail") > 0)
        got: list[bytes] = []
        while len(got) < 3000:
            got.extend(take_all(channel, min(500, 3000 - len(got))).bodies)
        sender.join(10)
    assert got == [b"message %05d" % i for i in range(3000)]
