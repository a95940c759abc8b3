"""The lab's side of exactly-once: a one-broker lab's transaction log, and `labctl consume
--isolation` showing what a read_committed reader sees and what it does not."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import confluent_kafka as ck

from labctl.cluster import Cluster
from labctl.kafka.config import Loopback, server_properties
from labctl.spec import ClusterSpec
from tests.labctl.test_cli import labctl


def test_the_transaction_log_fits_the_brokers_there_are() -> None:
    for brokers, rf, isr in ((1, 1, 1), (2, 2, 2), (3, 3, 2), (5, 3, 2)):
        spec = ClusterSpec(brokers, 19000, 19100)
        text = server_properties(spec, "broker-0", Loopback(Path("/tmp/lab")))
        assert f"transaction.state.log.replication.factor={rf}\n" in text
        assert f"transaction.state.log.min.isr={isr}\n" in text


def test_consume_isolation_shows_committed_records_only_or_aborted_ones_too(
    lab_factory: Callable[..., Cluster],
) -> None:
    cluster = lab_factory(brokers=1)
    topic = f"eos-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, 1, 1)
    producer = ck.Producer({**cluster.client_config(), "transactional.id": topic})
    producer.init_transactions(30)  # at once: the one broker holds the transaction log
    producer.begin_transaction()
    producer.produce(topic, b"committed")
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, b"aborted")
    producer.flush(30)
    producer.abort_transaction(30)
    home = str(cluster.paths.home)
    read = {}
    for isolation in ("read_committed", "read_uncommitted"):
        read[isolation] = labctl("consume", topic, "--from-beginning", "--idle-timeout", "3",
                                 "--isolation", isolation, "--home", home)  # fmt: skip
    assert read["read_committed"].returncode == 0, read["read_committed"].stderr
    assert read["read_committed"].stdout.split() == ["committed"]
    assert read["read_uncommitted"].stdout.split() == ["committed", "aborted"]


def test_explain_exactly_once_in_the_books_terms() -> None:
    result = labctl("explain", "exactly-once")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.replace("│", " ").split())
    for said in ("The book's pilot is at-least-once", "tail -F", "TAILDIR source",
                 "exactlyOnce = true", "isolation.level=read_committed",
                 "labctl pilot --exactly-once --kill-agent-at 50%",
                 "labctl example run flume-4 --exactly-once"):  # fmt: skip
        assert said in text, said
