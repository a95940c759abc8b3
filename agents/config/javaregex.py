"""Java's ``java.util.regex`` dialect on Python: a Flume config's regex matches what it matches
in Flume.

Every regex property (regex_filter, regex_extractor, search_replace, remove_header, spooldir's
include/ignorePattern, TAILDIR's filegroups, the syslog sources' ``format.regex``) is compiled
here. The pattern is translated into the ``regex`` package's dialect (VERSION1, which has
Java's nested classes, ``&&``, possessive quantifiers, atomic groups and scoped inline flags),
rewriting what differs, as JDK 17 defines it:

- ``\\d \\w \\s`` (and ``\\D \\W \\S``, the POSIX ``\\p{Digit}`` ... classes) are ASCII unless
  ``(?U)``; ``(?i)`` folds ASCII only unless ``(?u)`` or ``(?U)``;
- ``\\b`` is a boundary of letters, digits and ``_`` (``Character.isLetterOrDigit``, JDK 17);
- ``.`` matches no line terminator (``\\n \\r \\u0085 \\u2028 \\u2029``; ``(?d)``: ``\\n``)
  unless ``(?s)``; ``$``, ``\\Z`` and ``(?m)``'s ``^ $`` know the same terminators;
- ``\\Q...\\E``, ``\\h \\v \\R``, ``\\x{h...}``, ``\\0oo``, ``\\cX``, ``\\e \\a``, ``\\k<name>``,
  ``\\p{javaLowerCase}`` and the other ``java*`` classes, ``\\p{IsLatin}``, ``\\p{InGreek}``,
  ``\\p{IsLu}``; ``(?x)`` skips blanks and ``#`` comments, inside classes too;
- what Java refuses is refused (``a{``, ``(?P<n>)``, ``(?#...)``, an unknown escape).

Still different (docs/components.md says so): Unicode tables are the ``regex`` package's
(a newer Unicode than JDK 17's 13.0); ``(?u)`` set inside a group folds case in the whole
pattern; ``\\b`` under ``(?U)`` and canonical equivalence (``CANON_EQ``) are not Java's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

TERMINATORS = "\n\r\u0085\u2028\u2029"
_ASCII = {"d": "0-9", "w": "a-zA-Z_0-9", "s": " \\t\\n\\x0B\\f\\r"}
_UNICODE = {
    "d": "\\p{Nd}",
    "w": "\\p{Alphabetic}\\p{Mn}\\p{Me}\\p{Mc}\\p{Nd}\\p{Pc}\\u200C\\u200D",
    "s": "\\p{White_Space}",
}
_HVR = {
    "h": " \\t\\xA0\\u1680\\u180E\\u2000-\\u200A\\u202F\\u205F\\u3000",
    "v": "\\n\\x0B\\f\\r\\x85\\u2028\\u2029",
}
_POSIX = {  # Java's POSIX classes: ASCII, and what (?U) makes of them
    "Lower": ("a-z", "\\p{Lowercase}"),
    "Upper": ("A-Z", "\\p{Uppercase}"),
    "ASCII": ("\\x00-\\x7F", "\\x00-\\x7F"),
    "Alpha": ("a-zA-Z", "\\p{Alphabetic}"),
    "Digit": ("0-9", "\\p{Nd}"),
    "Alnum": ("a-zA-Z0-9", "\\p{Alphabetic}\\p{Nd}"),
    "Punct": ("!-/:-@\\[-`{-~", "\\p{P}"),
    "Graph": ("!-~", "\\P{White_Space}--\\p{Cc}--\\p{Cs}--\\p{Cn}"),
    "Print": ("\\x20-\\x7E", "\\P{White_Space}--\\p{Cc}--\\p{Cs}--\\p{Cn}||\\p{Zs}"),
    "Blank": (" \\t", "\\p{Zs}\\t"),
    "Cntrl": ("\\x00-\\x1F\\x7F", "\\p{Cc}"),
    "XDigit": ("0-9a-fA-F", "\\p{Nd}\\p{Hex_Digit}"),
    "Space": (" \\t\\n\\x0B\\f\\r", "\\p{White_Space}"),
}
_JAVA = {  # java.lang.Character's is* methods
    "javaLowerCase": "\\p{Lowercase}",
    "javaUpperCase": "\\p{Uppercase}",
    "javaTitleCase": "\\p{Lt}",
    "javaDigit": "\\p{Nd}",
    "javaDefined": "\\P{Cn}",
    "javaLetter": "\\p{L}",
    "javaLetterOrDigit": "\\p{L}\\p{Nd}",
    "javaAlphabetic": "\\p{Alphabetic}",
    "javaIdeographic": "\\p{Ideographic}",
    "javaSpaceChar": "\\p{Z}",
    "javaWhitespace": "\\t\\n\\x0B\\f\\r\\x1C-\\x1F\\p{Z}--\\xA0--\\u2007--\\u202F",
    "javaISOControl": "\\x00-\\x1F\\x7F-\\x9F",
    "javaMirrored": "\\p{Bidi_Mirrored}",
    "javaJavaIdentifierStart": "\\p{L}\\p{Nl}\\p{Sc}\\p{Pc}",
    "javaUnicodeIdentifierStart": "\\p{ID_Start}",
    "javaUnicodeIdentifierPart": "\\p{ID_Continue}",
}
_IS = {"Digit": "Nd", "Letter": "L", "Punctuation": "P", "Control": "Cc", "Assigned": "Assigned"}
_LETTER_OR_DIGIT = "[\\p{L}\\p{Nd}_]"  # JDK 17's \b word characters


class JavaRegexError(ValueError):
    """A pattern Java's Pattern.compile refuses (or this translation cannot express)."""


