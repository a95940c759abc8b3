"""The five pilot stages in the book's terms: what `labctl explain` prints and verify checks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    number: int
    title: str
    what: str
    who: tuple[tuple[str, str], ...]  # (component, its job)
    check: str


STAGES = (
    Stage(1, "Collection architecture",
          "Requirements become components: status files arrive once a day as batch files, "
          "driving logs arrive continuously, and malformed lines must not travel on.",
          (("spooldir source", "reads each status file handed into car-batch-log"),
           ("exec tail -F source", "follows the real-time driving log"),
           ("regex_filter ^\\d{14}", "keeps only lines that start with a 14-digit time"),
           ("memory channels", "buffer events between sources and sinks"),
           ("logger sink", "shows the status events (the book's first target)"),
           ("Kafka sink", "publishes driving events to SmartCar-Topic")),
          "the agent's config realises this design"),
    Stage(2, "Environment",
          "Install and start the collector and the message broker, and create the topic.",
          (("ZooKeeper (or KRaft controllers)", "coordinate the brokers"),
           ("Kafka brokers", "store SmartCar-Topic"),
           ("python -m agents", "this lab's Flume: SmartCar_Agent")),
          "quorum healthy, brokers and controller in metadata, topic with leaders and full "
          "ISR, agent up, working directories writable"),
    Stage(3, "Flume collection",
          "A day's status file is moved into the spool directory; the agent reads it, drops "
          "the header lines and logs every record.",
          (("simulator car-status", "writes SmartCarStatusInfo_<date>.txt"),
           ("spooldir + regex_filter", "read and filter it"),
           ("logger sink", "prints one event per record")),
          "the file is consumed, exactly one logged event per valid record, no header"),
    Stage(4, "Kafka collection",
          "Driving records appended to the real-time log are published to SmartCar-Topic; a "
          "console consumer shows them.",
          (("simulator driver", "appends SmartCarDriverInfo.log in real time"),
           ("exec tail -F + regex_filter", "pick the new lines up"),
           ("Kafka sink", "publishes them"), ("labctl consume", "the console consumer")),
          "the records arrive in the topic byte for byte"),
    Stage(5, "Collection test",
          "Both simulators run at once, as in production; everything generated must arrive, "
          "once, unaltered, with no garbage.",
          (("both simulators", "the day file and 60 s of driving for 100 cars"),
           ("the manifests", "what was generated: counts and a digest"),
           ("labctl verify", "reads the topic and the logs and compares")),
          "0 missing, 0 duplicates, 0 altered, 0 garbage, order per car, latency, throughput"),
)  # fmt: skip
