"""The socket servers of the listening sources and of the Avro RPC server, with the limits a
collector on an open network needs.

- ``TcpServer``: a thread per connection, at most ``Limits.max_connections`` at once (one
  more is closed at accept, with a log line), a listen backlog, and per-connection timeouts:
  ``idle`` (no byte for that long: closed) and ``request`` (a request that began must have
  arrived in full that soon, so a client dribbling bytes cannot hold a connection forever;
  the protocol code marks where requests begin and end on its ``Reader``).
- ``UdpServer``: a socket whose datagrams are handed over in batches of bounded size.
- ``ByteBudget``: the bytes of requests a source holds at once, across its connections; a
  request that does not fit waits for room (up to its request timeout), then is refused.
- ``RateLimitedLog``: what every listening source logs about bad input and refused
  connections, one line per kind of trouble and per window however fast it repeats.
- ``send_reply``: one whole HTTP answer from an ``http.server`` handler (the http source's,
  the monitoring endpoint's).

A connection's end is never a traceback: a client that hangs up, times out or sends what the
protocol does not allow costs one (rate-limited) log line.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

ServeConnection = Callable[[socket.socket, tuple[str, int], "Reader"], None]
ServeDatagrams = Callable[[list[tuple[bytes, tuple[str, int]]]], None]
RECV_SIZE = 1 << 16  # bytes a read asks for (a UDP datagram's most)
UDP_BATCH = (1000, 4 << 20)  # a batch of datagrams: at most this many, or this many bytes


class RateLimitedLog:
    """Log each kind of trouble (a *key*) at most once per *window* seconds: the first at
    once, the repeats counted and said in one line (``... and 41 more like it``) at the next
    occurrence after the window, or at ``flush()``. Thread-safe."""

    def __init__(self, log: logging.Logger, window: float = 10.0) -> None:
        self.log = log
        self.window = window
        self._since: dict[str, float] = {}  # key -> start of its window
        self._repeats: dict[str, tuple[int, str]] = {}  # key -> (repeats, last message)
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *, exc_info: BaseException | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            since = self._since.get(key)
            if since is not None and now - since < self.window:
                count, _ = self._repeats.get(key, (0, ""))
                self._repeats[key] = (count + 1, message)
                return
            self._since[key] = now
            left = self._repeats.pop(key, None)
        if left is not None:
            self._say_repeats(key, *left)
        self.log.warning("%s", message, exc_info=exc_info)

    def flush(self) -> None:
        """Say the repeats of windows that are over (a source's runner calls it)."""
        now = time.monotonic()
        with self._lock:
            done = [k for k in self._repeats if now - self._since[k] >= self.window]
            told = [(k, *self._repeats.pop(k)) for k in done]
        for key, count, last in told:
            self._say_repeats(key, count, last)

    def _say_repeats(self, key: str, count: int, last: str) -> None:
        self.log.warning("%s: %d more like it in %.0f s (the last: %s)", key, count,
                         self.window, last)  # fmt: skip


class ByteBudget:
    """At most *most* bytes taken at once; ``take`` waits for room."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.used = 0
        self._cond = threading.Condition()

    def take(self, n: int, timeout: float | None) -> bool:
        """Reserve *n* bytes, waiting up to *timeout* s (None: as long as it takes); False if
        there was no room by then (or never can be: *n* is more than the budget)."""
        if n > self.most:
            return False
        with self._cond:
            if not self._cond.wait_for(lambda: self.used + n <= self.most, timeout):
                return False
            self.used += n
            return True

    def give(self, n: int) -> None:
        with self._cond:
            self.used -= n
            self._cond.notify_all()


@dataclass(frozen=True)
class Limits:
    max_connections: int = 64  # 0: no limit
    backlog: int = 128
    idle: float = 0.0  # s without a byte before a connection is closed; 0: never
    request: float = 0.0  # s a begun request may take to arrive in full; 0: no limit


class Reader:
    """A connection's reads, with its timeouts: ``recv`` waits at most ``idle`` seconds for
    a byte; the first bytes of a request start its deadline (``request`` seconds later), and
    no read waits past it; the protocol calls ``end()`` once the request is complete. Raises
    TimeoutError when a wait is over."""

    def __init__(self, sock: socket.socket, limits: Limits) -> None:
        self.sock = sock
        self.limits = limits
        self.due: float | None = None  # monotonic deadline of the request in progress
        sock.settimeout(limits.idle or None)

    def end(self) -> None:
        self.due = None
        self.sock.settimeout(self.limits.idle or None)

    def recv(self, size: int) -> bytes:
        if self.due is not None:
            left = self.due - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"request not complete within {self.limits.request:g} s")
            idle = self.limits.idle
            self.sock.settimeout(min(left, idle) if idle else left)
        try:
            data = self.sock.recv(size)
            if self.due is None and self.limits.request and data:
                self.due = time.monotonic() + self.limits.request
            return data
        except TimeoutError:
            if self.due is not None and time.monotonic() >= self.due:
                raise TimeoutError(
                    f"request not complete within {self.limits.request:g} s"
                ) from None
            raise TimeoutError(f"nothing received for {self.limits.idle:g} s") from None

    def recv_into(self, buffer: memoryview) -> int:
        data = self.recv(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class TcpServer:
    """A listening TCP socket with a thread per connection running ``serve(conn, peer,
    reader)``, within ``limits``; trouble goes to *bad* (rate-limited)."""

    def __init__(
        self,
        host: str,
        port: int,
        serve: ServeConnection,
        name: str,
        bad: RateLimitedLog,
        limits: Limits,
        on_count: Callable[[], None] = lambda: None,
    ) -> None:
        self.host, self.port = host, port
        self.serve = serve
        self.name = name
        self.bad = bad
        self.limits = limits
        self.on_count = on_count  # called when a connection opens or closes
        self.open_connections = 0
        self.refused_connections = 0
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = False

    def start(self) -> None:
        try:
            sock = socket.create_server((self.host, self.port), backlog=self.limits.backlog)
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
        most = self.limits.max_connections
        while not self._stopping:
            try:
                conn, peer = self._listener.accept()
            except OSError:
                return  # closed by stop()
            with self._lock:
                full = bool(most) and len(self._conns) >= most
                if not full:
                    self._conns.add(conn)
                    self.open_connections = len(self._conns)
            if full:
                self.refused_connections += 1
                conn.close()
                self.bad.warning("connections refused", f"{self.name}: refused a connection "
                                 f"from {peer[0]}:{peer[1]}: {most} connections are open "
                                 "(the most it serves at once)")  # fmt: skip
                continue
            self.on_count()
            self._spawn(self._run, f"{peer[0]}:{peer[1]}", conn, peer)

    def _run(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        try:
            self.serve(conn, peer, Reader(conn, self.limits))
        except TimeoutError as e:
            if not self._stopping:
                self.bad.warning("connections timed out", f"{self.name}: closed the connection "
                                 f"from {peer[0]}:{peer[1]}: {e}")  # fmt: skip
        except OSError as e:  # the client hung up, reset, ...
            if not self._stopping:
                self.bad.warning("connections lost", f"{self.name}: connection from "
                                 f"{peer[0]}:{peer[1]}: {e}")  # fmt: skip
        except Exception as e:  # a bug: said with its traceback, but not once per client
            self.bad.warning("connection failures", f"{self.name}: connection from "
                             f"{peer[0]}:{peer[1]} failed: {e!r}", exc_info=e)  # fmt: skip
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
    """A bound UDP socket whose thread hands what arrived together (up to 1000 datagrams or
    4 MiB) to ``serve([(data, peer), ...])``, one call a batch."""

    def __init__(self, host: str, port: int, serve: ServeDatagrams, name: str) -> None:
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
        most, most_bytes = UDP_BATCH
        while not self._stopping:
            try:
                first = sock.recvfrom(RECV_SIZE)
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            got = [first]
            size = len(first[0])
            sock.setblocking(False)  # what else has arrived goes in the same batch
            try:
                while len(got) < most and size < most_bytes:
                    got.append(sock.recvfrom(RECV_SIZE))
                    size += len(got[-1][0])
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


def send_reply(
    handler: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes, close: bool
) -> None:
    """Answer *status* with *body*, its type and length (and ``Connection: close`` if
    *close*)."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    if close:
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)
