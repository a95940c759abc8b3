"""Issue 23 item 2: Flume's regex properties match what java.util.regex matches.

The differential test runs a small Java program (JDK 17's source-launch mode, written to a
temporary directory) over a table of patterns x inputs and compares every ``find()`` (where
and what) and every ``replaceAll`` with what ``agents.config.javaregex`` does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agents.config import javaregex
from agents.config.javafmt import java_replacement

PATTERNS = [
    r"^\d{14}", r"\d+", r"\D+", r"\w+", r"\W+", r"\s+", r"\S+", r"\bword\b", r"\Bor\B",
    r"a.b", r"(?s)a.b", r"(?d)a.b", r"^x$", r"(?m)^x$", r"x$", r"x\Z", r"x\z", r"\p{Digit}+",
    r"\p{Alpha}+", r"\p{Alnum}+", r"\p{Punct}+", r"\p{Space}+", r"\p{Lower}+", r"\p{Upper}+",
    r"\p{javaLowerCase}+", r"\p{javaUpperCase}+", r"\p{javaWhitespace}+", r"\p{javaDigit}+",
    r"\p{L}+", r"\p{Lu}", r"\p{IsLatin}+", r"\p{IsHangul}+", r"\p{InHangul_Syllables}+",
    r"\p{IsAlphabetic}+", r"\P{Alpha}+", r"[\p{Alpha}&&[^aeiou]]+", r"[a-z&&[^c]]+",
    r"\Q1.\E", r"\Q[a]\E", r"(?<d>\d)(?<e>\d)", r"(\d)\1", r"(?<x>a)\k<x>", r"a*+a", r"(?>ab|a)c",
    r"(?i)abc", r"(?i)é", r"(?iu)é", r"(?i)straße", r"(?i)[a-c]+", r"(?i)k", r"(?U)\w+",
    r"(?U)\d+", r"(?U)\s+", r"\h+", r"\v", r"\R", r"\x41", r"\x{D55C}", r"\u00e9", r"\0101",
    r"\t", r"[^a-z]+", r"[-a]+", r"[a-]+", r"[\[\]]+", r"(?x) a b  c # comment", r"(?i:a)b",
    r"a(?i)b(?-i)c", r"[\w&&\D]+", r"한+", r"[가-힣]+", r"\p{Nd}+", "\\.\\*", r"\$\{x\}",
    r"\bé", r"[\s\d]+", r"(a|b)+?c", r"colou?r", r"\Gx",
]  # fmt: skip
INPUTS = [
    "20160101123456,car", "123", "١٢٣ and ３４５",  # noqa: RUF001 - fullwidth digits on purpose "word_é1 café", "a b\u00a0c\u2003d\te",
    "a\rb", "a\nb", "x\r\n", "x\n", "y\nx\r\nz", "한국어 text", "ABC abc Éé é É", "STRASSE straße",
    "K \u212a k", "1.5 [a] ${x}", "a.*b", "AAB aab", "11 22 33", "", "Ǆǅǆ ΣΑΣ ß",
    "\u0085x\u2028", "colour color", "acbc", "aaac",
]  # fmt: skip
REPLACEMENTS = [
    (r"(\d+)", "<$1>"), (r"(?<d>\d)", "${d}${d}"), (r"\s+", " "), (r"(\w)(\w)", "$2$1"),
    (r"(a)", "\\$1"), (r".", "-"), (r"(\d)", "$10"),
]  # fmt: skip

JAVA = """
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.regex.*;

