"""Architecture 1: the simplest agent, the pilot's spooldir -> memory -> logger."""

from __future__ import annotations

from labctl.examples.base import Example, ExampleRun, Scale, consumed, status_day, wait

EVENT = b"] Event: { headers:"


class Flume1(Example):
    number = 1
    name = "flume-1"
    title = "spooldir -> memory -> logger: the pilot's status flow"
    figure = "the seed's Flume architecture 1 (source -> channel -> sink)"
    roles = ("agent",)

    def run(self, run: ExampleRun, scale: Scale) -> None:
        spool = run.working("spool")
        run.start("agent", "flume-1.conf", "flume1")
        log = run.log("agent")
        offset = log.stat().st_size if log.exists() else 0
        records = status_day(run, "20160101", scale, spool)
        run.progress(f"{len(records):,} status records handed to {spool}")

        def logged() -> list[bytes]:
            with open(log, "rb") as fh:
                fh.seek(offset)
                return [line for line in fh if b"[log" + EVENT in line]

        wait(
            "the logger sink to log every record",
            lambda: len(logged()) >= len(records),
            timeout=60 + len(records) / 2000,
        )
        wait("the spool file to be consumed", lambda: consumed(spool), timeout=30)
        events = logged()
        wrong = sum(1 for line in events if b"SmartCar Status" in line or b"Status Inform" in line)
        firsts = sorted(r[:16] for r in records)  # the logger shows 16 bytes of each body
        shown = sorted(_shown(line) for line in events)
        r = run.report
        r.add(
            1,
            "one logger event per valid record",
            len(events) == len(records),
            f"{len(events):,} logged / {len(records):,} valid",
        )
        r.add(
            1,
            "the cars' header lines filtered out",
            wrong == 0,
            f"{wrong} header lines logged",
            "the regex_filter interceptor let a header line through",
        )
        r.add(
            1,
            "the logged bodies are the records (first 16 bytes)",
            shown == firsts,
            "all match" if shown == firsts else "bodies differ",
        )
        r.add(1, "the spool file consumed and deleted", consumed(spool), "spool dir empty")
        r.figures.update(records=len(records), agents=1)


def _shown(line: bytes) -> bytes:
    """The text column of a logger line: the body's first 16 bytes (dots for the others)."""
    body = line.rstrip(b"\n").rsplit(b" }", 1)[0]
    return body[-16:]
