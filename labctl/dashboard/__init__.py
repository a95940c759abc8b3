"""The lab, live: one collector of snapshots, rendered as a web page and in the terminal."""

from labctl.dashboard.collector import Collector
from labctl.dashboard.model import Snapshot

__all__ = ["Collector", "Snapshot"]
