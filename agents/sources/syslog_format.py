"""Syslog messages (RFC 3164 and RFC 5424) into events, with Flume's headers.

Two Flume parsers, two header sets, kept as Flume has them:

- ``SyslogFormat`` (Flume's SyslogUtils; syslogtcp and syslogudp): headers ``Facility`` and
  ``Severity`` always, ``priority``, ``version``, ``timestamp`` (epoch ms) and ``host`` when
  the message has them; the body is the message after the host, with the ``keepFields`` put
  back in front. A message matching neither RFC layout (nor a custom ``format.regex``) keeps
  its whole text as body; one that does not start with ``<digits>`` gets
  ``flume.syslog.status = Invalid`` (and Facility/Severity 0); one cut at ``eventSize`` bytes
  gets ``Incomplete``.
- ``parse_multiport`` (Flume's SyslogParser; multiport_syslogtcp): headers ``Priority``,
  ``Facility``, ``Severity``, ``Version`` (for ``1 ``), ``timestamp`` (a ``-`` stamp is the time
  of arrival; RFC 3164 stamps are read as UTC, as Flume reads them) and ``host``; a message it
  cannot parse becomes an event of the whole text with ``flume.syslog.status = Invalid``.

``keepFields``: ``none``/``false`` (body is the message only), ``all``/``true`` (the raw text),
or any of ``priority version timestamp hostname``. Timestamps with an offset are honoured
(Flume 1.11's syslogtcp reads one that also has fractional seconds in the agent's zone).
``split_frames`` cuts a TCP stream into messages at ``\\n`` and at ``eventSize`` bytes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import socket
import time
from dataclasses import dataclass

from agents.config import javaregex
from agents.config.context import Context
from agents.config.javafmt import DatePattern, java_replacement
from agents.config.settings import Settings, prop

STATUS = "flume.syslog.status"
INVALID, INCOMPLETE = "Invalid", "Incomplete"
KEEPABLE = ("priority", "version", "timestamp", "hostname")

_RFC5424 = re.compile(
    r"(?:<(\d{1,3})>)(?:(\d?)\s?)"
    r"(?:(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[+-]\d{2}:\d{2}|Z)?)|-)"
    r"\s(?:(\w[\w.@\-]*)|-)\s(.*)",
    re.ASCII | re.DOTALL,
)
_RFC3164 = re.compile(
    r"(?:<(\d{1,3})>)(?:(\d)?\s?)([A-Z][a-z][a-z]\s{1,2}\d{1,2}\s\d{2}:\d{2}:\d{2})"
    r"\s(\w[\w.@-]*)\s(.*)",
    re.ASCII | re.DOTALL,
)
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
# priority, version, timestamp as written, timestamp in epoch ms, host, message
Parsed = tuple[str | None, str | None, str | None, int | None, str | None, str | None]


def keep_fields(value: str) -> frozenset[str] | None:
    """Flume's keepFields: None (keep none), {"all"}, or the named fields."""
    text = value.strip().lower()
    if text in ("false", "none", ""):
        return None
    if text in ("true", "all"):
        return frozenset({"all"})
    return frozenset(f for f in KEEPABLE if f in text)


def _with_fields(keep: frozenset[str] | None, body: str, pri: str | None, version: str | None,
                 stamp: str | None, host: str | None) -> str:  # fmt: skip
    """The body with the kept fields in front, in Flume's order."""
    if keep is None:
        return body
    if "hostname" in keep:
        body = f"{host} {body}"
    if "timestamp" in keep:
        body = f"{stamp} {body}"
    if "version" in keep and version:
        body = f"{version} {body}"
    if "priority" in keep:
        body = f"<{pri}>{body}"
    return body


def split_frames(data: bytes, max_size: int) -> tuple[list[tuple[bytes, bool]], bytes]:
    """Messages of a TCP stream: ((bytes, cut at max_size), ...) and the unfinished rest.
    Empty lines are skipped."""
    frames: list[tuple[bytes, bool]] = []
    start, n = 0, len(data)
    while start < n:
        end = data.find(b"\n", start, start + max_size)
        if end == -1:
            if n - start < max_size:
                break  # the rest of this message has not arrived yet
            frames.append((data[start : start + max_size], True))
            start += max_size
            continue
        if end > start:
            frames.append((data[start:end], False))
        start = end + 1
    return frames, data[start:]


@dataclass(frozen=True)
class CustomFormat:
    """Flume's ``format.regex`` (with ``format.search``/``format.replace`` applied to the
    stamp, and ``format.dateFormat``): tried before the RFC layouts. Groups: priority,
    version, timestamp, host, body."""

    regex: javaregex.JavaPattern
    search: javaregex.JavaPattern | None = None
    replace: str = ""
    date: DatePattern | None = None