public class Matcher17 {
  static String unhex(String h) {
    byte[] b = new byte[h.length() / 2];
    for (int i = 0; i < b.length; i++)
      b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
    return new String(b, StandardCharsets.UTF_8);
  }
  static String hex(String s) {
    StringBuilder sb = new StringBuilder();
    for (byte x : s.getBytes(StandardCharsets.UTF_8)) sb.append(String.format("%02x", x));
    return sb.toString();
  }
  public static void main(String[] args) throws Exception {
    for (String line : Files.readAllLines(Paths.get(args[0]))) {
      String[] f = line.split(" ", -1);
      Pattern p;
      try { p = Pattern.compile(unhex(f[1])); } catch (PatternSyntaxException e) {
        System.out.println("error"); continue; }
      String input = unhex(f[2]);
      if (f[0].equals("find")) {
        java.util.regex.Matcher m = p.matcher(input);
        StringBuilder out = new StringBuilder("ok");
        while (m.find()) { out.append(" ").append(m.start()).append(":").append(m.end());
          if (m.end() == m.start()) { if (m.end() >= input.length()) break; } }
        System.out.println(out);
      } else {
        try { System.out.println("ok " + hex(p.matcher(input).replaceAll(unhex(f[3])))); }
        catch (RuntimeException e) { System.out.println("error"); }
      }
    }
  }
}
"""


def ours_find(pattern: str, text: str) -> str:
    try:
        p = javaregex.compile(pattern)
    except javaregex.JavaRegexError:
        return "error"
    spans = []
    for m in p.finditer(text):  # Java counts UTF-16 units; the inputs are all in the BMP
        spans.append(f"{m.start()}:{m.end()}")
    return " ".join(["ok", *spans])


def ours_replace(pattern: str, text: str, replacement: str) -> str:
    try:
        p = javaregex.compile(pattern)
        return (
            "ok "
            + p.sub(java_replacement(replacement, p.groups, p.groupindex), text).encode().hex()
        )
    except (ValueError, IndexError):
        return "error"


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a JDK (java) on PATH")
def test_patterns_match_what_java_matches(tmp_path: Path) -> None:
    rows = [("find", p, t, "") for p in PATTERNS for t in INPUTS]
    rows += [("replace", p, t, r) for p, r in REPLACEMENTS for t in INPUTS]
    table = tmp_path / "table.txt"
    table.write_text("".join(f"{k} {p.encode().hex()} {t.encode().hex()} {r.encode().hex()}\n"
                             for k, p, t, r in rows))  # fmt: skip
    (tmp_path / "Matcher17.java").write_text(JAVA)
    java = subprocess.run(["java", str(tmp_path / "Matcher17.java"), str(table)],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    answers = java.stdout.splitlines()
    assert len(answers) == len(rows), java.stderr
    wrong = []
    for (kind, pattern, text, repl), want in zip(rows, answers, strict=True):
        got = ours_find(pattern, text) if kind == "find" else ours_replace(pattern, text, repl)
        if got != want:
            wrong.append(f"{kind} {pattern!r} on {text!r} {repl!r}: Java {want}, ours {got}")
    assert not wrong, f"{len(wrong)} of {len(rows)} differ:\n" + "\n".join(wrong[:40])


@pytest.mark.parametrize("pattern", [r"a{", r"(?P<n>x)", r"(?#c)", r"\y", r"[a", r"[z-a]"])
def test_what_java_refuses_is_refused(pattern: str) -> None:
    with pytest.raises(javaregex.JavaRegexError, match="invalid regular expression"):
        javaregex.compile(pattern)


def test_ascii_patterns_search_bytes_as_text():
    p = javaregex.compile(r"^\d{14}")
    assert p.search_bytes is not None
    assert p.search_bytes(b"20160101123456,x") and not p.search_bytes("٢٠١٦".encode())
    assert javaregex.compile(r"^.{3}$").search_bytes is None  # "." is one character, not byte


def test_the_bytes_fast_path_answers_as_the_text_does():
    """Where a pattern searches bodies as bytes (no decode), it finds a match exactly where the
    Java-semantics text search does, on every input of the table."""
    fast = 0
    for pattern in PATTERNS:
        try:
            p = javaregex.compile(pattern)
        except javaregex.JavaRegexError:
            continue
        if p.search_bytes is None:
            continue
        fast += 1
        for text in INPUTS:
            want = p.search(text) is not None
            assert (p.search_bytes(text.encode()) is not None) == want, (pattern, text)
    assert fast >= 20
