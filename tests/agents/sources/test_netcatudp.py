"""netcatudp: a datagram is an event (up to its first newline), with the sender's address."""

import socket
from pathlib import Path

from tests.agents.agent_helpers import running, take_all
from tests.conftest import free_port_block


def test_datagrams_become_events_with_the_senders_address(tmp_path: Path) -> None:
    port = free_port_block(1)
    conf = (
        "a.sources = s\na.channels = c\na.sources.s.type = netcatudp\n"
        f"a.sources.s.port = {port}\na.sources.s.remoteAddressHeader = from\n"
        "a.sources.s.channels = c\na.channels.c.type = memory\n"
    )
    with running(conf, state_dir=tmp_path) as agent:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            me = sock.getsockname()
            for i in range(20):
                sock.sendto(b"datagram %d\nignored tail" % i, ("127.0.0.1", port))
        events = take_all(agent.channels["c"], 20)
    assert sorted(events.bodies) == sorted(b"datagram %d" % i for i in range(20))
    assert {events.header_of(i, "from") for i in range(20)} == {f"/{me[0]}:{me[1]}"}
