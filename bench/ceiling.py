"""The Python ceiling: the least a Python collector must do, as a program of its own.

    python -m bench.ceiling BOOTSTRAP TOPIC FILE

Reads FILE line by line, keeps lines matching ``^\\d{14}``, produces each (acks=1, the same
librdkafka settings as our agent) and flushes. It connects first, prints "ready", and starts
when a line arrives on stdin, so the bench times the work and not Python's start-up.
"""

from __future__ import annotations

import re
import sys

import confluent_kafka as ck

from bench.dayfile import RECORD


def main(bootstrap: str, topic: str, path: str) -> int:
    producer = ck.Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "1",
            "linger.ms": 5,
            "queue.buffering.max.messages": 1_000_000,
            "log_level": 3,
        }
    )
    producer.list_topics(topic, timeout=10)
    print("ready", flush=True)
    sys.stdin.readline()
    keep = re.compile(RECORD).match
    produce, poll = producer.produce, producer.poll
    count = 0
    with open(path, "rb") as fh:
        for line in fh:
            if not keep(line):
                continue
            while True:
                try:
                    produce(topic, line[:-1])
                    break
                except BufferError:
                    poll(0.01)
            count += 1
            if count % 10_000 == 0:
                poll(0)
    left = producer.flush(60)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
