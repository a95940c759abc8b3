"""Apache Flume 1.11 from Maven Central: the reference implementation, for comparison runs."""

from labctl.flume.dist import FLUME_VERSION, FlumeDist, ensure_flume

__all__ = ["FLUME_VERSION", "FlumeDist", "ensure_flume"]
