"""Architecture 1 as `labctl example run flume-1` runs it: a real agent process, the status
day file through spooldir -> memory -> logger, every record logged once."""

from labctl.cluster import Cluster
from tests.examples.example_helpers import measured, run_example


def test_flume_1_logs_every_record(kafka_cluster: Cluster) -> None:
    report = run_example("flume-1", kafka_cluster)
    assert measured(report, "one logger event per valid record") == "21,601 logged / 21,601 valid"
    assert report.figures["agents"] == 1
