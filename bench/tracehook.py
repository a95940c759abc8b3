"""Run our agent with a clock at every hop of the live path (``python -m bench trace``).

    python -m bench.tracehook OUT -- <the agent's arguments>

Patches, in this process only and before the agent starts, the points a line passes:
``LineReader.read`` (the source has the bytes: exec's pipe read, TAILDIR's ``pread``), the
memory channel's put commit and take, ``BatchProducer.send`` (records handed to
librdkafka) and the batch's delivery reports served (``Tracker.done``). Each record is
``(hop, seconds since the epoch, first line, last line)``; the line numbers are the bench's
(the last comma field of each line ``bench.realtime`` writes). Besides: every garbage
collection (``gc.callbacks``), how long the sink's takes waited and what woke them, and
TAILDIR's position writes. All of it is appended to memory and written to *OUT* (JSON lines)
when the agent exits. Nothing here is imported by the agent itself: the agent runs unchanged
unless started through this module.
"""

from __future__ import annotations

import atexit
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

Record = tuple[Any, ...]


def _seq(body: bytes) -> int:
    try:
        return int(body.rsplit(b",", 1)[1])
    except (IndexError, ValueError):
        return -1


def install(out: Path) -> None:
    """Patch the hops; write what was recorded to *out* at exit."""
    from agents.channels.memory import MemoryChannel
    from agents.sinks.kafka_producer import BatchProducer, Tracker
    from agents.sources.reader import LineReader

    records: list[Record] = []
    add = records.append
    now = time.time

    read = LineReader.read

    def traced_read(self: LineReader, chunk: bytes) -> Any:
        t = now()
        batches = read(self, chunk)
        for batch, _ in batches:
            add(("read", t, _seq(batch.bodies[0]), _seq(batch.bodies[-1])))
        return batches

    LineReader.read = traced_read  # type: ignore[method-assign]

    commit_put = MemoryChannel._commit_put

    def traced_put(self: MemoryChannel, batches: Any, events: int, nbytes: int) -> None:
        commit_put(self, batches, events, nbytes)
        t = now()
        for batch, _ in batches:
            add(("put", t, _seq(batch.bodies[0]), _seq(batch.bodies[-1])))

    MemoryChannel._commit_put = traced_put  # type: ignore[method-assign]

    take = MemoryChannel._take

    def traced_take(self: MemoryChannel, max_events: int, timeout: float | None) -> Any:
        t0 = now()
        empty = not self._queue
        batch, parts = take(self, max_events, timeout)
        t = now()
        if len(batch):
            add(("take", t, _seq(batch.bodies[0]), _seq(batch.bodies[-1])))
        # how long a take that found nothing waited, and whether a put ended the wait
        add(("take_wait", t0, t - t0, len(batch), empty))
        return batch, parts

    MemoryChannel._take = traced_take  # type: ignore[method-assign]

    send = BatchProducer.send
    pending: dict[int, tuple[int, int]] = {}

    def traced_send(self: BatchProducer, batch: Any, tracker: Tracker) -> None:
        first, last = _seq(batch.bodies[0]), _seq(batch.bodies[-1])
        pending[id(tracker)] = (first, last)
        t = now()
        send(self, batch, tracker)
        add(("produce", t, first, last))
        add(("produced", now(), first, last))

    BatchProducer.send = traced_send  # type: ignore[method-assign]

    done = Tracker.done

    def traced_done(self: Tracker) -> None:
        span = pending.pop(id(self), None)
        if span is not None:
            add(("acked", now(), *span))
        done(self)

    Tracker.done = traced_done  # type: ignore[method-assign]

    gc_began: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_began[0] = now()
        else:
            add(("gc", gc_began[0], now() - gc_began[0], info["generation"]))

    gc.callbacks.append(on_gc)

    try:
        from agents.sources.taildir import TaildirSource
    except ImportError:  # pragma: no cover - the agent always has it
        pass
    else:
        write_positions = TaildirSource._write_positions

        def traced_write(self: TaildirSource, *args: Any, **kwargs: Any) -> None:
            t = now()
            write_positions(self, *args, **kwargs)
            add(("positions", t, now() - t))

        TaildirSource._write_positions = traced_write  # type: ignore[method-assign]

    def dump() -> None:
        with out.open("w") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")

    atexit.register(dump)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    install(Path(argv[0]))
    from agents.__main__ import main as agent_main

    return agent_main(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
