"""The pilot end to end at small scale: real cluster, real agent process, simulator, checks."""

from __future__ import annotations

from collections.abc import Callable

from labctl.cluster import Cluster
from labctl.pilot import agent as lab_agent
from labctl.pilot.verify import verify


def test_pilot_stages_pass_then_a_deleted_topic_fails_stage2(
    lab_factory: Callable[..., Cluster],
) -> None:
    cluster = lab_factory(brokers=1)
    lab_agent.start(cluster)
    # tail -F must find the log at start, or GNU tail polls it once a second for good
    assert cluster.paths.realtime_log.exists()
    try:
        report = verify(cluster, {1, 2, 3, 4, 5}, cars=2, duration=3, seed=7)
        failed = [c for c in report.checks if not c.ok]
        assert report.ok, failed
        assert report.figures["driving_records"] == report.figures["delivered"] > 0
        assert {c.stage for c in report.checks} == {1, 2, 3, 4, 5}
        admin = cluster.admin()  # kept referenced until the future resolves
        topic = cluster.spec.topic.name
        admin.delete_topics([topic])[topic].result(30)
        broken = verify(cluster, {2})
        assert not broken.ok
        assert any(c.name.endswith("exists") and not c.ok for c in broken.checks)
    finally:
        lab_agent.stop(cluster)
