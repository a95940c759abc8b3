"""Issue 23 item 6: an empty POST is the client's mistake: 400, where Flume answers 500."""

from __future__ import annotations

from pathlib import Path

from tests.agents.agent_helpers import running
from tests.agents.sources.test_http_source import conf, post
from tests.conftest import free_port_block


def test_an_empty_post_is_a_bad_request(tmp_path: Path) -> None:
    port = free_port_block(1)
    with running(conf(port), state_dir=tmp_path) as agent:
        status, text = post(port, b"")
        assert status == 400 and text.startswith("Bad request from client."), (status, text)
        assert agent.channels["c"].size() == 0
