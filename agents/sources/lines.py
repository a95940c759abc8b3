"""Bytes to line events, shared by the file and command sources.

``LineSplitter`` is fed chunks and returns complete lines (without ``\\n``), keeping a partial
last line for the next chunk. A line longer than ``max_line`` bytes is cut to that length and
the rest of it skipped (Flume's LINE deserializer truncates too), so a 10 MB line never
becomes 10 MB of memory. Each chunk is checked for its charset in one C call; only a chunk
that fails is handled line by line under the decode-error policy (FAIL / REPLACE / IGNORE).
"""

from __future__ import annotations

import codecs

POLICIES = ("FAIL", "REPLACE", "IGNORE")


class DecodeFailure(Exception):
    """A line is not valid in the input charset and the policy is FAIL."""

    def __init__(self, line_index: int, reason: str, good: list[bytes]) -> None:
        super().__init__(reason)
        self.line_index = line_index  # index of the bad line within the chunk's lines
        self.good = good  # the lines before it, valid


class LineSplitter:
    def __init__(self, max_line: int = 2048, charset: str = "UTF-8", policy: str = "FAIL") -> None:
        self.max_line = max_line
        self.charset = codecs.lookup(charset).name
        self.policy = policy
        self._partial = b""
        self._skipping = False  # inside an over-long line, discarding up to its newline
        self.truncated = 0  # lines cut to max_line
        self.decode_errors = 0  # lines replaced or cleaned under REPLACE / IGNORE

    @property
    def pending(self) -> int:
        """Bytes held as a partial line (0 at a line boundary)."""
        return len(self._partial)

    def feed(self, chunk: bytes) -> list[bytes]:
        """Complete lines in *chunk* (plus what was held before)."""
        if self._skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                return []
            chunk = chunk[nl + 1 :]
            self._skipping = False
        data = self._partial + chunk if self._partial else chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > self.max_line:
            lines.append(self._partial[: self.max_line])
            self._partial = b""
            self._skipping = True
            self.truncated += 1
        if lines and max(map(len, lines)) > self.max_line:
            lines = [self._cut(line) for line in lines]
        return self._check(lines)

    def flush(self) -> list[bytes]:
        """The partial last line, if any (end of a finished file)."""
        rest, self._partial, self._skipping = self._partial, b"", False
        return self._check([rest]) if rest else []

    def _cut(self, line: bytes) -> bytes:
        if len(line) <= self.max_line:
            return line
        self.truncated += 1
        return line[: self.max_line]

    def _check(self, lines: list[bytes]) -> list[bytes]:
        if not lines:
            return lines
        joined = b"\n".join(lines)
        try:
            text = joined.decode(self.charset)
        except UnicodeDecodeError:
            return self._per_line(lines)
        if self.charset == "utf-8":
            return lines
        return text.encode("utf-8").split(b"\n")

    def _per_line(self, lines: list[bytes]) -> list[bytes]:
        out: list[bytes] = []
        errors = {"REPLACE": "replace", "IGNORE": "ignore"}.get(self.policy, "strict")
        for i, line in enumerate(lines):
            try:
                text = line.decode(self.charset)
            except UnicodeDecodeError as exc:
                if errors == "strict":
                    raise DecodeFailure(
                        i, f"not valid {self.charset} (byte {exc.start}: {exc.reason})", out
                    ) from None
                self.decode_errors += 1
                text = line.decode(self.charset, errors)
                out.append(text.encode("utf-8"))
                continue
            out.append(line if self.charset == "utf-8" else text.encode("utf-8"))
        return out