@dataclass(frozen=True)
class JavaPattern:
    """A compiled Java pattern: ``pattern`` is the Java text, ``translated`` what runs.

    ``search``/``sub``/``split``/``fullmatch``/``groups``/``groupindex`` are the compiled
    pattern's. ``search_bytes`` is set where the pattern gives the same answer on UTF-8 bytes
    as on the text (ASCII only, no ``.`` or negated class that could match part of a
    character), so a filter need not decode each body.
    """

    pattern: str
    translated: str
    compiled: Any
    search_bytes: Callable[[bytes], Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled, name)

    def matches(self, text: str) -> bool:
        """Java's ``Matcher.matches()``: the whole text matches."""
        return self.compiled.fullmatch(text) is not None


def compile(pattern: str) -> JavaPattern:
    """*pattern* as Java reads it; JavaRegexError says why Java (or we) cannot."""
    t = _Translator(pattern)
    text = t.run()
    flags = regex.V1
    try:
        compiled = regex.compile("(?-f)" + text, flags)
    except regex.error as exc:
        raise JavaRegexError(f"invalid regular expression {pattern!r}: {exc}") from None
    fast = None
    if t.byte_safe and text.isascii():
        try:  # the standard library's engine where the syntax means the same: it is faster
            fast = (
                re.compile(text.encode())
                if _plain(text)
                else regex.compile(("(?-f)" + text).encode(), flags)
            ).search
        except (re.error, regex.error):
            fast = None
    return JavaPattern(pattern, text, compiled, fast)


def _plain(text: str) -> bool:
    """Whether *text* (a translation) means the same to ``re``: no set operations or nested
    sets, which only the regex package's VERSION1 has."""
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            if depth:
                return False
            depth = 1
            if text.startswith("^", i + 1):
                i += 1
            if text.startswith("]", i + 1):
                i += 1
        elif ch == "]" and depth:
            depth = 0
        elif depth and text.startswith(("&&", "||", "--", "~~"), i):
            return False
        i += 1
    return True


