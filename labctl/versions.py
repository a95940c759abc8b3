"""The pinned versions of what the lab runs and compares with (a module of its own so that the
lab's spec, the image and the distributions all read them without importing one another)."""

KAFKA_VERSION = "3.9.1"  # the last line that runs with ZooKeeper, as the book's cluster does
FLUME_VERSION = "1.11.0"  # Apache Flume, the reference the agent is compared with
