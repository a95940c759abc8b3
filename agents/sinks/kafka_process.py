"""A Kafka sink's producer in a process of its own, so the agent uses both cores.

One Python process holds one GIL: the agent's sources (reading, splitting, filtering) and a
Kafka sink producing record by record take turns on it, and one core is the ceiling. With
``producerProcess = true`` the sink hands each batch it took, whole, to a child process that
runs the same ``BatchProducer`` code, and hears back once per batch (acknowledged, refused
records, or an error that sending again may cure). The sink keeps its channel transactions,
its in-flight window and its settling: nothing about the guarantees changes, only where the
records are produced.

The two talk over a socket pair (``multiprocessing.connection`` framing, pickled tuples):

- agent -> child: ``("start", producer_conf, settings)`` (the sink's ``KafkaSinkSettings``),
  a batch, ``("close", timeout)``.
  A batch is ``("lines", id, count, common, headers)`` then its bodies joined by newlines in
  the next message (one join and one split instead of an object per body), or, when a body
  holds a newline, ``("batch", id, bodies, common, headers)``;
- child -> agent: ``("ready",)``, ``("done", id, error, failed)``, ``("error", code, text)``
  (librdkafka's error callback), ``("closed", records_left)``.

The child ignores SIGINT and SIGTERM (the agent decides when it stops) and exits when the
agent goes away (end of file on the socket): what it still held was never committed, so the
agent's sources send it again after a restart.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from agents.event import EventBatch
from agents.sinks.kafka_producer import BatchProducer, OnError, Tracker
from agents.sinks.kafka_settings import KafkaSinkSettings

START_TIMEOUT = 30.0  # s for the child to import confluent-kafka and create its producer
REPORT_POLL = 0.2  # s the child's report thread waits in librdkafka per call


class ProducerGone(RuntimeError):
    """The producer process exited or cannot be reached; what it held is unacknowledged."""


class ProducerProcess:
    """``BatchProducer``'s interface, served by a child process."""

    def __init__(
        self, producer_conf: Mapping[str, Any], settings: KafkaSinkSettings, on_error: OnError
    ) -> None:
        self._on_error = on_error
        self._trackers: dict[int, Tracker] = {}
        self._next = 0
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": package_root + (os.pathsep + path if path else "")}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "agents.sinks.kafka_process", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._readable = select.poll()  # made once: Connection.poll builds a selector per call
        self._readable.register(self._conn.fileno(), select.POLLIN)
        try:
            self._conn.send(("start", dict(producer_conf), settings))
            if not self._conn.poll(START_TIMEOUT):
                raise ProducerGone(f"the producer process did not start in {START_TIMEOUT:.0f} s")
            reply = self._conn.recv()
            if reply[0] != "ready":
                raise ProducerGone(f"the producer process could not start: {reply[1]}")
        except (OSError, EOFError, ProducerGone) as exc:
            self._kill()
            if isinstance(exc, ProducerGone):
                raise
            raise ProducerGone(f"the producer process exited at start ({self._exit()})") from exc

    @property
    def pid(self) -> int:
        return self._proc.pid

    def send(self, batch: EventBatch, tracker: Tracker) -> None:
        self._next += 1
        self._trackers[self._next] = tracker
        bodies = batch.bodies
        lines = b"\n".join(bodies)
        try:
            if lines.count(b"\n") == len(bodies) - 1:  # no body holds a newline: split restores
                meta = ("lines", self._next, len(bodies), batch.common, batch.headers)
                self._conn.send_bytes(pickle.dumps(meta, pickle.HIGHEST_PROTOCOL))
                self._conn.send_bytes(lines)
            else:
                message = ("batch", self._next, bodies, batch.common, batch.headers)
                self._conn.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
        except OSError as exc:
            raise ProducerGone(f"the producer process is gone ({self._exit()})") from exc

    def poll(self, timeout: float) -> None:
        """Take in what the child reported, waiting up to *timeout* s for the first."""
        conn, readable = self._conn, self._readable
        try:
            if not readable.poll(timeout * 1000):
                return
            while True:
                self._handle(conn.recv())
                if not readable.poll(0):
                    return
        except (OSError, EOFError) as exc:
            raise ProducerGone(f"the producer process is gone ({self._exit()})") from exc

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "done":
            _, ident, error, failed = message
            tracker = self._trackers.pop(ident)
            tracker.error, tracker.failed = error, failed
            tracker.done()
        elif kind == "error":
            self._on_error(message[1], message[2])

    def close(self, timeout: float) -> int:
        """Let the child send what it holds (up to *timeout* s) and exit; the records left."""
        left = -1
        try:
            self._conn.send(("close", timeout))
            deadline = time.monotonic() + timeout + 5
            while (wait := deadline - time.monotonic()) > 0 and self._conn.poll(wait):
                message = self._conn.recv()
                if message[0] == "closed":
                    left = message[1]
                    break
                self._handle(message)
        except (OSError, EOFError):
            pass
        self._kill()
        return left

    def _exit(self) -> str:
        code = self._proc.poll()
        return "still running" if code is None else f"exit code {code}"

    def _kill(self) -> None:
        self._conn.close()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


# -- the child --------------------------------------------------------------------------------
def serve(conn: Connection) -> int:
    """The child's loop: produce the batches the agent sends, report each once settled."""
    _kind, producer_conf, settings = conn.recv()
    lock = threading.Lock()
    settled: deque[tuple[int, Tracker]] = deque()

    def send(message: tuple[Any, ...]) -> None:
        with lock:
            conn.send(message)

    def report() -> None:  # from both threads: whichever saw the batches settle
        while settled:
            try:
                ident, t = settled.popleft()
            except IndexError:
                return
            send(("done", ident, t.error, t.failed))

    try:
        producer = BatchProducer(producer_conf, settings,
                                 lambda code, text: send(("error", code, text)))  # fmt: skip
    except Exception as exc:
        conn.send(("failed", str(exc)))
        return 1
    send(("ready",))
    closing = threading.Event()

    def serve_reports() -> None:
        while not closing.is_set():
            producer.poll(REPORT_POLL)
            report()

    reporter = threading.Thread(target=serve_reports, name="reports", daemon=True)
    reporter.start()
    while True:
        try:
            message = pickle.loads(conn.recv_bytes())
            if message[0] == "lines":
                message = (*message[:2], conn.recv_bytes().split(b"\n"), *message[3:])
        except (EOFError, OSError):  # the agent is gone: nothing here can be committed now
            os._exit(0)
        if message[0] in ("batch", "lines"):
            _, ident, bodies, common, headers = message

            def done(t: Tracker, ident: int = ident) -> None:
                settled.append((ident, t))

            tracker = Tracker(done)
            producer.send(EventBatch(bodies, common, headers), tracker)
            report()
        elif message[0] == "close":
            left = producer.close(message[1])
            closing.set()
            reporter.join()
            producer.poll(0)
            report()
            send(("closed", left))
            return 0


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the agent decides when this stops
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return serve(Connection(int(argv[0])))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
