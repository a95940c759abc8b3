"""The Apache Kafka distribution the lab runs, resolved from Maven Central."""
