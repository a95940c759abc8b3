"""Bytes to line events, shared by spooldir, TAILDIR and exec.

A ``LineSplitter`` is fed the chunks of one stream and returns its events: complete lines
without their ending, and the pieces of a line longer than ``max_chars`` *characters*, split
the way Flume's LineDeserializer splits it (every ``max_chars`` characters from the line's
start, never inside a character; nothing is thrown away). A line still being written is held
only up to ``4 * max_chars`` bytes before its first pieces go out, so memory stays bounded.

Line endings (``endings``), as each Flume source has them:
- ``LF``: ``\\n`` only; a ``\\r`` stays in the body (spooldir, Flume's LineDeserializer);
- ``CRLF``: ``\\n``, and a ``\\r`` just before it is dropped (TAILDIR);
- ``ANY``: ``\\n``, ``\\r\\n`` or a lone ``\\r`` (exec, Java's ``BufferedReader.readLine``).

Text (``policy``): ``FAIL`` raises ``DecodeFailure`` on bytes invalid in ``charset``;
``REPLACE`` puts U+FFFD in their place; ``IGNORE`` drops them; ``RAW`` passes bytes through
unchanged (TAILDIR, as Flume's). Bodies are re-encoded in ``output`` (default UTF-8).

Each chunk is checked in one C call (``isascii`` first: ASCII is valid and unchanged in the
charsets of ``ASCII_SAME``, so such a chunk is not decoded at all); only a chunk with an
over-long or invalid line goes line by line. ``boundary`` is the stream offset just after the
last complete line (exact for ``LF`` and ``CRLF``): callers record read positions only there,
so a restart never begins inside a line.
"""

from __future__ import annotations

import codecs
from itertools import accumulate, count
from operator import add

from agents.config.spec import Prop

POLICIES = ("FAIL", "REPLACE", "IGNORE")
ENDINGS = ("LF", "CRLF", "ANY")
MAX_BYTES_PER_CHAR = 4  # UTF-8 and every ASCII-compatible charset we accept
# codecs in which every ASCII byte is that same character (unlike, say, UTF-7's "+")
ASCII_SAME = frozenset(("utf-8", "ascii", "iso8859-1", "cp1252", "euc_kr", "cp949"))
# exec's and TAILDIR's cap: x 4 bytes at most, under Kafka's 1,000,000-byte records
STREAM_MAX_CHARS = 200_000
STREAM_LINE_CAP = Prop(
    "maxLineLength",
    "int",
    STREAM_MAX_CHARS,
    "Most characters per event (ours); a longer line becomes several events. The default "
    "keeps every event under Kafka's 1,000,000-byte message limit.",
    minimum=1,
)
# spooldir's and TAILDIR's (Flume's same property in both file sources)
FILE_HEADER_KEY = Prop("fileHeaderKey", "str", "file", "Header name for fileHeader.")


class DecodeFailure(Exception):
    """A line is not valid in the input charset and the policy is FAIL."""

    def __init__(self, reason: str, good: list[bytes]) -> None:
        super().__init__(reason)
        self.good = good  # the events before the bad line, valid


def check_charset(name: str) -> str:
    """The codec's name; raises LookupError (unknown) or ValueError (line ends not bytes)."""
    info = codecs.lookup(name)
    if "\n".encode(info.name) != b"\n" or "\r".encode(info.name) != b"\r":
        raise ValueError(f"{name} is not ASCII-compatible: its line ends are not single bytes")
    return info.name


