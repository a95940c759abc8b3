"""Architecture 4 as `labctl example run flume-4` runs it: six agent processes, collectors
1-4 -> aggregator 5 over Avro RPC with standby 6; aggregator 5 SIGKILLed mid-run; every
record in Kafka at least once, duplicates counted."""

from labctl.cluster import Cluster
from tests.examples.example_helpers import measured, run_example


def test_flume_4_survives_the_aggregator(kafka_cluster: Cluster) -> None:
    report = run_example("flume-4", kafka_cluster)
    assert report.figures["records"] == 4 * 21_601 and report.figures["agents"] == 6
    read = measured(report, "every record in Kafka at least once")
    assert ": 0 missing, " in read and read.endswith(" 0 unexpected")
    assert measured(report, "every collector failed over") == "4 of 4 collectors"
    # the duplicates reported are exactly the records read beyond one of each
    got = int(read.split(" for ")[0].replace(",", ""))
    assert got == report.figures["records"] + report.figures["duplicates"], read


def test_flume_4_exactly_once_writes_every_record_once(kafka_cluster: Cluster) -> None:
    """`labctl example run flume-4 --exactly-once`: aggregator 5 SIGKILLed all the same; read
    committed, 0 missing and 0 duplicates."""
    report = run_example("flume-4", kafka_cluster, exactly_once=True)
    assert report.figures["exactly_once"] is True
    read = measured(report, "every record in Kafka exactly once (read committed)")
    assert read == f"{4 * 21_601:,} for {4 * 21_601:,}: 0 missing, 0 duplicates, 0 unexpected"
    assert report.figures["duplicates"] == 0
    assert measured(report, "every collector failed over") == "4 of 4 collectors"
