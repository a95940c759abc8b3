"""Flume's avro source: receives ``append``/``appendBatch`` calls of Flume's Avro RPC (from
another agent's avro sink, ours or Apache Flume's; docs/avro-rpc.md) and answers OK only once
every required channel committed the batch. A refused batch is answered FAILED: the sending
sink rolls back and sends it again (at least once). ``compression-type`` must match the
sender's.

Limits for an open network (``agents.avro._server``): ``threads`` connections at once (Flume
sizes its worker pool with it, unbounded by default; 64 here), frames of ``maxFrameBytes``,
``maxBatchEvents`` events a call, ``maxPendingBytes`` of requests in hand at once, and the
idle and request timeouts. Requests over a limit get Avro's error answer naming it, and one
rate-limited log line.

Exactly-once (docs/exactly-once.md): when an exactly-once Kafka sink is downstream, the
``eos.origin``/``eos.offset`` headers an upstream avro sink sent (``originHeaders``) become the
events' marks again, and a batch is answered OK only once those sinks committed it in Kafka
(``COMMIT_WAIT`` s at most, then FAILED: the sender sends it again, the sink drops what it has).
So the sender never moves past a batch Kafka does not have, whichever aggregator it reaches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agents.avro import COMPRESSIONS, AvroRpcServer
from agents.config.context import Context
from agents.config.settings import prop, shared
from agents.event import EventBatch
from agents.processor import Delivery
from agents.servers import Limits
from agents.sources.listening import (
    ListeningSource,
    ListenSettings,
    check_request_props,
    connection_props,
    request_props,
    tcp_limits,
)

COMMIT_WAIT = 30.0  # s an answer waits for the exactly-once sinks to commit the batch


_LIMITS = connection_props(most="threads", flume=" Flume's default: no limit.")
_REQUESTS = request_props("Frame", " Flume: no limit.")


@dataclass(frozen=True, kw_only=True)
class AvroSourceSettings(ListenSettings):
    max_connections: int = shared(_LIMITS.most)  # Flume's ``threads``
    idle_timeout: int = shared(_LIMITS.idle)
    backlog: int = shared(_LIMITS.backlog)
    max_frame_bytes: int = shared(_REQUESTS.most_bytes)
    max_batch_events: int = shared(_REQUESTS.batch_events)
    max_pending_bytes: int = shared(_REQUESTS.pending_bytes)
    request_timeout: int = shared(_REQUESTS.timeout)
    compression_type: str = prop(
        "compression-type",
        "choice",
        "none",
        "none or deflate; must match the sender's.",
        choices=tuple(COMPRESSIONS),
    )
    ssl: bool = prop("ssl", "bool", False, "TLS: not provided; true is an error.")
    ip_filter: bool = prop(
        "ipFilter", "bool", False, "IP filtering: not provided; true is an error."
    )
    ip_filter_rules: str = prop("ipFilterRules", "str", "", "Accepted with ipFilter = false only.")


class AvroSource(ListeningSource):
    TYPE = "avro"
    CARRIES_MARKS = True  # the origins and positions an upstream sink sent
    SETTINGS = AvroSourceSettings
    PROPERTIES = AvroSourceSettings.props()
    settings: AvroSourceSettings

    def setup(self, context: Context) -> None:
        s = self.settings
        for key, what, on in (("ssl", "TLS", s.ssl), ("ipFilter", "IP filtering", s.ip_filter)):
            if on:
                context.problem(key, f"{what} is not provided by this agent's avro source")
        check_request_props(context, s.max_frame_bytes, s.max_pending_bytes, "Frame")
        self.server: AvroRpcServer | None = None

    def limits(self) -> Limits:
        return tcp_limits(self.settings, self.settings.request_timeout)

    def listen(self) -> None:
        c = self.settings
        self.server = AvroRpcServer(
            self._received,
            c.bind,
            c.port,
            compression=c.compression_type,
            limits=self.limits(),
            max_frame=c.max_frame_bytes,
            max_events=c.max_batch_events,
            budget=c.max_pending_bytes,
            name=self.name,
            bad=self.bad,
            refused=self.refuse,
            on_count=lambda n: self.counters.set("OpenConnectionCount", n),
        )
        self.server.start()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.counters.set("OpenConnectionCount", 0)

    def _received(self, batch: EventBatch) -> bool:
        """The server's handler: True (OK) once every required channel took the batch."""
        if self.origin is not None:
            batch = batch.take_mark_headers()
        sub = self.deliver(batch, hold=False)
        if sub.ok and self.commit_waits and sub.delivery is not None:
            why = self._uncommitted(sub.delivery)
            if why:
                sub.ok, sub.error = False, why
        if not sub.ok:
            self.log.warning("avro %s: answered FAILED to a batch of %d events (%s); the "
                             "sender keeps it and retries", self.name, len(batch),
                             sub.error)  # fmt: skip
        return sub.ok

    def _uncommitted(self, delivery: Delivery) -> str:
        """Wait until the exactly-once sinks committed what each of their channels took; why
        not ('' if they did)."""
        deadline = time.monotonic() + COMMIT_WAIT
        for channel, batch in delivery.routed.items():
            committed = self.commit_waits.get(channel.name)
            if committed is None or batch.marks is None:
                continue
            targets: dict[str, int] = {}
            for origin, offset in batch.marks:
                if origin and offset > targets.get(origin, -1):
                    targets[origin] = offset
            if not committed.wait_for(targets, max(0.0, deadline - time.monotonic())):
                if committed.failure is not None:
                    return f"its exactly-once sink stopped: {committed.failure}"
                return f"not committed in Kafka within {COMMIT_WAIT:.0f} s"
        return ""
