"""Flume's avro source: receives ``append``/``appendBatch`` calls of Flume's Avro RPC (from
another agent's avro sink, ours or Apache Flume's; docs/avro-rpc.md) and answers OK only once
every required channel committed the batch. A refused batch is answered FAILED: the sending
sink rolls back and sends it again (at least once). ``threads`` caps the connections served at
once (0: no cap; Flume sizes its worker pool with it); ``compression-type`` must match the
sender's.
"""

from __future__ import annotations

from agents.avro import COMPRESSIONS, AvroRpcServer
from agents.config.spec import Prop
from agents.event import EventBatch
from agents.sources.listening import ListeningSource, bind_prop, port_prop


class AvroSource(ListeningSource):
    TYPE = "avro"
    PROPERTIES = (
        bind_prop(),
        port_prop(),
        Prop("threads", "int", 0, "Most connections served at once (0: no limit).", minimum=0),
        Prop(
            "compression-type",
            "choice",
            "none",
            "none or deflate; must match the sender's.",
            choices=tuple(COMPRESSIONS),
        ),
        Prop("ssl", "bool", False, "TLS: not provided; true is an error."),
        Prop("ipFilter", "bool", False, "IP filtering: not provided; true is an error."),
        Prop("ipFilterRules", "str", "", "Accepted with ipFilter = false only."),
    )

    def setup(self, context) -> None:  # type: ignore[no-untyped-def]
        for key, what in (("ssl", "TLS"), ("ipFilter", "IP filtering")):
            if self.conf[key]:
                context.problem(key, f"{what} is not provided by this agent's avro source")
        self.server: AvroRpcServer | None = None

    def listen(self) -> None:
        self.server = AvroRpcServer(
            self._received,
            self.conf["bind"],
            self.conf["port"],
            compression=self.conf["compression-type"],
            max_connections=self.conf["threads"],
            name=self.name,
        )
        self.server.start()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.counters.set("OpenConnectionCount", 0)

    def _received(self, batch: EventBatch) -> bool:
        """The server's handler: True (OK) once every required channel took the batch."""
        assert self.server is not None
        self.counters.set("OpenConnectionCount", self.server.stats.connections_open)
        sub = self.deliver(batch, hold=False)
        if not sub.ok:
            self.log.warning("avro %s: answered FAILED to a batch of %d events (%s); the "
                             "sender keeps it and retries", self.name, len(batch),
                             sub.error)  # fmt: skip
        return sub.ok