@dataclass
class _Flags:
    i: bool = False  # CASE_INSENSITIVE (passed on to the regex package, scoped)
    d: bool = False  # UNIX_LINES
    m: bool = False  # MULTILINE
    s: bool = False  # DOTALL
    x: bool = False  # COMMENTS
    U: bool = False  # UNICODE_CHARACTER_CLASS

    def copy(self) -> _Flags:
        return _Flags(self.i, self.d, self.m, self.s, self.x, self.U)


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.flags = _Flags()
        self.stack: list[_Flags] = []
        self.out: list[str] = []
        # (?u) or (?U) anywhere: (?i) folds Unicode case (the regex package does it); else
        # (?i) folds ASCII letters only, which this translation spells out ([kK])
        self.unicode_case = regex.search(r"\(\?[a-zA-Z]*[uU]", pattern) is not None
        self.byte_safe = True
        self.last_char: str | None = None  # the character the last escape stood for

    def fail(self, why: str) -> JavaRegexError:
        return JavaRegexError(f"invalid regular expression {self.p!r}: {why} near index "
                              f"{self.i} (Java refuses it too)")  # fmt: skip

    # ---- the pattern outside classes ----
    def run(self) -> str:
        p = self.p
        while self.i < len(p):
            ch = p[self.i]
            if self.flags.x and ch in " \t\n\x0b\f\r":
                self.i += 1
            elif self.flags.x and ch == "#":
                while self.i < len(p) and p[self.i] not in "\n\r":
                    self.i += 1
            elif ch == "\\":
                self.out.append(self.escape(in_class=False))
            elif ch == "[":
                self.out.append(self.char_class())
            elif ch == "(":
                self.group()
            elif ch == ")":
                self.flags = self.stack.pop() if self.stack else self.flags
                self.out.append(")")
                self.i += 1
            elif ch == ".":
                self.out.append(self.dot())
                self.i += 1
            elif ch == "^":
                self.out.append(self.caret())
                self.i += 1
            elif ch == "$":
                self.out.append(self.dollar())
                self.byte_safe = False
                self.i += 1
            elif ch == "{":
                self.quantifier()
            else:
                self.out.append(ch if ch in "*+?|" else self.lit(ch, in_class=False))
                self.i += 1
        return "".join(self.out)

    def lit(self, ch: str, in_class: bool) -> str:
        """One literal character; under ASCII-only (?i) a letter with its other case."""
        self.last_char = ch
        if not ch.isascii():
            self.byte_safe = False
        if self.flags.i and not self.unicode_case and ch.isascii() and ch.isalpha():
            both = _literal(ch.lower(), True) + _literal(ch.upper(), True)
            return both if in_class else f"[{both}]"
        return _literal(ch, in_class)

    def terminators(self) -> str:
        return "\\n" if self.flags.d else "\\n\\r\\u0085\\u2028\\u2029"

    def dot(self) -> str:
        self.byte_safe = False
        return "(?s:.)" if self.flags.s else f"[^{self.terminators()}]"

    def caret(self) -> str:
        if not self.flags.m:
            return "\\A"
        if self.flags.d:
            return "(?:\\A|(?<=\\n)(?!\\Z))"
        self.byte_safe = False
        return "(?:\\A|(?<=[\\n\\u0085\\u2028\\u2029])(?!\\Z)|(?<=\\r)(?!\\n|\\Z))"

    def dollar(self) -> str:
        if self.flags.d:
            return "(?=\\n|\\Z)" if self.flags.m else "(?=\\n?\\Z)"
        if self.flags.m:
            return "(?=[\\n\\r\\u0085\\u2028\\u2029]|\\Z)(?<!\\r(?=\\n))"
        return "(?=(?:\\r\\n|[\\n\\r\\u0085\\u2028\\u2029])?\\Z)"

    def quantifier(self) -> None:
        m = regex.compile(r"\{(\d+)(,(\d*))?\}[?+]?").match(self.p, self.i)
        if m is None:
            raise self.fail("illegal repetition")
        self.out.append(m.group(0))
        self.i = m.end()

    def group(self) -> None:
        p, i = self.p, self.i
        self.stack.append(self.flags.copy())
        if not p.startswith("(?", i):
            self.out.append("(")
            self.i += 1
            return
        rest = p[i + 2 :]
        for head in ("<=", "<!", "=", "!", ">", ":"):
            if rest.startswith(head):
                self.out.append("(?" + head)
                self.i += 2 + len(head)
                return
        m = regex.match(r"<([a-zA-Z][a-zA-Z0-9]*)>", rest)
        if m:
            self.out.append(f"(?P<{m.group(1)}>")
            self.i += 2 + m.end()
            return
        m = regex.match(r"([idmsuxU]*)(?:-([idmsuxU]*))?([:)])", rest)
        if m is None:
            raise self.fail("unknown inline modifier")
        on, off, end = m.group(1), m.group(2) or "", m.group(3)
        self.i += 2 + m.end()
        if end == ")":  # (?i): for the rest of the enclosing group
            self.stack.pop()
        for letters, value in ((on, True), (off, False)):
            for letter in letters:
                if letter in "uU" and value:
                    self.unicode_case = True
                if letter != "u":
                    setattr(self.flags, letter, value)
        case = ("i" if "i" in on else "") + ("-i" if "i" in off else "")
        if not self.unicode_case:
            case = ""  # ASCII folding is spelled out by lit()
        elif "i" in on:
            self.byte_safe = False  # Unicode folding: bytes would fold ASCII only
        if end == ":":
            self.out.append(f"(?{case}:" if case else "(?:")
        elif case:
            self.out.append(f"(?{case})")

    # ---- escapes, in and out of classes ----
    def escape(self, in_class: bool) -> str:
        """The translation of the escape at ``self.i`` (a set's content when *in_class*)."""
        p = self.p
        if self.i + 1 >= len(p):
            raise self.fail("unexpected end of pattern after a backslash")
        c = p[self.i + 1]
        self.i += 2
        if c == "Q":
            end = p.find("\\E", self.i)
            text = p[self.i :] if end < 0 else p[self.i : end]
            self.i = len(p) if end < 0 else end + 2
            return "".join(self.lit(ch, in_class) for ch in text)
        if c in "dws":
            body = _UNICODE[c] if self.flags.U else _ASCII[c]
            if self.flags.U:
                self.byte_safe = False
            return f"[{body}]"
        if c in "DWS":
            self.byte_safe = False
            body = _UNICODE[c.lower()] if self.flags.U else _ASCII[c.lower()]
            return f"[^{body}]"
        if c in "hv":
            self.byte_safe = False
            return f"[{_HVR[c]}]"
        if c in "HV":
            self.byte_safe = False
            return f"[^{_HVR[c.lower()]}]"
        if c in "pP":
            return self.property(c == "P", in_class)
        if c in "0123456789" and not in_class:
            if c == "0":
                return self.lit(self.octal(), in_class)
            return "\\" + c  # a back reference
        if c == "0":
            return self.lit(self.octal(), in_class)
        if c == "x":
            return self.lit(self.hex_escape(), in_class)
        if c == "u":
            digits = p[self.i : self.i + 4]
            if not regex.fullmatch(r"[0-9a-fA-F]{4}", digits):
                raise self.fail("illegal Unicode escape sequence")
            self.i += 4
            return self.lit(chr(int(digits, 16)), in_class)
        if c == "c":
            if self.i >= len(p):
                raise self.fail("illegal control escape sequence")
            self.i += 1
            return self.lit(chr(ord(p[self.i - 1]) ^ 64), in_class)
        simple = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "a": "\x07", "e": "\x1b"}
        if c in simple:
            return self.lit(simple[c], in_class)
        if c == "N":
            m = regex.compile(r"\{[^}]+\}").match(p, self.i)
            if m is None:
                raise self.fail("\\N must be followed by {name}")
            self.i = m.end()
            self.byte_safe = False
            return "\\N" + m.group(0)
        if in_class:
            if c.isalnum():
                raise self.fail(f"illegal/unsupported escape sequence \\{c}")
            return self.lit(c, True)
        self.byte_safe = self.byte_safe and c not in "bBRXZ"
        if c in "bB":
            return self.boundary(c == "B")
        if c == "R":
            return f"(?:\\r\\n|[{_HVR['v']}])"
        if c == "z":
            return "\\Z"
        if c == "Z":
            return (
                self.dollar()
                if not self.flags.m
                else ("(?=(?:\\r\\n|[\\n\\r\\u0085\\u2028\\u2029])?\\Z)")
            )
        if c in "AG":
            return "\\" + c
        if c == "X":
            return "\\X"
        if c == "k":
            m = regex.compile(r"<([a-zA-Z][a-zA-Z0-9]*)>").match(p, self.i)
            if m is None:
                raise self.fail("\\k is not followed by '<' for a named group")
            self.i = m.end()
            return f"(?P={m.group(1)})"
        if c.isalnum():
            raise self.fail(f"illegal/unsupported escape sequence \\{c}")
        return self.lit(c, False)

    def octal(self) -> str:
        m = regex.compile(r"[0-3][0-7]{0,2}|[0-7]{1,2}").match(self.p, self.i)
        if m is None:
            raise self.fail("illegal octal escape sequence")
        self.i = m.end()
        return chr(int(m.group(0), 8))

    def hex_escape(self) -> str:
        m = regex.compile(r"\{([0-9a-fA-F]+)\}|([0-9a-fA-F]{2})").match(self.p, self.i)
        if m is None:
            raise self.fail("illegal hexadecimal escape sequence")
        self.i = m.end()
        value = int(m.group(1) or m.group(2), 16)
        if value > 0x10FFFF:
            raise self.fail("hexadecimal codepoint is too big")
        return chr(value)

    def boundary(self, negated: bool) -> str:
        self.byte_safe = False
        w = f"[{_UNICODE['w']}]" if self.flags.U else _LETTER_OR_DIGIT
        if negated:
            return f"(?:(?<={w})(?={w})|(?<!{w})(?!{w}))"
        return f"(?:(?<={w})(?!{w})|(?<!{w})(?={w}))"

    def property(self, negated: bool, in_class: bool) -> str:
        p = self.p
        if p.startswith("{", self.i):
            end = p.find("}", self.i)
            if end < 0:
                raise self.fail("unclosed character family")
            name = p[self.i + 1 : end]
            self.i = end + 1
        elif self.i < len(p):
            name = p[self.i]
            self.i += 1
        else:
            raise self.fail("illegal character family")
        body = self.family(name)
        if negated or not body.isascii() or "\\p" in body or "\\P" in body:
            self.byte_safe = False
        return f"[^{body}]" if negated else f"[{body}]"

    def family(self, name: str) -> str:
        """A ``\\p{name}`` family as a set's content."""
        if name in _POSIX:
            return _POSIX[name][1 if self.flags.U else 0]
        if name in _JAVA:
            return _JAVA[name]
        key, eq, value = name.partition("=")
        if eq:
            kinds = {"script": "Script", "sc": "Script", "block": "Block", "blk": "Block",
                     "general_category": "General_Category", "gc": "General_Category"}  # fmt: skip
            if key.lower() not in kinds:
                raise self.fail(f"unknown character property name {key!r}")
            return self.known(f"{kinds[key.lower()]}={value}", name)
        if name.startswith("In") and name[2:3].isupper():
            return self.known(f"Block={name[2:]}", name)
        if name.startswith("Is") and name[2:3].isupper():
            rest = name[2:]
            return self.known(_IS.get(rest, rest), name)
        return self.known(name, name)

    def known(self, prop: str, name: str) -> str:
        body = f"\\p{{{prop}}}"
        try:
            regex.compile(body)
        except regex.error:
            raise self.fail(f"unknown character property {name!r}") from None
        return body

    # ---- character classes ----
    def char_class(self) -> str:
        """A ``[...]`` class (nested classes and ``&&`` included) as a VERSION1 set."""
        p = self.p
        self.i += 1
        out = ["["]
        if p.startswith("^", self.i):
            out.append("^")
            self.i += 1
            self.byte_safe = False
        first = True
        while True:
            if self.i >= len(p):
                raise self.fail("unclosed character class")
            ch = p[self.i]
            if self.flags.x and ch in " \t\n\x0b\f\r":
                self.i += 1
                continue
            if ch == "]" and not first:
                self.i += 1
                break
            first = False
            if ch == "[":
                out.append(self.char_class())
                continue
            if p.startswith("&&", self.i):
                out.append("&&")
                self.i += 2
                continue
            start = self.i
            low = self.class_char()
            if low is None:  # an escape for a set (\d, \p{...})
                self.i = start
                out.append(self.escape(in_class=True))
                continue
            if p.startswith("-", self.i) and p[self.i + 1 : self.i + 2] not in ("]", ""):
                self.i += 1
                high = self.class_char()
                if high is None or high < low:
                    raise self.fail("illegal character range")
                out.append(self.char_range(low, high))
            else:
                out.append(self.lit(low, in_class=True))
        out.append("]")
        return "".join(out)

    def class_char(self) -> str | None:
        """Consume the class's next item if it is one character; its character, else None."""
        p = self.p
        if p[self.i] != "\\":
            self.i += 1
            return p[self.i - 1]
        if p.startswith("\\Q", self.i):
            return None
        self.last_char = None
        self.escape(in_class=True)
        return self.last_char

    def char_range(self, low: str, high: str) -> str:
        """``low-high``; under ASCII-only (?i) with the other case of its ASCII letters."""
        if not (low.isascii() and high.isascii()):
            self.byte_safe = False
        out = f"{_literal(low, True)}-{_literal(high, True)}"
        if self.flags.i and not self.unicode_case:
            for first, last, shift in (("a", "z", -32), ("A", "Z", 32)):
                lo, hi = max(low, first), min(high, last)
                if lo <= hi:
                    out += f"{chr(ord(lo) + shift)}-{chr(ord(hi) + shift)}"
        return out


def _literal(ch: str, in_class: bool) -> str:
    """One character as itself, escaped where the regex package's syntax needs it."""
    specials = "[]\\^-&|~" if in_class else ".^$*+?{}[]\\|()"
    if ch in specials:
        return "\\" + ch
    if ch in "\n\r\t\f\x0b" or not ch.isprintable():
        code = ord(ch)
        return (
            f"\\x{code:02x}"
            if code <= 0xFF
            else (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        )
    return ch
