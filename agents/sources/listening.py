"""Sources that listen on a socket (avro, netcat, netcatudp, http, syslog*): the shared part.

Their server threads (one per TCP connection, one per UDP socket, the HTTP server's) receive
and parse; each batch is handed to ``deliver``, which queues it for the source's runner and
waits. The runner's ``process`` puts the queued batches in order, on its own thread, like any
source's (so interceptors, selector and counters see one writer). Two ways to handle a refusal
(a full channel, no disk space), chosen by the protocol:

- answered (avro: FAILED, and the sending sink rolls back and resends; http: 503; netcat:
  ``FAILED: ...``): one attempt, then the sender is told and the batch is not kept. A batch
  larger than a channel's transactionCapacity goes in several transactions, so a resend after
  a refusal part-way repeats the part already in (at least once, as Flume);
- held (syslog over TCP and UDP, which cannot say "refused"): the batch stays first in line
  and the runner puts it again, as any source's backpressure works, and the server thread
  waits: a TCP sender is slowed by TCP's flow control and nothing is dropped or repeated.

They run on ``agents.servers``' ``TcpServer`` and ``UdpServer`` (bind 127.0.0.1 unless
configured; a thread per connection, at most ``maxConnections``; idle and request timeouts; a
listen backlog). What a client sends that the protocol does not allow is *refused*: counted
(``EventReadFail``), answered as the protocol answers it, and logged through the source's one
``RateLimitedLog`` (one line per kind of trouble every 10 s, with the count of repeats).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from agents.component import Status
from agents.config.context import Context
from agents.config.settings import Settings, shared
from agents.config.spec import Prop
from agents.errors import ChannelFullError
from agents.event import EventBatch
from agents.processor import Delivery
from agents.servers import (
    Limits,
    RateLimitedLog,
    ServeConnection,
    ServeDatagrams,
    TcpServer,
    UdpServer,
)
from agents.sources.base import Source

IDLE_WAIT = 1.0  # s the runner waits for a batch (a submission wakes it at once)
LINE_RECV = 16 << 10  # bytes a line protocol reads at a time (bounds a read's events)
MAX_CONNECTIONS = 64
IDLE_TIMEOUT_MS = 600_000
SYSLOG_IDLE = (" Never by default: rsyslog and syslog-ng keep a connection open while idle and "
               "can lose the first message sent after the server closed it.")  # fmt: skip
REQUEST_TIMEOUT_MS = 60_000
MAX_REQUEST_BYTES = 16 << 20  # an avro frame's or an http body's most
MAX_BATCH_EVENTS = 10_000
PENDING_BYTES = 64 << 20


def bind_prop(name: str = "bind") -> Prop:
    return Prop(name, "str", "127.0.0.1",
                "Address to listen on (Flume listens on every address; 0.0.0.0 does).")  # fmt: skip


def port_prop() -> Prop:
    return Prop("port", "int", doc="Port to listen on.", minimum=0)


@dataclass(frozen=True, kw_only=True)
class PortSettings(Settings):
    """Settings that begin with the port (a source's settings subclass it)."""

    port: int = shared(port_prop())


@dataclass(frozen=True, kw_only=True)
class ListenSettings(Settings):
    """Settings that begin with the address and port (a source's settings subclass it)."""

    bind: str = shared(bind_prop())
    port: int = shared(port_prop())


class ConnectionProps(NamedTuple):
    """The TCP limits every listening source has (a source's settings declare a field each:
    ``max_connections``, ``idle_timeout``, ``backlog``, read by ``ListeningSource.limits``)."""

    most: Prop
    idle: Prop
    backlog: Prop


def connection_props(
    most: str = "maxConnections",
    idle: str = "idleTimeout",
    backlog: str = "backlog",
    idle_ms: int = IDLE_TIMEOUT_MS,
    flume: str = "",
    idle_why: str = "",
) -> ConnectionProps:
    """The TCP limits under the names *most*, *idle*, *backlog* (Flume's where Flume has
    them; *flume* says what Flume does, *idle_why* why the idle default is what it is)."""
    return ConnectionProps(
        Prop(most, "int", MAX_CONNECTIONS, "Most connections served at once (0: no limit); "
             f"one more is closed at once, with a log line.{flume}", minimum=0),
        Prop(idle, "int", idle_ms, "Milliseconds a connection may send nothing before it is "
             f"closed (0: never).{idle_why}", minimum=0),
        Prop(backlog, "int", 128, "Connections the kernel queues before they are accepted.",
             minimum=1),
    )  # fmt: skip


class RequestProps(NamedTuple):
    """The size limits of a source that takes large requests (avro, http): fields
    ``max_<body>_bytes``, ``max_batch_events``, ``max_pending_bytes``, ``request_timeout``."""

    most_bytes: Prop
    batch_events: Prop
    pending_bytes: Prop
    timeout: Prop


def request_props(body: str, flume: str) -> RequestProps:
    """The size limits of a source that takes large requests (avro, http)."""
    return RequestProps(
        Prop(f"max{body}Bytes", "bytes", MAX_REQUEST_BYTES, f"Largest {body.lower()} "
             f"accepted, in bytes; a larger one is refused before it is read.{flume}"),
        Prop("maxBatchEvents", "int", MAX_BATCH_EVENTS, "Most events one request may carry; "
             "one with more is refused as soon as that is known, before the rest is decoded.",
             minimum=1),
        Prop("maxPendingBytes", "bytes", PENDING_BYTES, "Bytes of requests read or being "
             "handled at once, across connections (each counts twice its size: its bytes "
             "and its events); a request that does not fit waits, up to requestTimeout, "
             f"then is refused. At least twice max{body}Bytes."),
        Prop("requestTimeout", "int", REQUEST_TIMEOUT_MS, "Milliseconds a request may take "
             "to arrive in full once its first byte came (0: no limit): a client that "
             "dribbles bytes is cut off.", minimum=0),
    )  # fmt: skip


def check_request_props(context: Context, most: int, pending: int, body: str) -> None:
    """*pending* (``maxPendingBytes``) must hold two requests of *most* bytes
    (``max<body>Bytes``)."""
    if pending < 2 * most:
        context.problem("maxPendingBytes", f"is less than twice max{body}Bytes: the largest "
                        "requests could never be taken", f"set it to at least twice "
                        f"max{body}Bytes")  # fmt: skip


class TcpSettings(Protocol):
    """What ``ListeningSource.limits`` reads of a TCP source's settings."""

    @property
    def max_connections(self) -> int: ...
    @property
    def idle_timeout(self) -> int: ...
    @property
    def backlog(self) -> int: ...


def tcp_limits(settings: TcpSettings, request_timeout_ms: int = 0) -> Limits:
    """The servers' limits from a source's settings (timeouts in ms)."""
    return Limits(settings.max_connections, settings.backlog, settings.idle_timeout / 1000,
                  request_timeout_ms / 1000)  # fmt: skip


class Submission:
    """One batch a server thread received, waiting for the runner to put it."""

    __slots__ = ("_done", "batch", "delivery", "error", "hold", "ok")

    def __init__(self, batch: EventBatch, hold: bool) -> None:
        self.batch = batch
        self.hold = hold  # a refused batch is kept and put again (not answered as refused)
        self.ok = False
        self.error = ""
        self.delivery: Delivery | None = None  # what each channel took, once taken
        self._done = threading.Event()

    def resolve(self, ok: bool, error: str = "") -> None:
        self.ok, self.error = ok, error
        self._done.set()

    def wait(self) -> bool:
        """True once every required channel took the batch; False if refused (see ``error``)."""
        self._done.wait()
        return self.ok


class ListeningSource(Source):
    """Base of the listening sources: ``listen`` opens the server(s) (``listen_tcp``,
    ``listen_udp``), ``close`` shuts them; ``refuse`` reports bad input."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.bad = RateLimitedLog(self.log)

    def limits(self) -> Limits:
        """The TCP servers' limits (settings with ``TcpSettings``' fields)."""
        return tcp_limits(self.settings)

    def refuse(self, kind: str, message: str) -> None:
        """A client sent what the protocol does not allow: counted and logged (rate-limited);
        the caller answers it as the protocol does."""
        self.counters.add("EventReadFail")
        self.bad.warning(f"{self.TYPE} {self.name}: {kind}", message)

    def start(self) -> None:
        self._inbox: deque[Submission] = deque()
        self._inbox_lock = threading.Lock()
        self._accepting = True
        self._current: Submission | None = None  # the one in the outbox
        self.servers: list[TcpServer | UdpServer] = []
        try:
            self.listen()
        except BaseException:
            self.close()  # what did bind is let go; the runner tries again
            raise
        super().start()

    def stop(self) -> None:
        with self._inbox_lock:
            self._accepting = False
            left, self._inbox = list(self._inbox), deque()
        if self._current is not None:
            left.append(self._current)
            self._current = None
        for sub in left:  # before close(): the server threads waiting on them can end
            sub.resolve(False, f"source {self.name} is stopping")
        self.close()
        super().stop()

    def listen(self) -> None:
        """Open the server (raise OSError if the address cannot be bound: retried)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the servers and end their threads."""
        for server in self.servers:
            server.stop()
        self.servers.clear()
        self.counters.set("OpenConnectionCount", 0)

    def listen_tcp(self, host: str, port: int, serve: ServeConnection) -> TcpServer:
        """A TCP server on host:port running ``serve(conn, peer, reader)`` per connection."""
        server = TcpServer(host, port, serve, f"{self.TYPE} {self.name} :{port}", self.bad,
                           self.limits(), self._connections)  # fmt: skip
        self.servers.append(server)
        server.start()
        return server

    def listen_udp(self, host: str, port: int, serve: ServeDatagrams) -> UdpServer:
        """A UDP socket on host:port handing what arrives to ``serve(datagrams)``."""
        server = UdpServer(host, port, serve, f"{self.TYPE}-{self.name}-{port}")
        self.servers.append(server)
        server.start()
        return server

    def _connections(self) -> None:
        tcp = (s for s in self.servers if isinstance(s, TcpServer))
        self.counters.set("OpenConnectionCount", sum(s.open_connections for s in tcp))

    @property
    def stopping(self) -> bool:
        return not self._accepting

    def deliver(self, batch: EventBatch, hold: bool) -> Submission:
        """From a server thread: queue *batch* for the runner and wait until every required
        channel took it, or it was refused (not with *hold*), or the source stops."""
        sub = Submission(batch, hold)
        with self._inbox_lock:
            if self._accepting:
                self._inbox.append(sub)
            else:
                sub.resolve(False, f"source {self.name} is stopping")
                return sub
        self.wake.set()
        sub.wait()
        return sub

    def process(self) -> Status:
        outbox = self.outbox
        assert outbox is not None
        sub = self._current
        if sub is None:
            with self._inbox_lock:
                sub = self._inbox.popleft() if self._inbox else None
            if sub is None:
                self.bad.flush()
                return Status.BACKOFF
            self._current = sub
            outbox.add(sub.batch)
        try:
            outbox.flush()
        except ChannelFullError as exc:
            if not sub.hold:  # answered as refused: the sender decides what comes next
                outbox.clear()
                self._current = None
                sub.resolve(False, str(exc))
            raise  # the runner backs off; a held batch is put again, what went in remembered
        except BaseException as exc:
            outbox.clear()
            self._current = None
            sub.resolve(False, str(exc) or type(exc).__name__)
            raise
        self._current = None
        sub.delivery = outbox.delivered
        sub.resolve(True)
        return Status.READY

    def backoff_pause(self, attempt: int) -> float:
        return IDLE_WAIT
