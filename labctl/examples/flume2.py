"""Architecture 2: interceptors and a multiplexing selector split the driving stream by the
car's area (A-C to Kafka, D-F to a file_roll archive), beside a second flow (status files)."""

from __future__ import annotations

import re
import threading

from labctl.examples.base import (
    RECORD,
    Example,
    ExampleRun,
    Scale,
    lines_under,
    status_day,
    wait,
)
from simulator.driver import run_driver

AREA = re.compile(rb",([A-F])\d{2}$")
TO_KAFKA = {b"A", b"B", b"C"}


class Flume2(Example):
    number = 2
    name = "flume-2"
    title = "interceptors + multiplexing selector (area A-C to Kafka, D-F to file_roll) + a flow"
    figure = "the seed's Flume architecture 2 (interceptors, selector, two flows in one agent)"
    brokers = 1
    roles = ("agent",)

    def run(self, run: ExampleRun, scale: Scale) -> None:
        topic = run.topic("areas-abc")
        driving = run.working("driving") / "SmartCarDriverInfo.log"
        driving.touch()
        spool = run.working("spool")
        run.start("agent", "flume-2.conf", "flume2", {"EXAMPLE_TOPIC": topic})
        per_car = 300
        run.progress(f"writing {per_car * scale.cars * 5:,} driving records and a status day")
        writer = threading.Thread(
            target=run_driver,
            kwargs=dict(
                date="20160101",
                cars=scale.cars * 5,
                out=driving,
                rate=500.0,
                records=per_car * scale.cars * 5,
                seed=scale.seed,
                garbage_rate=0.01,
            ),
        )
        writer.start()
        status = status_day(run, "20160101", scale, spool)
        writer.join()
        lines = driving.read_bytes().splitlines()
        valid = [line for line in lines if RECORD.match(line)]
        kafka_want = [v for v in valid if _area(v) in TO_KAFKA]
        archive_want = [v for v in valid if _area(v) not in TO_KAFKA]
        state = run.state("agent")
        wait(
            "the status flow",
            lambda: len(lines_under(state / "status")) >= len(status),
            timeout=60 + len(status) / 2000,
        )
        wait(
            "the archive",
            lambda: len(lines_under(state / "archive")) >= len(archive_want),
            timeout=60,
        )
        got = run.read_topic(topic, len(kafka_want))
        r = run.report
        run.check_records("areas A-C in Kafka, each record once", kafka_want, [v for v, _ in got])
        headers = {h.get("area", "").encode() for _, h in got}
        r.add(2, "the area header went along to Kafka", headers <= TO_KAFKA and bool(headers),
              f"areas in Kafka headers: {b','.join(sorted(headers)).decode()}")  # fmt: skip
        archived = lines_under(state / "archive")
        run.check_records("areas D-F in the file_roll archive, each once", archive_want, archived)
        delivered = [v for v, _ in got] + archived
        garbage = len(lines) - len(valid) - scale.cars * 5  # minus the cars' header lines
        leaked = sum(1 for v in delivered if not RECORD.match(v))
        r.add(2, "garbage lines dropped by regex_filter", leaked == 0,
              f"{garbage} garbage lines in the log, {leaked} delivered")  # fmt: skip
        stored = lines_under(state / "status")
        run.check_records("second flow: every status record in its folder once", status, stored)
        r.figures.update(
            driving_records=len(valid),
            to_kafka=len(kafka_want),
            to_archive=len(archive_want),
            status_records=len(status),
            topic=topic,
        )


def _area(line: bytes) -> bytes:
    m = AREA.search(line)
    return m.group(1) if m else b""
