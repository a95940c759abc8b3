"""`labctl dashboard`: the collector's snapshots as a web page on 127.0.0.1.

A Starlette app served by uvicorn. ``/`` is the page (HTML, JS and CSS shipped in this
package, nothing fetched from elsewhere), ``/api/snapshot`` the newest snapshot as JSON and
``/api/events`` a server-sent-event stream that pushes each new snapshot (about twice a
second: one per sample of either collector thread).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

import anyio
import uvicorn
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from labctl.dashboard.collector import Collector

HOST = "127.0.0.1"  # the lab's page is for this machine only
PUSH_CHECK_S = 0.2  # how often a stream looks for a new snapshot


def create_app(collector: Collector) -> Starlette:
    """The dashboard app; it starts the collector with itself and stops it at shutdown."""
    static = resources.files("labctl.dashboard") / "static"

    async def index(_request: Request) -> FileResponse:
        return FileResponse(str(static / "index.html"))

    async def snapshot(_request: Request) -> JSONResponse:
        return JSONResponse(collector.snapshot().to_json())

    async def events(_request: Request) -> EventSourceResponse:
        shutdown = anyio.Event()  # set by sse-starlette when the server stops

        async def stream() -> AsyncIterator[dict[str, str]]:
            sent = -1
            while not shutdown.is_set():
                if collector.version != sent:
                    sent = collector.version
                    yield {"event": "snapshot", "data": json.dumps(collector.snapshot().to_json())}
                await anyio.sleep(PUSH_CHECK_S)

        return EventSourceResponse(stream(), ping=15, shutdown_event=shutdown,
                                   shutdown_grace_period=1.0)  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        collector.start()
        try:
            yield
        finally:
            collector.stop()

    routes = [
        Route("/", index),
        Route("/api/snapshot", snapshot),
        Route("/api/events", events),
        Mount("/static", StaticFiles(packages=[("labctl.dashboard", "static")]), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def serve(collector: Collector, port: int) -> None:
    """Serve until Ctrl-C (open event streams are closed within 2 s)."""
    config = uvicorn.Config(create_app(collector), host=HOST, port=port, log_level="warning",
                            timeout_graceful_shutdown=2)  # fmt: skip
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled
        uvicorn.Server(config).run()
