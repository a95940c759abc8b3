"""Architecture 3 as `labctl example run flume-3` runs it: a failover group of two Kafka sinks
bound to two brokers; broker 0 is SIGKILLed mid-run and no record is lost."""

from collections.abc import Callable

from labctl.cluster import Cluster
from tests.examples.example_helpers import measured, run_example


def test_flume_3_fails_over_when_the_primary_broker_dies(
    lab_factory: Callable[..., Cluster],
) -> None:
    cluster = lab_factory(brokers=2)
    report = run_example("flume-3", cluster)
    assert report.figures["records"] == 3 * 21_601
    assert ": 0 missing, " in measured(report, "every record in Kafka")
    assert measured(report, "the primary failed over").startswith("retrying: failed over")
    assert cluster.backend.not_running() == []  # broker 0 was started again
