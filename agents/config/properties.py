"""Flume's configuration file syntax: ``java.util.Properties`` rules, with line numbers kept.

Rules followed (as ``Properties.load`` reads them): a logical line may continue over several
natural lines when it ends in an odd number of backslashes; ``#`` or ``!`` starts a comment
line; the key ends at the first unescaped ``=``, ``:`` or whitespace, and whitespace around the
separator is skipped; escapes ``\\t \\n \\r \\f \\uXXXX`` are decoded and any other escaped
character stands for itself (so ``^\\\\d{14}`` in the file is the regex ``^\\d{14}``). Trailing
whitespace of a value is kept, as Java keeps it. A key set twice keeps its last value
(we report it).

Then ``${...}`` in values is replaced, as Flume 1.11 does it (commons-text's StringSubstitutor
in its MapResolver), with one difference kept on purpose:

- ``${a.sinks.k.type}``: the value of that key of the file (recursively). Flume 1.11 looks the
  key up among the keys it has already resolved, in its HashMap's order, so whether it works
  depends on the key names; here it always does.
- ``${env:NAME}``: the environment; ``${sys:user.home}`` (and user.name, user.dir,
  java.io.tmpdir, file.separator, path.separator, line.separator, os.name): what a JVM here
  would say. ``${NAME:-default}`` takes the default where NAME is not found; ``$${x}`` is the
  text ``${x}``.
- ``${NAME}`` that is not a key of the file: the environment. Flume 1.11 leaves it as written
  unless started with ``-DpropertiesImplementation=org.apache.flume.node.EnvVarResolverProperties``
  (the way its user guide sets environment variables); the lab's configs rely on it
  (``${SMARTCAR_WORKING}``), so it stays, in both modes.
- A name found nowhere: Flume leaves ``${NAME}`` as written; that is an error (strict) and a
  warning under ``--lenient``, which leaves it as written too.

Files are read as UTF-8 (Flume's ``Properties.load`` reads ISO-8859-1, so a UTF-8 ``한`` in a
Flume config becomes mojibake there and a regex with it never matches; here it is ``한``).
"""

from __future__ import annotations

import getpass
import os
import platform
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from agents.errors import Problem

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


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
    """Parse a properties text and resolve ``${...}`` in its values (see the module's doc);
    duplicate keys and names found nowhere are reported as problems."""
    env = os.environ if env is None else env
    result = PropertiesFile(path)
    for number, line in _logical_lines(text):
        raw_key, raw_value = _split(line)
        key = _unescape(raw_key)
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
        result.entries[key] = Entry(key, _unescape(raw_value), number)
    raw = {k: e.value for k, e in result.entries.items()}
    for key, entry in list(result.entries.items()):
        if "${" in entry.value:
            value = _Resolver(raw, env, result, entry).text(entry.value, ())
            result.entries[key] = Entry(key, value, entry.line)
    return result


def _system_properties() -> dict[str, str]:
    """The JVM system properties a ``${sys:...}`` may name, as a JVM here would give them."""
    return {"user.home": os.path.expanduser("~"), "user.name": getpass.getuser(),
            "user.dir": os.getcwd(), "java.io.tmpdir": tempfile.gettempdir(),
            "file.separator": os.sep, "path.separator": os.pathsep, "line.separator": "\n",
            "os.name": platform.system()}  # fmt: skip


class _Resolver:
    """``${...}`` substitution of one value, as commons-text's StringSubstitutor does it."""

    def __init__(self, raw: Mapping[str, str], env: Mapping[str, str], result: PropertiesFile,
                 entry: Entry) -> None:  # fmt: skip
        self.raw, self.env, self.result, self.entry = raw, env, result, entry

    def text(self, text: str, stack: tuple[str, ...]) -> str:
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            if text.startswith("$${", i):  # the escape: $${x} is the text ${x}
                out.append("${")
                i += 3
            elif text.startswith("${", i):
                end = _closing(text, i + 2)
                if end < 0:
                    out.append(text[i:])
                    break
                out.append(self.variable(text[i + 2 : end], text[i : end + 1], stack))
                i = end + 1
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def variable(self, inner: str, written: str, stack: tuple[str, ...]) -> str:
        name, has_default, default = self.text(inner, stack).partition(":-")
        if name in stack:
            return self.missing(name, written, f"refers to itself through {' -> '.join(stack)}")
        prefix, colon, rest = name.partition(":")
        if colon and prefix in ("env", "sys"):
            value = (self.env if prefix == "env" else _system_properties()).get(rest)
            where = "the environment" if prefix == "env" else "the system properties known here"
        else:
            value = self.raw.get(name)
            if value is not None:
                return self.text(value, (*stack, name))
            value = self.env.get(name)
            where = "a key of this file nor set in the environment"
        if value is not None:
            return value
        if has_default:
            return self.text(default, stack)
        what = f"is not in {where}" if colon and prefix in ("env", "sys") else f"is neither {where}"
        return self.missing(name, written, what)

    def missing(self, name: str, written: str, why: str) -> str:
        self.result.problems.append(
            Problem(
                self.result.path,
                self.entry.line,
                self.entry.key,
                f"uses {written}, but {name} {why}",
                "set it, or write $${...} for the text",
                lenient="run",
                flume="leaves it as written",
            )
        )
        return written


def _closing(text: str, start: int) -> int:
    """The index of the ``}`` closing a ``${`` whose name starts at *start*, or -1."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def load_properties(path: str, env: Mapping[str, str] | None = None) -> PropertiesFile:
    """Read a properties file as UTF-8 (Flume reads ISO-8859-1; see the module's doc), and say
    so where it is not UTF-8."""
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
