"""Architecture 2 as `labctl example run flume-2` runs it: interceptors and a multiplexing
selector split the driving log by area into Kafka and file_roll; the status flow beside."""

from labctl.cluster import Cluster
from tests.examples.example_helpers import run_example


def test_flume_2_splits_by_area_and_keeps_the_second_flow(kafka_cluster: Cluster) -> None:
    report = run_example("flume-2", kafka_cluster)
    f = report.figures
    assert f["to_kafka"] > 0 and f["to_archive"] > 0
    assert f["to_kafka"] + f["to_archive"] == f["driving_records"]
    assert f["status_records"] == 21_601
