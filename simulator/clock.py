"""Dates and the simulated clock: ``yyyyMMddHHmmss`` timestamps, always valid."""

from __future__ import annotations

from datetime import date, datetime, timedelta

DAY_SECONDS = 86_400
STATUS_STEP = 4
STATUS_STEPS = DAY_SECONDS // STATUS_STEP + 1  # 21,601: the book's count, last one 23:59:59


class DateError(ValueError):
    """A ``--date`` that is not a real ``yyyyMMdd`` day."""


def parse_date(text: str) -> date:
    """``"20160101"`` -> ``date(2016, 1, 1)``; anything else raises :class:`DateError`."""
    if len(text) != 8 or not text.isdigit():
        raise DateError(f"invalid date {text!r}: expected YYYYMMDD, e.g. 20160101")
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise DateError(f"invalid date {text!r}: no such day") from None


def status_seconds(step: int) -> int:
    """Second of the day of status step ``step``: every 4 s, the last step clamped to 23:59:59.

    21,601 steps of 4 s from 00:00:00 would end on the book's invalid ``240000``.
    """
    return min(step * STATUS_STEP, DAY_SECONDS - 1)


def hhmmss(seconds: int) -> str:
    """``3725`` -> ``"010205"`` (seconds within one day)."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}{minutes:02d}{secs:02d}"


def status_timestamps(day: date, start: int, stop: int) -> list[str]:
    """Timestamps of status steps ``start``..``stop-1``."""
    prefix = day.strftime("%Y%m%d")
    return [prefix + hhmmss(status_seconds(step)) for step in range(start, stop)]


def timestamp_at(day: date, seconds: int) -> str:
    """Timestamp ``seconds`` after midnight of ``day``; rolls into the following days."""
    days, secs = divmod(seconds, DAY_SECONDS)
    return (day + timedelta(days=days)).strftime("%Y%m%d") + hhmmss(secs)
