"""Flume's Avro RPC (``AvroSourceProtocol`` over Avro's Netty framing), both ways.

``AvroRpcClient(host, port).append_batch(batch)`` returns once the server answered OK;
``AvroRpcServer(handler).start()`` answers OK only when ``handler(batch)`` returned True.
Both speak to Apache Flume's avro sink and source, with or without deflate compression.
See docs/avro-rpc.md for the wire details.
"""

from agents.avro._client import AvroRpcClient
from agents.avro._protocol import FLUME_PROTOCOL_MD5, PROTOCOL_JSON, encode_event
from agents.avro._server import (
    DEFAULT_BUDGET,
    DEFAULT_MAX_EVENTS,
    AvroRpcServer,
    BatchHandler,
    ServerStats,
)
from agents.avro._transport import COMPRESSIONS, DEFAULT_MAX_FRAME
from agents.avro.errors import AvroProtocolError, AvroRefusedError, AvroRpcError

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_BUDGET",
    "DEFAULT_MAX_EVENTS",
    "DEFAULT_MAX_FRAME",
    "FLUME_PROTOCOL_MD5",
    "PROTOCOL_JSON",
    "AvroProtocolError",
    "AvroRefusedError",
    "AvroRpcClient",
    "AvroRpcError",
    "AvroRpcServer",
    "BatchHandler",
    "ServerStats",
    "encode_event",
]
