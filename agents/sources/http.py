"""Flume's http source with its JSONHandler: a POST (or GET) of a JSON array of events.

The request body is ``[{"headers": {"k": "v"}, "body": "text"}, ...]`` in the charset of the
request's Content-Type (UTF-8 unless it says UTF-16 or UTF-32; any other charset is refused
with 500, as Flume's handler refuses it); each body is stored in that charset. Header values
that are JSON numbers or booleans are taken as their text, as Flume's Gson does; a missing
body is an empty one. The whole request is one batch, answered only after the channels took
it: 200 (empty), 400 ``Bad request from client. <why>`` for what is not such an array, 503
when a channel refused it (the client sends it again), 405 for other methods.

Limits for an open network (``agents.servers``; Flume's Jetty names where Flume has them):
``QueuedThreadPool.maxThreads`` connections at once, ``ServerConnector.idleTimeout`` and
``ServerConnector.acceptQueueSize``; bodies of at most ``maxRequestBytes`` (413),
``maxBatchEvents`` events a request (413, found while parsing: the array is parsed one event at
a time, so a huge array is refused early and other flows keep the interpreter), a body that
must arrive within ``requestTimeout`` (408), ``maxPendingBytes`` of bodies in hand at once (503
when there is no room in time). A Content-Length that is not a number of bytes is answered 400,
a chunked body 411; JSON nested too deeply 400. Every refusal is counted (``EventReadFail``)
and logged in one rate-limited line; a client that hangs up costs a line, not a traceback.
The server is Python's ``http.server`` request handler, run on a connection of ``TcpServer``.
"""

from __future__ import annotations

import io
import json
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from http.server import BaseHTTPRequestHandler
from typing import Any

from agents.config.context import Context
from agents.config.settings import prop, shared
from agents.event import EventBatch
from agents.servers import ByteBudget, Limits, Reader, send_reply
from agents.sources.listening import (
    ListeningSource,
    ListenSettings,
    check_request_props,
    connection_props,
    request_props,
    tcp_limits,
)

JSON_HANDLER = "org.apache.flume.source.http.JSONHandler"
CHARSETS = {"utf-8": "utf-8", "utf-16": "utf-16", "utf-32": "utf-32"}
_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


class BadRequest(ValueError):
    """What the client sent is not a JSON array of events (answered 400)."""


class TooManyEvents(BadRequest):
    """More events than ``maxBatchEvents`` (answered 413)."""


