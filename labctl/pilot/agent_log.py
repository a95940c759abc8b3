"""What the pilot's logger sink printed in the agent's log (stage 3 counts it)."""

from __future__ import annotations

from pathlib import Path

EVENT_MARK = "[SmartCarInfo_LoggerSink] Event: "


def logger_events(log: Path, start: int) -> tuple[int, int]:
    """(events, header lines) the logger sink printed after byte *start* of the agent log."""
    events = headers = 0
    with open(log, "rb") as fh:
        fh.seek(start)
        for line in fh:
            text = line.decode("utf-8", "replace")
            if EVENT_MARK in text:
                events += 1
                if "SmartCar Status" in text or "Status Informa" in text:
                    headers += 1
    return events, headers
