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

``TcpServer`` and ``UdpServer`` are the small socket loops these sources share: bind (127.0.0.1
unless configured), a thread per connection (or for the socket), and a ``stop`` that closes
every socket and joins every thread.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable

from agents.component import Status
from agents.config.spec import Prop
from agents.errors import ChannelFullError
from agents.event import EventBatch
from agents.processor import Delivery
from agents.sources.base import Source

IDLE_WAIT = 1.0  # s the runner waits for a batch (a submission wakes it at once)
ServeConnection = Callable[[socket.socket, tuple[str, int]], None]  # a TCP connection's loop
ServeDatagrams = Callable[[list[tuple[bytes, tuple[str, int]]]], None]  # what a read got
RECV_SIZE = 1 << 16


def bind_prop(name: str = "bind") -> Prop:
    return Prop(name, "str", "127.0.0.1",
                "Address to listen on (Flume listens on every address; 0.0.0.0 does).")  # fmt: skip


def port_prop() -> Prop:
    return Prop("port", "int", doc="Port to listen on.", minimum=0)


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
    ``listen_udp``), ``close`` shuts them."""

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
        """A TCP server on host:port running ``serve(conn, peer)`` per connection."""
        server = TcpServer(host, port, serve, f"{self.TYPE}-{self.name}-{port}", self.log,
                           self._connections)  # fmt: skip
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


class TcpServer:
    """A listening TCP socket with a thread per connection running ``serve(conn, peer)``."""

    def __init__(
        self,
        host: str,
        port: int,
        serve: ServeConnection,
        name: str,
        log: logging.Logger,
        on_count: Callable[[], None] = lambda: None,
    ) -> None:
        self.host, self.port = host, port
        self.serve = serve
        self.name = name
        self.log = log
        self.on_count = on_count  # called when a connection opens or closes
        self.open_connections = 0
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = False

    def start(self) -> None:
        try:
            sock = socket.create_server((self.host, self.port), backlog=64)
        except OSError as e:
            raise OSError(e.errno, f"cannot listen on {self.host}:{self.port}: "
                                   f"{e.strerror}") from e  # fmt: skip
        self.address = sock.getsockname()[:2]  # what is bound, e.g. ('127.0.0.1', 4545)
        self.port = self.address[1]
        self._listener = sock
        self._stopping = False
        self._spawn(self._accept, "accept")

    def _spawn(self, target: Callable[..., None], what: str, *args: object) -> None:
        t = threading.Thread(target=target, args=args, name=f"{self.name}-{what}", daemon=True)
        t.start()
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping:
            try:
                conn, peer = self._listener.accept()
            except OSError:
                return  # closed by stop()
            with self._lock:
                self._conns.add(conn)
                self.open_connections = len(self._conns)
            self.on_count()
            self._spawn(self._run, f"{peer[0]}:{peer[1]}", conn, peer)

    def _run(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        try:
            self.serve(conn, peer)
        except OSError as e:
            if not self._stopping:
                self.log.warning("%s: connection from %s:%s: %s", self.name, *peer[:2], e)
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            with self._lock:
                self._conns.discard(conn)
                self.open_connections = len(self._conns)
            self.on_count()

    def stop(self) -> None:
        self._stopping = True
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join(timeout=10)


class UdpServer:
    """A bound UDP socket whose thread hands what arrived together (up to 1000 datagrams) to
    ``serve([(data, peer), ...])``, one call a batch."""

    def __init__(
        self,
        host: str,
        port: int,
        serve: ServeDatagrams,
        name: str,
    ) -> None:
        self.host, self.port = host, port
        self.serve = serve
        self.name = name
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            raise OSError(e.errno, f"cannot listen on udp {self.host}:{self.port}: "
                                   f"{e.strerror}") from e  # fmt: skip
        self.address = sock.getsockname()[:2]
        self.port = self.address[1]
        sock.settimeout(0.5)  # to see stop() soon
        self._sock = sock
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"{self.name}-udp", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stopping:
            try:
                first = sock.recvfrom(RECV_SIZE)
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            got = [first]
            sock.setblocking(False)  # what else has arrived goes in the same batch
            try:
                while len(got) < 1000:
                    got.append(sock.recvfrom(RECV_SIZE))
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    sock.settimeout(0.5)
            self.serve(got)

    def stop(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
