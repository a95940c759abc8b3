"""Apache Flume 1.11 from Maven Central runs here: the reference later tests compare with."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labctl.flume import FLUME_VERSION, ensure_flume
from tests.waiting import wait_for

pytestmark = pytest.mark.kafka

SEQ_CONF = """\
a.sources = s
a.channels = c
a.sinks = k
a.sources.s.type = seq
a.sources.s.totalEvents = 5
a.sources.s.channels = c
a.channels.c.type = memory
a.sinks.k.type = logger
a.sinks.k.channel = c
"""


def test_flume_agent_runs_and_logs_its_events(tmp_path: Path) -> None:
    dist = ensure_flume()
    assert (dist.libs / f"flume-ng-node-{FLUME_VERSION}.jar").exists()
    assert ensure_flume() == dist  # a second call is a no-op on the cache
    conf = tmp_path / "seq.conf"
    conf.write_text(SEQ_CONF)
    log = tmp_path / "logs" / "flume.log"
    log.parent.mkdir()
    proc = subprocess.Popen(dist.argv(conf, "a", log), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip

    def logged_events() -> list[str]:
        text = log.read_text() if log.exists() else ""
        return [line for line in text.splitlines() if "Event:" in line]

    try:
        wait_for(lambda: len(logged_events()) >= 5, 60, step=0.1, proc=proc)
    finally:
        proc.terminate()
        proc.wait(30)
    events = logged_events()
    assert len(events) == 5, log.read_text() if log.exists() else "no Flume log"
    assert "body: 30" in events[0]  # the seq source's "0", as Flume's logger sink prints it
