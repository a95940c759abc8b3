"""Java's little languages that Flume configs carry, translated to Python's.

- ``java_replacement``: a ``Matcher.replaceAll`` replacement (``$1``, ``${name}``, ``\\$``)
  as an ``re.sub`` template.
- ``DatePattern``: a ``SimpleDateFormat`` / Joda-Time pattern (``yyyy-MM-dd HH:mm:ss.SSS``)
  that parses text into epoch milliseconds. Without a zone in the pattern the text is read in
  the local time zone, as a JVM reads it in its default zone.

Both raise ``ValueError`` with the reason for what they cannot translate, so a config check
names the key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

# Pattern letters (runs of one letter) and their strptime directives.
_DIRECTIVES: dict[str, str] = {
    "yyyy": "%Y", "yyy": "%Y", "y": "%Y", "yy": "%y",
    "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%m",
    "dd": "%d", "d": "%d",
    "HH": "%H", "H": "%H", "hh": "%I", "h": "%I", "a": "%p",
    "mm": "%M", "m": "%M", "ss": "%S", "s": "%S",
    "SSS": "%f",
    "Z": "%z", "ZZ": "%z", "X": "%z", "XX": "%z", "XXX": "%z", "z": "%Z",
    "EEE": "%a", "E": "%a", "EEEE": "%A",
}  # fmt: skip


def java_replacement(
    template: str, groups: int | None = None, names: Iterable[str] | None = None
) -> str:
    """Java's replacement syntax as a ``sub`` template: ``$n`` and ``${name}`` are groups, a
    backslash quotes the next character; anything else is literal. Given the pattern's
    *groups* (and group *names*), ``$12`` is read as Java reads it (group 12 if there is one,
    else group 1 and a "2"), and a group the pattern does not have is an error, as Java's
    replaceAll throws."""
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        if ch == "\\":
            if i + 1 >= n:
                raise ValueError("a replacement may not end with a backslash")
            nxt = template[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
        elif ch == "$":
            m = re.match(r"\$(\d+)|\$\{([A-Za-z][A-Za-z0-9]*)\}", template[i:])
            if m is None:
                raise ValueError(f"'$' at {i} is not followed by a group number or {{name}}; "
                                 "write \\$ for a dollar sign")  # fmt: skip
            if m.group(2):
                if names is not None and m.group(2) not in set(names):
                    raise ValueError(f"the pattern has no group named {m.group(2)!r}")
                out.append(f"\\g<{m.group(2)}>")
                i += m.end()
                continue
            digits = m.group(1)
            take = len(digits) if groups is None else 1
            while groups is not None and take < len(digits) and int(digits[: take + 1]) <= groups:
                take += 1
            if groups is not None and int(digits[:take]) > groups:
                raise ValueError(f"the pattern has no group {digits[:take]}")
            out.append(f"\\g<{digits[:take]}>")
            i += 1 + take
        else:
            out.append(ch.replace("\\", "\\\\"))
            i += 1
    return "".join(out)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class DatePattern:
    """A Java date pattern, parsing text into epoch milliseconds."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.strptime = _translate(pattern)

    def millis(self, text: str) -> int:
        """Epoch ms of *text*; ValueError if it does not fit the pattern."""
        when = dt.datetime.strptime(text, self.strptime)
        if when.tzinfo is None:
            when = when.astimezone()  # a naive time is local time
        return (when - _EPOCH) // dt.timedelta(milliseconds=1)


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end == -1:
                raise ValueError(f"unclosed quote at {i} in date pattern {pattern!r}")
            out.append("'" if end == i + 1 else pattern[i + 1 : end].replace("%", "%%"))
            i = end + 1
        elif ch.isalpha():
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            run = pattern[i:j]
            if run not in _DIRECTIVES:
                raise ValueError(f"date pattern {pattern!r}: {run!r} is not supported "
                                 f"(supported: {', '.join(sorted(_DIRECTIVES))})")  # fmt: skip
            out.append(_DIRECTIVES[run])
            i = j
        else:
            out.append("%%" if ch == "%" else ch)
            i += 1
    return "".join(out)
