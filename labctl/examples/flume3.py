"""Architecture 3: one source, a durable file channel and a failover group of two Kafka sinks,
each bound to its own broker; the active broker is SIGKILLed mid-run and nothing is lost."""

from __future__ import annotations

from labctl.examples.base import Example, ExampleRun, Scale, consumed, status_day, wait

DAYS = ("20160101", "20160102", "20160103")


class Flume3(Example):
    number = 3
    name = "flume-3"
    title = "file channel + failover group of two Kafka sinks on two brokers; broker 0 killed"
    figure = "the seed's Flume architecture 3 (sink group: performance and availability)"
    brokers = 2
    roles = ("agent",)

    def run(self, run: ExampleRun, scale: Scale) -> None:
        primary = run.topic("primary", replicas=[0])  # lives on broker 0 only
        standby = run.topic("standby", replicas=[1])  # lives on broker 1 only
        spool = run.working("spool")
        run.start(
            "agent", "flume-3.conf", "flume3", {"PRIMARY_TOPIC": primary, "STANDBY_TOPIC": standby}
        )
        records = status_day(run, DAYS[0], scale, spool)
        drained = lambda sink: run.counter("agent", f"SINK.{sink}", "EventDrainSuccessCount")  # noqa: E731
        wait("the primary sink to deliver", lambda: drained("primary") > 0, timeout=60)
        first = len(records)
        records += status_day(run, DAYS[1], scale, spool)  # the run goes on: kill mid-file
        wait(
            "the primary sink to start on the second file",
            lambda: drained("primary") > first,
            timeout=60,
            step=0.02,
        )
        before = drained("primary")
        run.progress(f"SIGKILL broker-0 (the primary sink had delivered {before:,})")
        run.cluster.kill("broker-0")
        records += status_day(run, DAYS[2], scale, spool)
        channel = "CHANNEL.fc"
        wait("the standby sink to take over", lambda: drained("standby") > 0, timeout=90)
        wait(
            "the channel to drain through the standby",
            lambda: run.counter("agent", channel, "ChannelSize") == 0 and consumed(spool),
            timeout=120 + len(records) / 2000,
        )
        health = run.metrics("agent")["SINK.primary"]["Health"]
        run.progress("starting broker-0 again to read what it holds")
        run.cluster.up()
        run.wait_leader(primary)
        got = [v for v, _ in run.read_topic(primary, 0, idle=5)]
        got += [v for v, _ in run.read_topic(standby, len(records) - len(got))]
        dups = run.check_records("every record in Kafka (primary + standby)", records, got,
                                 once=False, why_duplicates="a batch in flight when the "
                                 "broker died may be sent twice")  # fmt: skip
        r = run.report
        r.add(
            3,
            "the primary failed over while broker 0 was down",
            health.startswith("retrying: failed over"),
            health,
        )
        r.add(
            3,
            "the standby delivered the rest",
            drained("standby") > 0,
            f"primary {drained('primary'):,}, standby {drained('standby'):,} delivered",
        )
        r.figures.update(
            records=len(records),
            duplicates=dups,
            killed_after=before,
            primary_topic=primary,
            standby_topic=standby,
        )
