"""agents.servers (issue 17 item 2): the line sources on TcpServer cap their connections and
close idle ones; a client that sends too much or hangs up costs one rate-limited log line;
a burst of datagrams is handed over in bounded batches; RateLimitedLog and ByteBudget."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agents.servers import ByteBudget, RateLimitedLog
from tests.agents.agent_helpers import CanaryWatch, running, take_all, wait_for, with_canary
from tests.conftest import free_port_block

LINE_SOURCES = {
    "netcat": "a.sources.s.port = {port}\n",
    "syslogtcp": "a.sources.s.port = {port}\n",
    "multiport_syslogtcp": "a.sources.s.ports = {port}\n",
}


def line_conf(kind: str, port: int, extra: str = "") -> str:
    return with_canary(
        f"a.sources = s\na.channels = c\na.sources.s.type = {kind}\n"
        + LINE_SOURCES[kind].format(port=port)
        + "a.sources.s.channels = c\na.channels.c.type = memory\n"
        "a.channels.c.capacity = 100000\na.channels.c.transactionCapacity = 10000\n" + extra
    )


@pytest.mark.parametrize("kind", list(LINE_SOURCES))
def test_line_sources_cap_connections_and_close_idle_ones(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """3,000 idle connections were 3,016 threads: now maxConnections are served (one more is
    closed at once, one log line however many), and idleTimeout closes a silent one."""
    port = free_port_block(1)
    extra = "a.sources.s.maxConnections = 5\na.sources.s.idleTimeout = 500\n"
    caplog.set_level(logging.INFO)
    with (
        running(line_conf(kind, port, extra), state_dir=tmp_path) as agent,
        CanaryWatch(agent) as canary,
    ):
        threads = threading.active_count()
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(5)]
        began = time.monotonic()
        assert wait_for(lambda: agent.sources["s"].counters.get("OpenConnectionCount") == 5)
        refused = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(200)]
        assert all(sock.recv(10) == b"" for sock in refused)  # closed at once
        assert threading.active_count() <= threads + 5
        assert all(sock.recv(10) == b"" for sock in held)  # silent: closed
        assert 0.4 < time.monotonic() - began < 5
        for sock in held + refused:
            sock.close()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"<13>Oct 11 22:14:15 host app: after\n")
        assert wait_for(lambda: agent.channels["c"].size() == 1)
        assert take_all(agent.channels["c"], 1)
    assert canary.longest < 1.0
    said = [r.getMessage() for r in caplog.records if r.name == "agents.source.s"]
    assert sum("refused a connection" in m for m in said) == 1, said
    assert sum("nothing received for 0.5 s" in m for m in said) == 1, said
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_netcat_lines_over_the_limit_cost_one_line_however_many(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port_block(1)
    caplog.set_level(logging.INFO)
    with running(line_conf("netcat", port), state_dir=tmp_path) as agent:
        for _ in range(50):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"x" * 100_000 + b"\n")
                assert sock.recv(1000).startswith(b"FAILED: Event exceeds the maximum length")
        assert agent.sources["s"].counters.get("EventReadFail") == 50
    said = [r.getMessage() for r in caplog.records if r.name == "agents.source.s"]
    assert len(said) == 1 and "exceeds 512 characters" in said[0], said


def test_a_datagram_burst_is_handed_over_in_batches_of_at_most_4_mib(tmp_path: Path) -> None:
    port = free_port_block(1)
    text = ("a.sources = s\na.channels = c\na.sources.s.type = netcatudp\n"
            f"a.sources.s.port = {port}\na.sources.s.channels = c\na.channels.c.type = memory\n"
            "a.channels.c.capacity = 100000\na.channels.c.transactionCapacity = 1000\n"
            )  # fmt: skip
    with running(text, state_dir=tmp_path) as agent:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(200):  # 200 x 60,000 bytes: 11.4 MiB, if the buffer takes them
                sock.sendto(b"y" * 60_000, ("127.0.0.1", port))
        source = agent.sources["s"]
        assert wait_for(lambda: source.counters.get("EventAcceptedCount") > 0)
        assert wait_for(settled(lambda: source.counters.get("EventAcceptedCount")))
        events = source.counters.get("EventAcceptedCount")
        batches = source.counters.get("AppendBatchAcceptedCount")
    assert events / batches <= (4 << 20) / 60_000 + 1  # at most ~71 of these a batch


def settled(read: Callable[[], int], quiet: float = 0.3) -> Callable[[], bool]:
    """A condition: *read()* has not changed for *quiet* seconds."""
    last = [read(), time.monotonic()]

    def check() -> bool:
        value = read()
        if value != last[0]:
            last[:] = [value, time.monotonic()]
        return time.monotonic() - last[1] >= quiet

    return check


def test_rate_limited_log_says_the_first_then_counts_the_repeats(caplog):
    log = logging.getLogger("test.ratelimit")
    bad = RateLimitedLog(log, window=0.2)
    with caplog.at_level(logging.WARNING, "test.ratelimit"):
        for i in range(100):
            bad.warning("bad lengths", f"bad length {i}")
        bad.warning("other", "another kind")
        bad.flush()  # the window is not over: nothing yet
        assert len(caplog.records) == 2

        def flushed() -> bool:
            bad.flush()
            return len(caplog.records) == 3

        assert wait_for(flushed)
    said = [r.getMessage() for r in caplog.records]
    assert said == ["bad length 0", "another kind",
                    "bad lengths: 99 more like it in 0 s (the last: bad length 99)"]  # fmt: skip


def test_byte_budget_waits_for_room_and_refuses_what_can_never_fit():
    budget = ByteBudget(100)
    assert budget.take(60, None) and not budget.take(50, 0.05)
    assert not budget.take(101, None)  # more than the budget: at once
    threading.Timer(0.1, budget.give, (60,)).start()
    assert budget.take(50, 5)
    assert budget.used == 50
