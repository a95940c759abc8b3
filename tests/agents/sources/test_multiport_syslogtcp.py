"""multiport_syslogtcp: several ports, Flume's SyslogParser headers, a charset per port,
portHeader, and text that is not syslog (or not valid in its charset) marked Invalid."""

import socket
from pathlib import Path

from tests.agents.agent_helpers import running, take_all
from tests.conftest import free_port_block


def test_two_ports_with_their_charsets(tmp_path: Path) -> None:
    p1 = free_port_block(2)
    p2 = p1 + 1
    conf = (
        "a.sources = s\na.channels = c\na.sources.s.type = multiport_syslogtcp\n"
        f"a.sources.s.ports = {p1} {p2}\na.sources.s.portHeader = port\n"
        f"a.sources.s.charset.port.{p2} = ISO-8859-1\na.sources.s.batchSize = 2\n"
        "a.sources.s.channels = c\na.channels.c.type = memory\n"
    )
    with running(conf, state_dir=tmp_path) as agent:
        with socket.create_connection(("127.0.0.1", p1)) as sock:
            sock.sendall(b"<13>1 2003-10-11T22:14:15.003Z host app - - caf\xc3\xa9\n"
                         b"<13>Feb  5 17:32:18 h1 three164\nnot syslog\n\xff\xfe\n")  # fmt: skip
        with socket.create_connection(("127.0.0.1", p2)) as sock:
            sock.sendall(b"<14>- h2 caf\xe9\n")
        got = take_all(agent.channels["c"], 5)
    by_body = {got.bodies[i]: got.event_headers(i) for i in range(5)}
    assert by_body["app - - café".encode()] == {
        "Priority": "13", "Facility": "1", "Severity": "5", "Version": "1",
        "timestamp": "1065910455003", "host": "host", "port": str(p1)}  # fmt: skip
    assert by_body[b"three164"]["host"] == "h1" and "Version" not in by_body[b"three164"]
    assert by_body[b"not syslog"]["flume.syslog.status"] == "Invalid"
    assert by_body[b"\xff\xfe"]["flume.syslog.status"] == "Invalid"  # not UTF-8
    latin = by_body["caf\xe9".encode("latin-1")]
    assert latin["port"] == str(p2) and latin["host"] == "h2" and latin["Priority"] == "14"
