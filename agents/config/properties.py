"""Flume's configuration file syntax: ``java.util.Properties`` rules, with line numbers kept.

Rules followed (as ``Properties.load`` reads them): a logical line may continue over several
natural lines when it ends in an odd number of backslashes; ``#`` or ``!`` starts a comment
line; the key ends at the first unescaped ``=``, ``:`` or whitespace, and whitespace around the
separator is skipped; escapes ``\\t \\n \\r \\f \\uXXXX`` are decoded and any other escaped
character stands for itself (so ``^\\\\d{14}`` in the file is the regex ``^\\d{14}``). Trailing
whitespace of a value is kept, as Java keeps it. A key set twice keeps its last value
(we report it). ``${VAR}`` is then replaced from the environment, as Flume's
EnvVarResolverProperties does; an unset variable is reported, never silently emptied.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from agents.errors import Problem

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}")


@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    line: int  # first natural line of the logical line, 1-based


@dataclass
class PropertiesFile:
    path: str
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, logical line) pairs with continuations joined and comments dropped."""
    out: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i
        line = lines[i].lstrip(" \t\f")
        i += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line) and i < len(lines):
            line = line[:-1] + lines[i].lstrip(" \t\f")
            i += 1
        if _continues(line):  # a continuation at end of file: Java drops the backslash
            line = line[:-1]
        out.append((start + 1, line))
    return out


def _continues(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 >= len(text):
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
            continue
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    return "".join(out)


def _split(line: str) -> tuple[str, str]:
    """Key and raw value of a logical line (escapes still in place)."""
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "=: \t\f":
            break
        i += 1
    key = line[:i]
    j = i
    while j < n and line[j] in " \t\f":
        j += 1
    if j < n and line[j] in "=:":
        j += 1
        while j < n and line[j] in " \t\f":
            j += 1
    return key, line[j:]


def parse_properties(
    text: str, path: str = "<string>", env: Mapping[str, str] | None = None
) -> PropertiesFile:
    """Parse a properties text; duplicate keys and unset ``${VAR}`` are reported as problems."""
    env = os.environ if env is None else env
    result = PropertiesFile(path)
    for number, line in _logical_lines(text):
        raw_key, raw_value = _split(line)
        key = _unescape(raw_key)
        value = _unescape(raw_value)
        if "${" in value:
            value = _substitute(value, env, result, path, number, key)
        if key in result.entries:
            first = result.entries[key].line
            result.problems.append(
                Problem(
                    path,
                    number,
                    key,
                    f"is set again (first on line {first}); the last value wins",
                    severity="warning",
                )
            )
        result.entries[key] = Entry(key, value, number)
    return result


def _substitute(
    value: str, env: Mapping[str, str], result: PropertiesFile, path: str, line: int, key: str
) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in env:
            return env[name]
        result.problems.append(
            Problem(path, line, key, f"uses ${{{name}}} but {name} is not set in the environment")
        )
        return m.group(0)

    return _VAR.sub(repl, value)


def load_properties(path: str, env: Mapping[str, str] | None = None) -> PropertiesFile:
    """Read a properties file (Flume reads them as UTF-8; so do we, and say so when it is not)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        result = PropertiesFile(path)
        result.problems.append(Problem(path, None, None, "configuration file does not exist"))
        return result
    except OSError as exc:
        result = PropertiesFile(path)
        result.problems.append(Problem(path, None, None, f"cannot read: {exc.strerror}"))
        return result
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        result = PropertiesFile(path)
        result.problems.append(Problem(path, line, None, "is not valid UTF-8 text"))
        return result
    return parse_properties(text, path, env)