class SyslogFormat:
    """Flume's SyslogUtils: one raw message into (body, headers)."""

    def __init__(self, keep: frozenset[str] | None, custom: CustomFormat | None = None,
                 now: float | None = None) -> None:  # fmt: skip
        self.keep = keep
        self.custom = custom
        self._now = now  # a fixed clock, for tests

    def parse(self, raw: bytes, incomplete: bool = False) -> tuple[bytes, dict[str, str]]:
        m = re.match(rb"<(\d{1,3})>", raw)
        headers: dict[str, str] = {}
        if m is None:
            headers.update(Facility="0", Severity="0")
            headers[STATUS] = INVALID
            return raw, headers
        pri = int(m.group(1))
        headers.update(Facility=str(pri // 8), Severity=str(pri % 8))
        text = raw.decode("utf-8", "replace")
        body: bytes = raw
        for parsed in (self._custom(text), self._rfc5424(text), self._rfc3164(text)):
            if parsed is None:
                continue
            prio, version, stamp_text, millis, host, rest = parsed
            if prio:
                headers["priority"] = prio
            if version:
                headers["version"] = version
            if millis is not None:
                headers["timestamp"] = str(millis)
            if host:
                headers["host"] = host
            if self.keep is not None and "all" in self.keep:
                body = raw
            elif rest:
                body = _with_fields(self.keep, rest, prio, version, stamp_text, host).encode()
            break
        if incomplete:
            headers[STATUS] = INCOMPLETE
        return body, headers

    def _custom(self, text: str) -> Parsed | None:
        c = self.custom
        if c is None:
            return None
        m = c.regex.fullmatch(text)
        if m is None:
            return None
        groups: list[str | None] = [*m.groups(), None, None, None, None, None][:5]
        millis = None
        stamp = groups[2]
        if stamp is not None and c.date is not None:
            value = c.search.sub(c.replace, stamp) if c.search is not None else stamp
            try:
                millis = c.date.millis(value)
            except ValueError:
                millis = None
        return groups[0], groups[1], stamp, millis, groups[3], groups[4]

    def _rfc5424(self, text: str) -> Parsed | None:
        m = _RFC5424.fullmatch(text)
        if m is None:
            return None
        prio, version, stamp, host, rest = m.groups()
        millis = rfc5424_millis(stamp) if stamp else None
        return prio, version, stamp, millis, host, rest

    def _rfc3164(self, text: str) -> Parsed | None:
        m = _RFC3164.fullmatch(text)
        if m is None:
            return None
        prio, version, stamp, host, rest = m.groups()
        return prio, version, stamp, rfc3164_millis(stamp, self._now, local=True), host, rest


def rfc5424_millis(stamp: str) -> int | None:
    """``2016-01-01T00:00:04.123456+09:00`` (or ``Z``, or no zone: local) as epoch ms."""
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?",
                     stamp)  # fmt: skip
    if m is None:
        return None
    try:
        when = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    zone = m.group(3)
    if zone is None:
        when = when.astimezone()
    elif zone == "Z":
        when = when.replace(tzinfo=dt.UTC)
    else:
        sign = 1 if zone[0] == "+" else -1
        offset = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * sign
        when = when.replace(tzinfo=dt.timezone(offset))
    millis = int(when.timestamp()) * 1000
    if m.group(2):
        millis += int((m.group(2) + "00")[:3])
    return millis


def rfc3164_millis(stamp: str, now: float | None = None, local: bool = True) -> int | None:
    """``Jan  1 00:00:04`` in this year (or the year that puts it nearest now) as epoch ms."""
    m = re.fullmatch(r"([A-Z][a-z]{2})\s{1,2}(\d{1,2})\s(\d{2}):(\d{2}):(\d{2})", stamp)
    if m is None or m.group(1) not in _MONTHS:
        return None
    current = time.time() if now is None else now
    year = time.localtime(current).tm_year if local else time.gmtime(current).tm_year
    best = None
    for y in (year, year - 1, year + 1):
        try:
            fields = (y, _MONTHS[m.group(1)], int(m.group(2)), int(m.group(3)),
                      int(m.group(4)), int(m.group(5)), 0, 0, -1)  # fmt: skip
            secs = time.mktime(fields) if local else calendar.timegm(fields)
        except (ValueError, OverflowError):
            continue
        # Flume moves the year only when the stamp is more than a month ahead or 11 months
        # behind; the candidate within (now - 11 months, now + 1 month] is the one.
        if current - 335 * 86400 < secs <= current + 31 * 86400:
            best = secs
            break
        if y == year:
            best = secs
    return None if best is None else int(best * 1000)


def parse_multiport(msg: str, keep: frozenset[str] | None, now: float | None = None
                    ) -> tuple[str, dict[str, str]]:  # fmt: skip
    """Flume's SyslogParser: (body text, headers); raises ValueError if *msg* is not syslog."""
    if not msg.startswith("<"):
        raise ValueError("Bad format: invalid priority: cannot find open bracket '<'")
    end = msg.find(">")
    if not 0 < end <= 6:
        raise ValueError("Bad format: invalid priority: cannot find end bracket '>'")
    priority = msg[1:end]
    if not priority.isdigit():
        raise ValueError(f"Bad format: invalid priority {priority!r}")
    pri = int(priority)
    headers = {"Priority": priority, "Facility": str(pri // 8), "Severity": str(pri % 8)}
    if len(msg) <= end + 1:
        raise ValueError("Bad format: no data except priority")
    pos = end + 1
    version = None
    if msg[pos : pos + 2] == "1 " and len(msg) > pos + 2:
        version = "1"
        headers["Version"] = version
        pos += 2
    first = msg[pos]
    if first == "-":
        stamp, millis = "-", int((time.time() if now is None else now) * 1000)
        if len(msg) <= pos + 2:
            raise ValueError("bad syslog format (missing hostname)")
        pos += 2
    elif "A" <= first <= "Z":
        if len(msg) <= pos + 15:
            raise ValueError("bad timestamp format")
        stamp = msg[pos : pos + 15]
        millis = rfc3164_millis(stamp, now, local=False) or 0  # Flume: 0 when unreadable
        pos += 16
    else:
        space = msg.find(" ", pos)
        if space == -1:
            raise ValueError("bad timestamp format")
        stamp = msg[pos:space]
        found = rfc5424_millis(stamp) if len(stamp) > 19 and stamp[19] in ".Z+-" else None
        if found is None:
            raise ValueError(f"Bad format: not a valid RFC5424 timestamp: {stamp}")
        millis = found
        pos = space + 1
    headers["timestamp"] = str(millis)
    space = msg.find(" ", pos)
    if space == -1:
        raise ValueError("bad syslog format (missing hostname)")
    host = msg[pos:space]
    headers["host"] = host
    if len(msg) > space + 1 and not (keep is not None and "all" in keep):
        body = _with_fields(keep, msg[space + 1 :], priority, version, stamp, host)
    else:
        body = msg
    return body, headers


@dataclass(frozen=True, kw_only=True)
class SyslogSettings(Settings):
    """The settings every syslog source has; a source's settings subclass it (after a
    ``port``/``ports`` base, so the port comes first in its properties, as it did)."""

    host: str = prop(
        "host",
        "str",
        "127.0.0.1",
        "Address to listen on (Flume listens on every address; 0.0.0.0 does).",
    )
    keep_fields: str = prop(
        "keepFields",
        "str",
        "none",
        "Header fields also kept in the body: none, all, or any of priority "
        "version timestamp hostname.",
    )
    client_ip_header: str = prop(
        "clientIPHeader", "str", "", "Header for the sender's IP address (empty: none)."
    )
    client_hostname_header: str = prop(
        "clientHostnameHeader",
        "str",
        "",
        "Header for the sender's host name, looked up once a connection (empty: none).",
    )
    ssl: bool = prop("ssl", "bool", False, "TLS: not provided; true is an error.")  # fmt: skip


def check_common(context: Context, settings: SyslogSettings) -> None:
    if settings.ssl:
        context.problem("ssl", "TLS is not provided by this agent's syslog sources",
                        "terminate TLS in front of it (e.g. stunnel)")  # fmt: skip


def client_headers(settings: SyslogSettings, peer: tuple[str, int]) -> dict[str, str]:
    """The clientIPHeader / clientHostnameHeader values for a sender."""
    out: dict[str, str] = {}
    if settings.client_ip_header:
        out[settings.client_ip_header] = peer[0]
    if settings.client_hostname_header:
        try:
            name = socket.gethostbyaddr(peer[0])[0]
        except OSError:
            name = peer[0]
        out[settings.client_hostname_header] = name
    return out


def custom_format(formats: dict[str, str], context: Context) -> CustomFormat | None:
    """Flume's ``format.regex`` / ``format.search`` / ``format.replace`` / ``format.dateFormat``."""
    if not formats:
        return None
    known = {"regex", "search", "replace", "dateFormat"}
    for key in sorted(set(formats) - known):
        context.problem(f"format.{key}", "is not a format setting",
                        "use format.regex, .search, .replace or .dateFormat")  # fmt: skip
    if "regex" not in formats:
        context.problem("format.regex", "is required when any format.* is set")
        return None
    patterns: dict[str, javaregex.JavaPattern | None] = {"regex": None, "search": None}
    for key in patterns:
        try:
            patterns[key] = javaregex.compile(formats[key]) if formats.get(key) else None
        except javaregex.JavaRegexError as exc:
            context.problem(f"format.{key}", str(exc))
            return None
    regex, search = patterns["regex"], patterns["search"]
    assert regex is not None
    date = None
    if formats.get("dateFormat"):
        try:
            date = DatePattern(formats["dateFormat"])
        except ValueError as exc:
            context.problem("format.dateFormat", str(exc))
    try:
        replace = java_replacement(formats.get("replace", ""), search.groups if search else 0,
                                   search.groupindex if search else ())  # fmt: skip
    except ValueError as exc:
        context.problem("format.replace", str(exc))
        replace = ""
    return CustomFormat(regex, search, replace, date)