class LineSplitter:
    def __init__(
        self,
        max_chars: int = 2048,
        charset: str = "UTF-8",
        policy: str = "FAIL",
        endings: str = "LF",
        start: int = 0,
        output: str = "UTF-8",
        offsets: bool = False,
    ) -> None:
        self.max_chars = max_chars
        self.charset = check_charset(charset)
        self.output = codecs.lookup(output).name
        self.policy = policy
        self.endings = endings
        self.position = start  # stream offset of the next byte to be fed
        self.split_lines = 0  # lines split into several events
        self.split_at: list[int] = []  # offsets of lines split since the caller last looked
        self.decode_errors = 0  # lines with bytes replaced or dropped (REPLACE / IGNORE)
        self.offsets: list[int] | None = [] if offsets else None  # start of each event returned
        # ASCII bytes are valid in the input and unchanged in the output (checked in one C call)
        self._ascii_passes = self.charset in ASCII_SAME and self.output in ASCII_SAME
        self._held = b""  # bytes of the current line not yet returned
        self._emitted = 0  # bytes of the current line already returned as pieces

    @property
    def boundary(self) -> int:
        """Stream offset just after the last complete line."""
        return self.position - len(self._held) - self._emitted

    @property
    def pending(self) -> int:
        """Bytes read past the boundary (the line in progress)."""
        return len(self._held) + self._emitted

    def feed(self, chunk: bytes) -> list[bytes]:
        """The events that *chunk* completes (plus what was held before)."""
        self.position += len(chunk)
        data = self._held + chunk if self._held else chunk
        base = self.position - len(data)  # stream offset of data's first byte
        if self.endings == "ANY" and b"\r" in data:
            data = _any_to_lf(data)
        cut = data.rfind(b"\n")
        if cut < 0:
            self._held = data
            out: list[bytes] = []
        else:
            self._held = data[cut + 1 :]
            block = data[:cut]
            lines = block.split(b"\n")
            starts = None
            if self.offsets is not None:  # line i starts after lines 0..i-1 and i newlines
                base = self.position - len(data)
                starts = list(map(add, accumulate(map(len, lines[:-1]), initial=base), count()))
            if self.endings == "CRLF" and b"\r" in data:
                lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
            out = self._lines(lines, starts, block, base)
            self._emitted = 0
        if len(self._held) > MAX_BYTES_PER_CHAR * self.max_chars:
            try:
                out.extend(self._pieces_of_held())
            except DecodeFailure as exc:
                raise DecodeFailure(str(exc), out) from None
        return out

    def flush(self) -> list[bytes]:
        """The end of the stream: what is held is the last line."""
        rest = self._held
        if self.endings == "ANY" and rest.endswith(b"\r"):
            rest = rest[:-1]
        if not rest and not self._emitted:
            self._held = b""
            return []
        base = self.position - len(self._held)
        starts = None if self.offsets is None else [base]
        out = self._lines([rest], starts, base=base)
        self._held, self._emitted = b"", 0
        return out

    def drop_partial(self) -> int:
        """Forget the line in progress (exec at shutdown, as Flume); the bytes dropped."""
        dropped = len(self._held)
        self._held, self._emitted = b"", 0
        return dropped

    # -- whole lines -------------------------------------------------------------------------
    def _lines(
        self,
        lines: list[bytes],
        starts: list[int] | None,
        block: bytes | None = None,
        base: int | None = None,
    ) -> list[bytes]:
        """*block*, if given, is *lines* joined by ``\\n`` (their bytes, for one check);
        *base* is the stream offset of the first line (for where a split line starts)."""
        continued = self._emitted > 0  # the first line's earlier pieces went out already
        if not continued and max(map(len, lines)) <= self.max_chars:
            if starts is not None and self.offsets is not None:
                self.offsets.extend(starts)
            if block is not None and self._ascii_passes and block.isascii():
                return lines  # ASCII is valid and the same bytes in the output: no decoding
            return self._decode(lines)  # bytes >= characters: nothing is over-long
        out: list[bytes] = []
        at = base
        for i, line in enumerate(lines):
            here = starts[i] if starts else at
            if at is not None:
                at += len(line) + 1
            rest_of_split = i == 0 and continued
            if rest_of_split or len(line) > self.max_chars:
                text = self._text(line, out)
                if rest_of_split or len(text) > self.max_chars:
                    if not rest_of_split:
                        self._note_split(here)
                    out.extend(self._pieces(text, starts[i] if starts else None))
                    continue
            if starts is not None and self.offsets is not None:
                self.offsets.append(starts[i])
            try:
                out.extend(self._decode([line]))
            except DecodeFailure as exc:
                raise DecodeFailure(str(exc), out) from None
        return out

    def _decode(self, lines: list[bytes]) -> list[bytes]:
        if self.policy == "RAW":
            return lines
        joined = b"\n".join(lines)
        try:
            text = joined.decode(self.charset)
        except UnicodeDecodeError:
            return self._per_line(lines)
        if self.charset == self.output:
            return lines
        return text.encode(self.output).split(b"\n")

    def _per_line(self, lines: list[bytes]) -> list[bytes]:
        out: list[bytes] = []
        errors = {"REPLACE": "replace", "IGNORE": "ignore"}.get(self.policy, "strict")
        for line in lines:
            try:
                text = line.decode(self.charset)
            except UnicodeDecodeError as exc:
                if errors == "strict":
                    reason = f"not valid {self.charset} (byte {exc.start}: {exc.reason})"
                    raise DecodeFailure(reason, out) from None
                self.decode_errors += 1
                out.append(line.decode(self.charset, errors).encode(self.output))
                continue
            out.append(line if self.charset == self.output else text.encode(self.output))
        return out

    # -- over-long lines -----------------------------------------------------------------------
    def _text(self, raw: bytes, good: list[bytes]) -> str:
        """A line as characters; an invalid byte is one (escape) character."""
        try:
            return raw.decode(self.charset)
        except UnicodeDecodeError as exc:
            if self.policy == "FAIL":
                reason = f"not valid {self.charset} (byte {exc.start}: {exc.reason})"
                raise DecodeFailure(reason, good) from None
            if self.policy != "RAW":
                self.decode_errors += 1
            return raw.decode(self.charset, "surrogateescape")

    def _pieces(self, text: str, start: int | None) -> list[bytes]:
        """*text* cut every ``max_chars`` characters, each piece encoded for its event."""
        m = self.max_chars
        pieces = [text[i : i + m] for i in range(0, len(text), m)]
        raws = [p.encode(self.charset, "surrogateescape") for p in pieces]
        if start is not None and self.offsets is not None:
            for raw in raws:
                self.offsets.append(start)
                start += len(raw)
        if self.policy == "RAW":
            return raws
        errors = {"REPLACE": "replace", "IGNORE": "ignore"}.get(self.policy, "strict")
        out = []
        for piece, raw in zip(pieces, raws, strict=True):
            try:
                out.append(piece.encode(self.output))
            except UnicodeEncodeError:  # escaped invalid bytes: apply the policy to them
                out.append(raw.decode(self.charset, errors).encode(self.output))
        return out

    def _pieces_of_held(self) -> list[bytes]:
        """Whole pieces of a line still being written; the rest stays held."""
        errors = "strict" if self.policy == "FAIL" else "surrogateescape"
        decoder = codecs.getincrementaldecoder(self.charset)(errors)
        try:
            text = decoder.decode(self._held, final=False)
        except UnicodeDecodeError as exc:
            raise DecodeFailure(f"not valid {self.charset} ({exc.reason})", []) from None
        whole = len(text) // self.max_chars * self.max_chars
        if not whole:
            return []
        start = self.position - len(self._held)
        if self._emitted == 0:
            self._note_split(start)
        raw = text[:whole].encode(self.charset, "surrogateescape")
        self._held = self._held[len(raw) :]
        self._emitted += len(raw)
        return self._pieces(text[:whole], start)

    def _note_split(self, at: int | None) -> None:
        self.split_lines += 1
        self.split_at.append(self.boundary if at is None else at)


def _any_to_lf(data: bytes) -> bytes:
    """CRLF and lone CR as LF; a CR at the very end is kept (a LF may follow in the next chunk)."""
    tail = b"\r" if data.endswith(b"\r") else b""
    if tail:
        data = data[:-1]
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + tail
