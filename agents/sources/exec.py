"""Flume's exec source: run a command and turn each line of its output into an event.

Latency: Flume's exec source holds lines until ``batchSize`` lines or ``batchTimeout`` (3 s)
pass. Ours hands over whatever complete lines one read of the pipe returns, at once (up to
``batchSize`` per batch), so ``tail -F`` lines reach the channel within milliseconds. It never
holds complete lines, so ``batchTimeout`` has nothing to time out: it is accepted for
compatibility and unused. A partial last line waits for its newline or the command's end.
Guarantee: like Flume's, at most once across an agent crash (the command's output cannot be
replayed); use TAILDIR for at-least-once from files.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess

from agents.config.spec import Prop
from agents.event import EventBatch
from agents.sources.base import ThreadedSource
from agents.sources.lines import LineSplitter

READ_SIZE = 1 << 16


class ExecSource(ThreadedSource):
    TYPE = "exec"
    PROPERTIES = (
        Prop("command", "str", doc="The command to run (e.g. tail -F /path/to/log)."),
        Prop("shell", "str", "", "Shell to run the command with (e.g. /bin/sh -c)."),
        Prop("restart", "bool", False, "Run the command again when it ends."),
        Prop("restartThrottle", "int", 10000, "Milliseconds to wait before a restart.", minimum=0),
        Prop("logStdErr", "bool", False, "Log the command's stderr."),
        Prop("batchSize", "int", 20, "Most lines per batch.", minimum=1),
        Prop(
            "batchTimeout",
            "int",
            3000,
            "Accepted for compatibility; unused (lines are handed over as soon as they are read).",
            minimum=0,
        ),
        Prop("charset", "str", "UTF-8", "Charset of the command's output (bad bytes replaced)."),
        Prop("maxLineLength", "int", 1 << 20, "Longer lines are cut (ours).", minimum=1),
    )

    def setup(self, context) -> None:  # type: ignore[no-untyped-def]
        try:
            self._argv = (
                [*shlex.split(self.conf["shell"]), self.conf["command"]]
                if self.conf["shell"]
                else shlex.split(self.conf["command"])
            )
        except ValueError as exc:
            context.problem("command", f"cannot be split into arguments: {exc}")
            return
        if not self._argv:
            context.problem("command", "is empty")
        self._proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def interrupt(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)

    def run(self) -> None:
        while not self.stopping.is_set():
            code = self._run_once()
            if self.stopping.is_set():
                break
            if not self.conf["restart"]:
                self.log.info(
                    "command ended (exit %s); restart = false, so the source is idle", code
                )
                break
            self.restarts += 1
            self.log.warning(
                "command ended (exit %s); restarting in %d ms", code, self.conf["restartThrottle"]
            )
            self.stopping.wait(self.conf["restartThrottle"] / 1000)

    def _run_once(self) -> int | None:
        try:
            self._proc = proc = subprocess.Popen(
                self._argv,
                stdout=subprocess.PIPE,
                stderr=None if self.conf["logStdErr"] else subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            self.counters.add("GenericProcessingFail")
            self.counters.error(f"cannot run {self._argv[0]!r}: {exc.strerror}")
            self.log.error("cannot run %r: %s", self._argv[0], exc.strerror)
            return None
        self.log.info("running: %s (pid %d)", " ".join(self._argv), proc.pid)
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        splitter = LineSplitter(self.conf["maxLineLength"], self.conf["charset"], "REPLACE")
        size = self.conf["batchSize"]
        while True:
            chunk = os.read(fd, READ_SIZE)
            lines = splitter.feed(chunk) if chunk else splitter.flush()
            for i in range(0, len(lines), size):
                if not self.deliver(EventBatch(lines[i : i + size])):
                    break
            if not chunk or self.stopping.is_set():
                break
        proc.stdout.close()
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait()

    def health(self) -> str:
        proc = self._proc
        if proc is not None and proc.poll() is not None and not self.stopping.is_set():
            return (
                f"retrying: command exited {proc.returncode}"
                if self.conf["restart"]
                else (f"stopped: command exited {proc.returncode}")
            )
        return super().health()
