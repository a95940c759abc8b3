"""Flume's avro sink: sends each batch to the next agent's avro source (ours or Apache Flume's)
in one ``appendBatch`` call of Flume's Avro RPC (docs/avro-rpc.md), and commits its channel
transaction only when that source answered OK, i.e. after the next hop's channels committed
it. Anything else (cannot connect, no answer within ``request-timeout``, FAILED) rolls the
batch back and raises ``DeliveryError``: the channel keeps the events, a failover group moves
on to its next sink, and a retry may deliver a batch twice (at least once, as Flume).
One connection, opened on first use and again after any failure (and every
``reset-connection-interval`` seconds if set, to rebalance behind a load balancer).
With ``originHeaders = true`` each event from a replayable source (spooldir, TAILDIR) also
carries its origin and read position (headers ``eos.origin``, ``eos.offset``), so an
exactly-once Kafka sink further on writes it once (docs/exactly-once.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agents.avro import COMPRESSIONS, AvroRpcClient, AvroRpcError
from agents.config.context import Context
from agents.config.settings import Settings, prop
from agents.event import EventBatch
from agents.sinks.simple import BatchSink


@dataclass(frozen=True, kw_only=True)
class AvroSinkSettings(Settings):
    hostname: str = prop("hostname", "str", doc="Host of the next agent's avro source.")
    port: int = prop("port", "int", doc="Its port.", minimum=1)
    batch_size: int = prop(
        "batch-size", "int", 100, "Most events taken and sent per call.", minimum=1
    )
    connect_timeout: int = prop(
        "connect-timeout", "int", 20000, "Milliseconds to wait for a connection.", minimum=1
    )
    request_timeout: int = prop(
        "request-timeout", "int", 20000, "Milliseconds to wait for an answer.", minimum=1
    )
    reset_connection_interval: int = prop(
        "reset-connection-interval",
        "int",
        0,
        "Seconds after which the connection is closed and opened again (0: never).",
        minimum=0,
    )
    compression_type: str = prop(
        "compression-type",
        "choice",
        "none",
        "none or deflate; must match the source's.",
        choices=tuple(COMPRESSIONS),
    )
    compression_level: int = prop(
        "compression-level", "int", 6, "deflate level, 0 (none) to 9.", minimum=0
    )
    ssl: bool = prop("ssl", "bool", False, "TLS: not provided; true is an error.")
    max_io_workers: int = prop(
        "maxIoWorkers", "int", 0, "Accepted for compatibility; one connection a sink."
    )
    origin_headers: bool = prop(
        "originHeaders",
        "bool",
        False,
        "Ours: send each event's origin (agent/source/stream) and read position as headers "
        "eos.origin and eos.offset, for an exactly-once Kafka sink in a later agent.",
    )


class AvroSink(BatchSink):
    TYPE = "avro"
    SETTINGS = AvroSinkSettings
    PROPERTIES = AvroSinkSettings.props()
    settings: AvroSinkSettings

    def setup(self, context: Context) -> None:
        if self.settings.ssl:
            context.problem("ssl", "TLS is not provided by this agent's avro sink")
        if self.settings.compression_level > 9:
            context.problem("compression-level", "must be between 0 and 9")
        self.client: AvroRpcClient | None = None

    def forwards_marks(self) -> bool:
        return self.settings.origin_headers

    def start(self) -> None:
        c = self.settings
        self.client = AvroRpcClient(
            c.hostname,
            c.port,
            compression=c.compression_type,
            compression_level=c.compression_level,
            connect_timeout=c.connect_timeout / 1000,
            request_timeout=c.request_timeout / 1000,
        )
        self._opened = time.monotonic()
        self._connections = 0
        super().start()

    def write(self, batch: EventBatch) -> None:
        client = self.client
        assert client is not None
        interval = self.settings.reset_connection_interval
        if interval and time.monotonic() - self._opened >= interval:
            client.close()
            self._opened = time.monotonic()
        if self.settings.origin_headers:
            batch = batch.with_mark_headers()
        try:
            client.append_batch(batch)
        except AvroRpcError as exc:
            if "cannot connect" in str(exc):
                self.counters.add("ConnectionFailedCount")
            raise
        finally:
            if client.connections != self._connections:
                self.counters.add("ConnectionCreatedCount", client.connections - self._connections)
                self._connections = client.connections
                self._opened = time.monotonic()

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.counters.add("ConnectionClosedCount")
        super().stop()
