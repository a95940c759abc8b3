"""Apache Kafka and ZooKeeper as the lab runs them: the pinned distribution from Maven Central,
the servers' configs, and ZooKeeper's four-letter words."""
