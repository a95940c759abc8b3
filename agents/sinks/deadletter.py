"""Records a destination refuses for good, set aside instead of stalling the flow.

A record Kafka will never take (too large, an invalid topic, not authorised) would be rolled
back and sent again forever, and nothing after it would move. A sink hands such a record to
``DeadLetters`` instead: one JSON line in ``<state dir>/dead-letter/<sink>.jsonl`` (time,
topic, error, headers, and the body as text, or as base64 when it is not UTF-8), one log
line, and ``DeadLetterCount`` in the sink's metrics. The file is appended to and fsynced
before the batch is committed, so a dead letter is never lost either.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from pathlib import Path

from agents.counters import Counters


class DeadLetters:
    def __init__(self, path: Path, counters: Counters, log: logging.Logger) -> None:
        self.path = path
        self.counters = counters
        self.log = log
        counters.values.setdefault("DeadLetterCount", 0)

    def put(
        self, topic: str, body: bytes, error: str, headers: dict[str, str] | None = None
    ) -> None:
        record: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "topic": topic,
            "error": error,
            "headers": headers or {},
        }
        try:
            record["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            record["body_base64"] = base64.b64encode(body).decode("ascii")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:
            fh.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.counters.add("DeadLetterCount")
        self.counters.error(f"record refused for good ({error}); in {self.path}")
        self.log.error(
            "a record of %d bytes for topic %s was refused for good (%s); set aside in the "
            "dead-letter file %s",
            len(body),
            topic,
            error,
            self.path,
        )
