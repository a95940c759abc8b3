"""Flume's http source with its JSONHandler: a POST (or GET) of a JSON array of events.

The request body is ``[{"headers": {"k": "v"}, "body": "text"}, ...]`` in the charset of the
request's Content-Type (UTF-8 unless it says UTF-16 or UTF-32; any other charset is refused
with 500, as Flume's handler refuses it); each body is stored in that charset. Header values
that are JSON numbers or booleans are taken as their text, as Flume's Gson does; a missing
body is an empty one. The whole request is one batch, answered only after the channels took
it: 200 (empty), 400 ``Bad request from client. <why>`` for what is not such an array, 503
when a channel refused it (the client sends it again), 413 for a request over 64 MiB,
405 for other methods. Served by Python's ``http.server`` (a thread per request).
"""

from __future__ import annotations

import json
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agents.config.spec import Prop
from agents.event import EventBatch
from agents.sources.listening import ListeningSource, bind_prop, port_prop

JSON_HANDLER = "org.apache.flume.source.http.JSONHandler"
MAX_REQUEST_BYTES = 64 << 20
CHARSETS = {"utf-8": "utf-8", "utf-16": "utf-16", "utf-32": "utf-32"}


class BadRequest(ValueError):
    """What the client sent is not a JSON array of events (answered 400)."""


def parse_events(data: bytes, content_type: str | None) -> EventBatch:
    """The events of a JSONHandler request; BadRequest (400) or LookupError (500)."""
    msg = Message()
    msg["content-type"] = content_type or "application/json"
    declared = (msg.get_param("charset") or "utf-8").lower()  # type: ignore[union-attr]
    charset = CHARSETS.get(str(declared))
    if charset is None:
        raise LookupError(f"charset {declared} is not supported: the JSON handler reads "
                          "UTF-8, UTF-16 and UTF-32 only")  # fmt: skip
    try:
        items = json.loads(data.decode(charset))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"Request has invalid JSON Syntax: {exc}") from None
    if not isinstance(items, list):
        raise BadRequest("the body must be a JSON array of events")
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


def _text(value: Any) -> str:
    """A JSON scalar as Gson writes it into a String field."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise TypeError(type(value).__name__)


class HttpSource(ListeningSource):
    TYPE = "http"
    PROPERTIES = (
        bind_prop(),
        port_prop(),
        Prop(
            "handler",
            "choice",
            JSON_HANDLER,
            "How a request becomes events: Flume's JSONHandler.",
            choices=(JSON_HANDLER,),
            case_insensitive=False,
        ),
        Prop("handler.", "prefix", doc="The handler's settings (the JSONHandler has none)."),
        Prop(
            "enableSSL", "bool", False, "HTTPS: not provided; true is an error.", aliases=("ssl",)
        ),
    )

    def setup(self, context) -> None:  # type: ignore[no-untyped-def]
        if self.conf["enableSSL"]:
            context.problem("enableSSL", "HTTPS is not provided by this agent",
                            "terminate TLS in front of it, or use plain HTTP")  # fmt: skip
        self.server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def listen(self) -> None:
        try:
            server = ThreadingHTTPServer((self.conf["bind"], self.conf["port"]), _handler(self))
        except OSError as e:
            raise OSError(e.errno, f"cannot listen on {self.conf['bind']}:{self.conf['port']}: "
                                   f"{e.strerror}") from e  # fmt: skip
        server.daemon_threads = True
        self.server = server
        self._thread = threading.Thread(target=server.serve_forever, name=f"http-{self.name}",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def handle(self, data: bytes, content_type: str | None) -> tuple[int, str]:
        """(status, message) for one request."""
        try:
            batch = parse_events(data, content_type)
        except BadRequest as exc:
            self.counters.add("EventReadFail")
            return 400, f"Bad request from client. {exc}"
        except LookupError as exc:
            self.counters.add("EventReadFail")
            return 500, f"Deserializer threw unexpected exception. {exc}"
        if not batch:
            return 200, ""
        sub = self.deliver(batch, hold=False)
        if not sub.ok:
            return 503, f"Error appending event to channel. Channel might be full. {sub.error}"
        return 200, ""


def _handler(source: HttpSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BYTES:
                self._answer(413, f"a request may carry at most {MAX_REQUEST_BYTES} bytes")
                self.close_connection = True
                return
            data = self.rfile.read(length) if length else b""
            self._answer(*source.handle(data, self.headers.get("Content-Type")))

        do_GET = do_POST

        def do_PUT(self) -> None:
            self._answer(405, "use POST")

        do_DELETE = do_PATCH = do_PUT

        def _answer(self, status: int, message: str) -> None:
            body = message.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler
