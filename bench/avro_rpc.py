"""Micro-benchmark of Flume's Avro RPC here: codec cost and loopback throughput per batch.

1000-event batches of 100-byte bodies with one shared header map:
1. encoding one ``appendBatch`` parameter (array<AvroFlumeEvent>) with fastavro and with
   our batch encoder (the one the client uses), and decoding it with fastavro and with our
   bounded decoder (the one the server uses);
2. AvroRpcClient -> AvroRpcServer on 127.0.0.1 (handler returns OK at once), compression
   none and deflate: events/s and ms per appendBatch round trip.

Run with ``python -m bench avro_rpc``. One run on a shared machine: compare rows.
"""

from __future__ import annotations

import io
import time

from agents.avro import AvroRpcClient, AvroRpcServer
from agents.avro import _protocol as p
from agents.event import EventBatch
from bench.options import Options

BATCH = 1000
ROUNDS = 200


def run(options: Options | None = None) -> None:
    """Print the figures (``options`` is not used: one size fits)."""
    batch = EventBatch([b"%012d," % i + b"x" * 87 for i in range(BATCH)], {"topic": "SmartCar"})
    print(f"avro rpc: {ROUNDS} x appendBatch of {BATCH} events x 100 B (machine shared)")
    t0 = time.perf_counter()
    for _ in range(ROUNDS):
        out = io.BytesIO()
        p.write(out, p.EVENTS, p.batch_to_events(batch))
    fast = (time.perf_counter() - t0) / ROUNDS
    t0 = time.perf_counter()
    for _ in range(ROUNDS):
        data = p.encode_events(batch)
    enc = (time.perf_counter() - t0) / ROUNDS
    assert data == out.getvalue()
    t0 = time.perf_counter()
    for _ in range(ROUNDS):
        p.events_to_batch(p.read(io.BytesIO(data), p.EVENTS))
    dec = (time.perf_counter() - t0) / ROUNDS
    t0 = time.perf_counter()
    for _ in range(ROUNDS):
        p.In(data).events(BATCH)
    ours = (time.perf_counter() - t0) / ROUNDS
    print(f"  encode: fastavro {fast * 1000:.3f} ms, ours (used) {enc * 1000:.3f} ms; "
          f"decode to an EventBatch: fastavro {dec * 1000:.3f} ms, ours (bounded, used) "
          f"{ours * 1000:.3f} ms per batch ({len(data):,} bytes)")  # fmt: skip
    for compression in ("none", "deflate"):
        with AvroRpcServer(lambda b: True, compression=compression) as server:
            client = AvroRpcClient("127.0.0.1", server.port, compression=compression)
            client.ping()
            t0 = time.perf_counter()
            for _ in range(ROUNDS):
                client.append_batch(batch)
            secs = time.perf_counter() - t0
            client.close()
        print(f"  loopback, compression {compression:<8} {ROUNDS * BATCH / secs:>10,.0f} ev/s  "
              f"{secs / ROUNDS * 1000:.3f} ms per appendBatch")  # fmt: skip
