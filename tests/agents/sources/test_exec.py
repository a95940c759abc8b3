"""exec with real commands: Flume's line endings, what happens to an unterminated last line,
and restart."""

from __future__ import annotations

from pathlib import Path

from agents.sources.exec import ExecSource
from tests.agents.agent_helpers import agent_from_text, lines_in, of_type, wait_for


def exec_conf(command: str, out: Path, extra: str = "") -> str:
    return (
        "a.sources = x\na.channels = c\na.sinks = k\n"
        f"a.sources.x.type = exec\na.sources.x.command = {command}\na.sources.x.channels = c\n"
        f"{extra}a.channels.c.type = memory\na.channels.c.capacity = 10000\n"
        f"a.sinks.k.type = file_roll\na.sinks.k.sink.directory = {out}\n"
        "a.sinks.k.sink.rollInterval = 0\na.sinks.k.channel = c\n"
    )


def test_line_endings_and_bad_bytes_as_in_flume(tmp_path: Path) -> None:
    """Issue 14 item 2, golden bytes from Flume 1.11's exec (BufferedReader.readLine): LF, CRLF
    and a lone CR each end a line; invalid UTF-8 becomes U+FFFD; the last line without a
    newline is delivered when the command ends by itself."""
    data = tmp_path / "in.bin"
    data.write_bytes(b"a\r\nb\rc\n\r\nd\xff\xfee\nlast")
    out = tmp_path / "out"
    agent = agent_from_text(exec_conf(f"cat {data}", out))
    agent.start()
    try:
        assert wait_for(lambda: b"last" in lines_in(out))
    finally:
        agent.stop()
    written = b"".join(f.read_bytes() for f in sorted(out.iterdir()))
    assert written == b"a\nb\nc\n\n" + "d\ufffd\ufffde".encode() + b"\nlast\n"


def test_an_unterminated_line_is_dropped_at_shutdown_as_in_flume(tmp_path: Path) -> None:
    """Issue 14 item 4: Flume 1.11 drops it (we checked); it is a line still being written."""
    out = tmp_path / "out"
    shell = "a.sources.x.shell = /bin/sh -c\n"
    conf = exec_conf("printf 'full\\\\npartial'; exec sleep 100", out, shell)
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: out.exists() and lines_in(out) == [b"full"])
    finally:
        agent.stop()
    assert lines_in(out) == [b"full"]


def test_a_command_that_ended_by_itself_keeps_its_last_line_at_shutdown(tmp_path: Path) -> None:
    """Issue 23 item 5: stopped just after the command exited, before (or after) the source
    read its end: the unterminated last line is delivered, every time (Flume: 1 run in 3)."""
    for run in range(5):
        out = tmp_path / f"out{run}"
        agent = agent_from_text(exec_conf("printf 'one\\ntwo\\nlast'", out))
        source = of_type(agent.sources["x"], ExecSource)

        def command_ended(source: ExecSource = source) -> bool:
            proc = source._proc
            if proc is None:
                return source.exit_code is not None
            return proc.poll() is not None

        agent.start()
        try:
            assert wait_for(command_ended)
        finally:
            agent.stop()
        assert lines_in(out) == [b"one", b"two", b"last"], run


def test_restart_runs_the_command_again_after_the_throttle(tmp_path: Path) -> None:
    out = tmp_path / "out"
    conf = exec_conf("echo again", out, "a.sources.x.restart = true\n"
                     "a.sources.x.restartThrottle = 200\n")  # fmt: skip
    agent = agent_from_text(conf)
    agent.start()
    try:
        assert wait_for(lambda: out.exists() and len(lines_in(out)) >= 3)
        source = of_type(agent.sources["x"], ExecSource)
        assert source.restarts >= 2
    finally:
        agent.stop()
    assert set(lines_in(out)) == {b"again"}
