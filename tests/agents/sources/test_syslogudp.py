"""syslogudp: a datagram a message, parsed into Flume's headers; not-syslog marked Invalid."""

import socket
from pathlib import Path

from tests.agents.agent_helpers import running, take_all
from tests.conftest import free_port_block


def test_datagrams_are_parsed(tmp_path: Path) -> None:
    port = free_port_block(1)
    conf = (
        "a.sources = s\na.channels = c\na.sources.s.type = syslogudp\n"
        f"a.sources.s.port = {port}\na.sources.s.keepFields = hostname\n"
        "a.sources.s.channels = c\na.channels.c.type = memory\n"
    )
    with running(conf, state_dir=tmp_path) as agent:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
                        b"%% It's time", ("127.0.0.1", port))  # fmt: skip
            sock.sendto(b"garbage\nsecond line dropped", ("127.0.0.1", port))
        got = take_all(agent.channels["c"], 2)
    first = got.bodies.index(b"192.0.2.1 myproc 8710 - - %% It's time")
    assert got.event_headers(first) == {"Facility": "20", "Severity": "5", "priority": "165",
                                        "version": "1", "timestamp": "1061727255000",
                                        "host": "192.0.2.1"}  # fmt: skip
    assert got.bodies[1 - first] == b"garbage"
    assert got.event_headers(1 - first)["flume.syslog.status"] == "Invalid"
