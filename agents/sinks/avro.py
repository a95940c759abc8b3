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

from agents.avro import COMPRESSIONS, AvroRpcClient, AvroRpcError
from agents.config.context import Context
from agents.config.spec import Prop
from agents.event import EventBatch
from agents.sinks.simple import BatchSink


class AvroSink(BatchSink):
    TYPE = "avro"
    PROPERTIES = (
        Prop("hostname", "str", doc="Host of the next agent's avro source."),
        Prop("port", "int", doc="Its port.", minimum=1),
        Prop("batch-size", "int", 100, "Most events taken and sent per call.", minimum=1),
        Prop("connect-timeout", "int", 20000, "Milliseconds to wait for a connection.", minimum=1),
        Prop("request-timeout", "int", 20000, "Milliseconds to wait for an answer.", minimum=1),
        Prop(
            "reset-connection-interval",
            "int",
            0,
            "Seconds after which the connection is closed and opened again (0: never).",
            minimum=0,
        ),
        Prop(
            "compression-type",
            "choice",
            "none",
            "none or deflate; must match the source's.",
            choices=tuple(COMPRESSIONS),
        ),
        Prop("compression-level", "int", 6, "deflate level, 0 (none) to 9.", minimum=0),
        Prop("ssl", "bool", False, "TLS: not provided; true is an error."),
        Prop("maxIoWorkers", "int", 0, "Accepted for compatibility; one connection a sink."),
        Prop(
            "originHeaders",
            "bool",
            False,
            "Ours: send each event's origin (agent/source/stream) and read position as headers "
            "eos.origin and eos.offset, for an exactly-once Kafka sink in a later agent.",
        ),
    )

    def setup(self, context: Context) -> None:
        self.conf["batchSize"] = self.conf["batch-size"]
        if self.conf["ssl"]:
            context.problem("ssl", "TLS is not provided by this agent's avro sink")
        if self.conf["compression-level"] > 9:
            context.problem("compression-level", "must be between 0 and 9")
        self.client: AvroRpcClient | None = None

    def start(self) -> None:
        c = self.conf
        self.client = AvroRpcClient(
            c["hostname"],
            c["port"],
            compression=c["compression-type"],
            compression_level=c["compression-level"],
            connect_timeout=c["connect-timeout"] / 1000,
            request_timeout=c["request-timeout"] / 1000,
        )
        self._opened = time.monotonic()
        self._connections = 0
        super().start()

    def write(self, batch: EventBatch) -> None:
        client = self.client
        assert client is not None
        interval = self.conf["reset-connection-interval"]
        if interval and time.monotonic() - self._opened >= interval:
            client.close()
            self._opened = time.monotonic()
        if self.conf["originHeaders"]:
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