def parse_events(data: bytes, content_type: str | None, most: int = 10**9) -> EventBatch:
    """The events of a JSONHandler request; BadRequest (400), TooManyEvents (413) or
    LookupError (500). The array is decoded one element at a time."""
    msg = Message()
    msg["content-type"] = content_type or "application/json"
    param = msg.get_param("charset") or "utf-8"
    declared = (collapse_rfc2231_value(param) if isinstance(param, tuple) else param).lower()
    charset = CHARSETS.get(declared)
    if charset is None:
        raise LookupError(f"charset {declared} is not supported: the JSON handler reads "
                          "UTF-8, UTF-16 and UTF-32 only")  # fmt: skip
    try:
        text = data.decode(charset)
        items = _array(text, most)
    except RecursionError:
        raise BadRequest("Request has invalid JSON Syntax: nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, BadRequest):
            raise
        raise BadRequest(f"Request has invalid JSON Syntax: {exc}") from None
    bodies: list[bytes] = []
    headers: list[dict[str, str]] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(f"event {n} is not a JSON object")
        body = item.get("body")
        hdrs = item.get("headers") or {}
        if body is not None and not isinstance(body, str | int | float | bool):
            raise BadRequest(f"event {n}: body must be a string")
        if not isinstance(hdrs, dict):
            raise BadRequest(f"event {n}: headers must be an object of strings")
        bodies.append(b"" if body is None else _text(body).encode(charset))
        try:
            headers.append({str(k): _text(v) for k, v in hdrs.items() if v is not None})
        except TypeError:
            raise BadRequest(f"event {n}: header values must be strings") from None
    if headers and all(h == headers[0] for h in headers):
        return EventBatch(bodies, headers[0])
    return EventBatch(bodies, {}, headers)


def _skip_space(text: str, at: int) -> int:
    """Where the JSON whitespace from *at* ends."""
    space = _SPACE.match(text, at)
    assert space is not None  # the pattern matches the empty string
    return space.end()


def _array(text: str, most: int) -> list[Any]:
    """A JSON array's elements, decoded one by one; TooManyEvents past *most*."""
    at = _skip_space(text, 0)
    if text[at : at + 1] != "[":
        json.loads(text)  # says what is wrong, if anything
        raise BadRequest("the body must be a JSON array of events")
    items: list[Any] = []
    at = _skip_space(text, at + 1)
    if text[at : at + 1] == "]":
        end = at + 1
    else:
        while True:
            if len(items) == most:
                raise TooManyEvents(f"more than {most:,} events in one request (maxBatchEvents)")
            item, at = _DECODER.raw_decode(text, at)
            items.append(item)
            at = _skip_space(text, at)
            sep = text[at : at + 1]
            at = _skip_space(text, at + 1)
            if sep == "]":
                end = at
                break
            if sep != ",":
                raise ValueError(f"expected ',' or ']' at character {at}")
    if text[_skip_space(text, end) :]:
        raise ValueError(f"extra data after the array at character {end}")
    return items


def _text(value: Any) -> str:
    """A JSON scalar as Gson writes it into a String field."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise TypeError(type(value).__name__)


_LIMITS = connection_props(
    "QueuedThreadPool.maxThreads",
    "ServerConnector.idleTimeout",
    "ServerConnector.acceptQueueSize",
    idle_ms=30_000,
    flume=" Flume's Jetty serves 200 threads by default.",
)
_REQUESTS = request_props("Request", " Flume: no limit.")


@dataclass(frozen=True, kw_only=True)
class HttpSettings(ListenSettings):
    handler: str = prop(
        "handler",
        "choice",
        JSON_HANDLER,
        "How a request becomes events: Flume's JSONHandler.",
        choices=(JSON_HANDLER,),
        case_insensitive=False,
    )
    handler_settings: dict[str, str] = prop(
        "handler.", "prefix", doc="The handler's settings (the JSONHandler has none)."
    )
    enable_ssl: bool = prop(
        "enableSSL", "bool", False, "HTTPS: not provided; true is an error.", aliases=("ssl",)
    )
    max_connections: int = shared(_LIMITS.most)
    idle_timeout: int = shared(_LIMITS.idle)
    backlog: int = shared(_LIMITS.backlog)
    max_request_bytes: int = shared(_REQUESTS.most_bytes)
    max_batch_events: int = shared(_REQUESTS.batch_events)
    max_pending_bytes: int = shared(_REQUESTS.pending_bytes)
    request_timeout: int = shared(_REQUESTS.timeout)


class HttpSource(ListeningSource):
    TYPE = "http"
    SETTINGS = HttpSettings
    PROPERTIES = HttpSettings.props()
    settings: HttpSettings

    def setup(self, context: Context) -> None:
        s = self.settings
        if s.enable_ssl:
            context.problem("enableSSL", "HTTPS is not provided by this agent",
                            "terminate TLS in front of it, or use plain HTTP")  # fmt: skip
        check_request_props(context, s.max_request_bytes, s.max_pending_bytes, "Request")

    def limits(self) -> Limits:
        return tcp_limits(self.settings, self.settings.request_timeout)

    def listen(self) -> None:
        self.budget = ByteBudget(self.settings.max_pending_bytes)
        handler = _handler(self)

        def serve(conn: socket.socket, peer: tuple[str, int], reader: Reader) -> None:
            handler(conn, peer, reader)  # it serves the connection's requests, then returns

        self.listen_tcp(self.settings.bind, self.settings.port, serve)

    def handle(self, data: bytes, content_type: str | None, peer: str) -> tuple[int, str]:
        """(status, message) for one request's body."""
        try:
            batch = parse_events(data, content_type, self.settings.max_batch_events)
        except TooManyEvents as exc:
            return self.refused(413, f"Bad request from client. {exc}", peer)
        except BadRequest as exc:
            return self.refused(400, f"Bad request from client. {exc}", peer)
        except LookupError as exc:
            return self.refused(500, f"Deserializer threw unexpected exception. {exc}", peer)
        if not batch:
            return 200, ""
        sub = self.deliver(batch, hold=False)
        if not sub.ok:
            return 503, f"Error appending event to channel. Channel might be full. {sub.error}"
        return 200, ""

    def refused(self, status: int, message: str, peer: str) -> tuple[int, str]:
        self.refuse(f"requests answered {status}", f"http {self.name}: answered {status} to "
                    f"{peer}: {message}")  # fmt: skip
        return status, message


class _Raw(io.RawIOBase):
    """A connection's bytes through its Reader (so its timeouts apply)."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self.reader.recv_into(memoryview(buffer).cast("B"))


class _Writer(io.BufferedIOBase):
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.sock.sendall(data)
        return len(data)


def _handler(source: HttpSource) -> Callable[[socket.socket, tuple[str, int], Reader], object]:
    most = source.settings.max_request_bytes

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        default_request_version = "HTTP/1.0"  # garbage gets a status line too (no HTTP/0.9)

        def __init__(self, conn: socket.socket, peer: tuple[str, int], reader: Reader) -> None:
            self.reader = reader
            super().__init__(conn, peer, None)  # type: ignore[arg-type]  # no socketserver

        def setup(self) -> None:
            self.connection = self.request
            self.rfile = io.BufferedReader(_Raw(self.reader))
            self.wfile = _Writer(self.connection)

        def handle_one_request(self) -> None:
            self.reader.end()  # waiting for the next request: the idle timeout applies
            super().handle_one_request()

        def do_POST(self) -> None:
            peer = f"{self.client_address[0]}:{self.client_address[1]}"
            length = self._length(peer)
            if length is None:
                return
            budget = source.budget
            if not budget.take(2 * length, source.limits().request or None):
                self._refuse(503, f"no room for {length:,} more bytes: {budget.used:,} of "
                             f"{budget.most:,} bytes of requests are being handled "
                             "(maxPendingBytes); try again", peer)  # fmt: skip
                return
            try:
                try:
                    data = self.rfile.read(length) if length else b""
                except TimeoutError as exc:
                    self._refuse(408, f"the body did not arrive in time: {exc}", peer)
                    return
                if len(data) < length:  # it hung up half-way: no one to answer
                    source.refuse("clients gone", f"http {source.name}: {peer} hung up after "
                                  f"{len(data):,} of {length:,} bytes")  # fmt: skip
                    self.close_connection = True
                    return
                self._answer(*source.handle(data, self.headers.get("Content-Type"), peer))
            finally:
                source.budget.give(2 * length)

        do_GET = do_POST

        def _length(self, peer: str) -> int | None:
            """The body's length, or None once the request was refused."""
            if self.headers.get("Transfer-Encoding"):
                self._refuse(411, "a chunked body is not taken: send Content-Length", peer)
                return None
            values = self.headers.get_all("Content-Length") or []
            if not values:
                return 0
            text = values[0].strip()
            if len(values) > 1 or not text.isdigit() or not text.isascii():
                shown = ", ".join(values)[:40]
                self._refuse(400, f"Content-Length must be a number of bytes, got {shown!r}",
                             peer)  # fmt: skip
                return None
            length = int(text)
            if length > most:
                self._refuse(413, f"a request may carry at most {most:,} bytes "
                             f"(maxRequestBytes), this one {length:,}", peer)  # fmt: skip
                return None
            return length

        def do_PUT(self) -> None:
            self._answer(405, "use POST")

        do_DELETE = do_PATCH = do_PUT

        def _refuse(self, status: int, message: str, peer: str) -> None:
            """Refused before its body was read: answered, then the connection is closed."""
            self._answer(*source.refused(status, f"Bad request from client. {message}", peer))
            self.close_connection = True

        def _answer(self, status: int, message: str) -> None:
            send_reply(self, status, "text/plain; charset=utf-8", message.encode(),
                       self.close_connection)  # fmt: skip

        def log_error(self, format: str, *args: Any) -> None:
            """http.server's own refusals (a bad request line, too many headers, ...)."""
            source.refuse("malformed requests", f"http {source.name}: "
                          f"{self.client_address[0]}:{self.client_address[1]}: "
                          f"{format % args}")  # fmt: skip

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler
