"""Flume's exec source: run a command and turn each line of its output into an event.

Lines end at LF, CRLF or a lone CR, as Java's ``readLine`` (Flume's) ends them; bytes invalid in
``charset`` become U+FFFD and bodies are encoded in ``charset``, as Flume does. A line longer
than ``maxLineLength`` characters becomes several events.

Latency: Flume's exec source holds lines until ``batchSize`` lines or ``batchTimeout`` (3 s)
pass. Ours hands over whatever complete lines one read of the pipe returns, at once (up to
``batchSize`` per batch), so ``tail -F`` lines reach the channel within milliseconds. It never
holds complete lines, so ``batchTimeout`` has nothing to time out: it is accepted for
compatibility and unused. A last line without a newline is delivered when the command ended
by itself, even when the agent stops before the source read it (Flume delivers it in about
one run of three, racily); the last line of a command the stop had to kill is dropped with a
warning, as Flume drops it: a line still being written, a record that never existed.
Guarantee: like Flume's, at most once across an agent crash (the command's output cannot be
replayed); use TAILDIR for at-least-once from files.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass

from agents.component import Status
from agents.config.context import Context
from agents.config.settings import Settings, prop, shared
from agents.errors import ChannelFullError
from agents.sources.base import Source
from agents.sources.lines import MAX_BYTES_PER_CHAR, STREAM_LINE_CAP, LineSplitter, check_charset
from agents.sources.reader import LineReader

READ_SIZE = 1 << 16
GATHER = 0.005  # s to let output gather after a short read, before the next (fewer wake-ups)


@dataclass(frozen=True, kw_only=True)
class ExecSettings(Settings):
    command: str = prop("command", "str", doc="The command to run (e.g. tail -F /path/to/log).")
    shell: str = prop("shell", "str", "", "Shell to run the command with (e.g. /bin/sh -c).")
    restart: bool = prop("restart", "bool", False, "Run the command again when it ends.")
    restart_throttle: int = prop(
        "restartThrottle", "int", 10000, "Milliseconds to wait before a restart.", minimum=0
    )
    log_std_err: bool = prop("logStdErr", "bool", False, "Log the command's stderr.")
    batch_size: int = prop("batchSize", "int", 20, "Most lines per batch.", minimum=1)
    batch_timeout: int = prop(
        "batchTimeout",
        "int",
        3000,
        "Accepted for compatibility; unused (lines are handed over as soon as they are read).",
        minimum=0,
    )
    charset: str = prop(
        "charset", "str", "UTF-8", "Charset of the command's output (bad bytes replaced)."
    )
    max_line_length: int = shared(STREAM_LINE_CAP)


class ExecSource(Source):
    TYPE = "exec"
    SETTINGS = ExecSettings
    PROPERTIES = ExecSettings.props()
    settings: ExecSettings

    def setup(self, context: Context) -> None:
        try:
            self._argv = (
                [*shlex.split(self.settings.shell), self.settings.command]
                if self.settings.shell
                else shlex.split(self.settings.command)
            )
        except ValueError as exc:
            context.problem("command", f"cannot be split into arguments: {exc}")
            return
        if not self._argv:
            context.problem("command", "is empty")
        try:
            check_charset(self.settings.charset)
        except (LookupError, ValueError) as exc:
            context.problem("charset", f"cannot be used: {exc}")
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: LineReader | None = None
        self.restarts = 0
        self.exit_code: int | None = None

    def start(self) -> None:
        self._proc = None
        self._next_run = 0.0  # monotonic time of the next run; inf: never again
        self._stopping = False
        self._killed = False  # the stop signalled a command that was still running
        super().start()

    def interrupt(self) -> None:
        self._stopping = True
        self._killed = self._signal(signal.SIGTERM) or self._killed

    def stop(self) -> None:
        self._stopping = True
        if self._proc is not None:
            if not self._killed and self._proc.poll() is not None:
                self._deliver_rest()  # it ended by itself: its output is whole
            self._signal(signal.SIGTERM)
            self._reap()
        super().stop()

    def _deliver_rest(self) -> None:
        """Read what a command that ended by itself left in the pipe, its last line included
        (with or without a newline), and put it into the channels."""
        reader, proc = self._reader, self._proc
        assert reader is not None and proc is not None and proc.stdout is not None
        batches = []
        while chunk := os.read(proc.stdout.fileno(), READ_SIZE):
            batches.extend(reader.read(chunk))
        batches.extend(reader.finish())
        try:
            self.send(batches)
        except ChannelFullError:
            lost = sum(len(b) for b, _ in batches)
            self.log.warning("the channel stayed full at stop: the command's last %d lines "
                             "were not put", lost)  # fmt: skip

    def max_event_bytes(self) -> tuple[str, int] | None:
        return "maxLineLength", self.settings.max_line_length * MAX_BYTES_PER_CHAR

    def backoff_pause(self, attempt: int) -> float:
        if self._proc is not None:
            return GATHER
        return max(0.0, min(self._next_run - time.monotonic(), 1.0))

    def process(self) -> Status:
        self.flush()
        if self._proc is None:
            if time.monotonic() < self._next_run or self._stopping:
                return Status.BACKOFF
            self._launch()
            return Status.READY
        reader = self._reader
        assert self._proc.stdout is not None and reader is not None
        chunk = os.read(self._proc.stdout.fileno(), READ_SIZE)
        if chunk:
            self.send(reader.read(chunk))
            return Status.READY if len(chunk) == READ_SIZE else Status.BACKOFF
        if self._killed:  # the stop cut the command short: its last line may be a fragment
            dropped = reader.splitter.drop_partial()
            if dropped:
                self.log.warning("dropping an unterminated last line (%d bytes) of the "
                                 "command stopped at shutdown", dropped)  # fmt: skip
            batches = []
        else:
            batches = reader.finish()
        self._ended(self._reap())
        self.send(batches)
        return Status.READY

    def _launch(self) -> None:
        try:
            self._proc = subprocess.Popen(
                self._argv,
                stdout=subprocess.PIPE,
                stderr=None if self.settings.log_std_err else subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            self.counters.add("GenericProcessingFail")
            self.counters.error(f"cannot run {self._argv[0]!r}: {exc.strerror}")
            self.log.error("cannot run %r: %s", self._argv[0], exc.strerror)
            self._ended(None)
            return
        c = self.settings
        splitter = LineSplitter(c.max_line_length, c.charset, "REPLACE", "ANY",
                                output=c.charset)  # fmt: skip
        self._reader = LineReader(splitter, c.batch_size, {}, self.counters, self.log,
                                  f"output of {self._argv[0]}")  # fmt: skip
        self.exit_code = None
        self.log.info("running: %s (pid %d)", " ".join(self._argv), self._proc.pid)

    def _ended(self, code: int | None) -> None:
        self._proc = None
        self.exit_code = code
        if self._stopping:
            return
        if not self.settings.restart:
            self._next_run = float("inf")
            self.log.info("command ended (exit %s); restart = false, so the source is idle", code)
            return
        self.restarts += 1
        self._next_run = time.monotonic() + self.settings.restart_throttle / 1000
        self.log.warning("command ended (exit %s); restarting in %d ms", code,
                         self.settings.restart_throttle)  # fmt: skip

    def _signal(self, sig: int) -> bool:
        """Signal the running command's process group; whether it was still running."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            return True
        return False

    def _reap(self) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.stdout is not None:
            proc.stdout.close()
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            return proc.wait()

    def health(self) -> str:
        if self._proc is None and self.exit_code is not None and not self._stopping:
            if self.settings.restart:
                return f"retrying: command exited {self.exit_code}"
            return f"stopped: command exited {self.exit_code}"
        return super().health()
