"""The file channel as a component: a put is safe at its commit (the source moves on before any
sink took it), the next start replays what is on disk, disk space refusals make the source back
off with a clear message, and bad settings are named. The engine itself (replay, damage,
SIGKILL, full disks) is tested in test_file_channel_store.py; the agent-level faults with
Kafka in test_file_channel_faults.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agents.channels.file import FileChannel
from tests.agents.agent_helpers import REPO, config_problems, lines_in, of_type, running, wait_for


def conf(spool: Path, root: Path, out: Path | None = None, extra: str = "") -> str:
    sink = (
        f"a.sinks = k\na.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.rollInterval = 0\na.sinks.k.batchSize = 500\na.sinks.k.channel = c\n"
        if out is not None else ""
    )  # fmt: skip
    return (
        "a.sources = s\na.channels = c\n" + sink
        + f"a.sources.s.type = spooldir\na.sources.s.spoolDir = {spool}\n"
        "a.sources.s.readyAfter = 0\na.sources.s.pollDelay = 50\na.sources.s.batchSize = 500\n"
        "a.sources.s.channels = c\n"
        f"a.channels.c.type = file\na.channels.c.checkpointDir = {root}/cp\n"
        f"a.channels.c.dataDirs = {root}/d1,{root}/d2\na.channels.c.transactionCapacity = 1000\n"
        "a.channels.c.minimumRequiredSpace = 1m\n" + extra
    )  # fmt: skip


def test_a_put_is_safe_at_commit_and_replayed_at_the_next_start(tmp_path: Path) -> None:
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    lines = [b"line-%05d" % i for i in range(5000)]
    (spool / "day.txt").write_bytes(b"\n".join(lines) + b"\n")
    with running(conf(spool, tmp_path / "fc"), state_dir=tmp_path / "st") as agent:
        # no sink at all: the file is consumed once the channel has its lines on disk
        assert wait_for(lambda: (spool / "day.txt.COMPLETED").exists())
        assert agent.channels["c"].size() == 5000
        assert agent.channels["c"].counters.get("EventPutSuccessCount") == 5000
    with running(conf(spool, tmp_path / "fc", out), state_dir=tmp_path / "st") as agent:
        channel = of_type(agent.channels["c"], FileChannel)
        assert channel.replay is not None and channel.replay.events == 5000
        assert wait_for(lambda: out.exists() and len(lines_in(out)) == 5000)
        assert wait_for(lambda: channel.counters.get("EventTakeSuccessCount") == 5000)
        snap = channel.counters.snapshot()
        assert snap["EventTakeSuccessCount"] == "5000" and int(str(snap["Fsyncs"])) > 0
    assert lines_in(out) == lines


def test_too_little_disk_space_makes_the_source_back_off_and_say_why(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "day.txt").write_bytes(b"a\nb\n")
    text = conf(spool, tmp_path / "fc").replace(
        "minimumRequiredSpace = 1m", "minimumRequiredSpace = 100t"
    )
    with running(text, state_dir=tmp_path / "st", stall_after=0.5) as agent:
        source, channel = agent.sources["s"], agent.channels["c"]
        assert wait_for(lambda: agent.health(source).startswith("blocked: "))
        why = agent.health(channel)
        assert why.startswith("blocked: ") and "minimumRequiredSpace is 109,951,162,777,600" in why
        assert "puts are refused until space returns" in agent.health(source)
        assert channel.counters.get("DiskSpaceRefusals") >= 1
        assert (spool / "day.txt").exists()  # nothing was taken off the spool dir
    assert channel.size() == 0


def problems(text: str) -> str:
    return config_problems(text, "fc.conf")


def test_bad_settings_are_named(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    afile = tmp_path / "a-file"
    afile.write_text("x")
    base = conf(spool, tmp_path / "fc")
    text = problems(base + "a.channels.c.encryption.activeKey = k1\n")
    assert "a.channels.c.encryption.activeKey: file-channel encryption is not provided" in text
    text = problems(base.replace("transactionCapacity = 1000", "transactionCapacity = 2000000"))
    assert "transactionCapacity: must be between 1 and capacity (1000000)" in text
    text = problems(base.replace(f"{tmp_path}/fc/cp", str(afile)))
    assert f"a.channels.c.checkpointDir: '{afile}' is not a directory" in text
    text = problems(base.replace(f"{tmp_path}/fc/d1,", f"{tmp_path}/fc/cp,"))
    assert "each data directory must differ from checkpointDir" in text
    text = problems(base + "a.channels.c.capacitty = 5\n")
    assert "did you mean 'capacity'?" in text


def test_a_second_agent_on_the_same_directories_is_refused(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    path = tmp_path / "a.conf"
    path.write_text(conf(spool, tmp_path / "fc"))
    argv = [sys.executable, "-m", "agents", "-f", str(path), "-n", "a",
            "--state-dir", str(tmp_path / "st")]  # fmt: skip
    with running(path.read_text(), state_dir=tmp_path / "st"):
        second = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert second.returncode == 1
    assert "channel c cannot start" in second.stdout
    assert f"is in use by another agent (pid {os.getpid()})" in second.stdout  # this one
