"""Events travel in batches: a column of bodies, batch-wide headers, optional per-event headers.

Flume moves one ``Event`` (body + header map) at a time; we move an ``EventBatch`` so that the
hot path (read lines -> filter -> channel -> produce) touches a Python list, not an object and a
dict per event. The effective headers of event *i* are ``common`` overlaid with ``headers[i]``.

``marks``, when a source sets them, say where each event came from: ``(origin, position)``,
the stream (``agent/source/stream``) and the byte offset the event starts at in it. They are
not headers (no sink writes them out); they travel with the events through interceptors,
selectors and channels so that an exactly-once Kafka sink can commit each stream's read
position with the events and drop what it already wrote (docs/exactly-once.md). An event
without a mark has ``UNMARKED``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

Mark = tuple[str, int]  # (origin, the byte offset the event starts at in that stream)
UNMARKED: Mark = ("", -1)
# Marks as headers, between agents (an avro sink with originHeaders, an avro source)
ORIGIN_HEADER, OFFSET_HEADER = "eos.origin", "eos.offset"


class EventBatch:
    __slots__ = ("bodies", "common", "headers", "marks")

    def __init__(
        self,
        bodies: list[bytes] | None = None,
        common: dict[str, str] | None = None,
        headers: list[dict[str, str]] | None = None,
        marks: list[Mark] | None = None,
    ) -> None:
        self.bodies: list[bytes] = bodies if bodies is not None else []
        self.common: dict[str, str] = common if common is not None else {}
        # Per-event headers aligned with bodies, or None when no event has its own.
        self.headers: list[dict[str, str]] | None = headers
        if headers is not None and len(headers) != len(self.bodies):
            raise ValueError("per-event headers must align with bodies")
        # Per-event (origin, position), aligned with bodies, or None (see the module's doc).
        self.marks: list[Mark] | None = marks
        if marks is not None and len(marks) != len(self.bodies):
            raise ValueError("marks must align with bodies")

    def __len__(self) -> int:
        return len(self.bodies)

    def __bool__(self) -> bool:
        return bool(self.bodies)

    def __repr__(self) -> str:
        return f"EventBatch({len(self.bodies)} events, common={self.common!r})"

    def byte_size(self) -> int:
        return sum(map(len, self.bodies))

    def event_headers(self, i: int) -> dict[str, str]:
        """The merged headers of event *i* (a new dict)."""
        if self.headers is None:
            return dict(self.common)
        return {**self.common, **self.headers[i]}

    def header_of(self, i: int, key: str) -> str | None:
        """One header of event *i*, per-event first, without building a merged dict."""
        if self.headers is not None:
            value = self.headers[i].get(key)
            if value is not None:
                return value
        return self.common.get(key)

    def iter_events(self) -> Iterator[tuple[bytes, dict[str, str]]]:
        """(body, merged headers) pairs: for the slow paths (logger sink, event format)."""
        for i, body in enumerate(self.bodies):
            yield body, self.event_headers(i)

    def select(self, keep: Sequence[int]) -> EventBatch:
        """A batch of the events at the indexes *keep*, in order; shares ``common``."""
        bodies = self.bodies
        headers = None if self.headers is None else [self.headers[i] for i in keep]
        m = self.marks
        marks = None if m is None else [m[i] for i in keep]
        return EventBatch([bodies[i] for i in keep], self.common, headers, marks)

    def split(self, n: int) -> tuple[EventBatch, EventBatch]:
        """The first *n* events and the rest, as two batches sharing ``common``."""
        return self.slice(0, n), self.slice(n, len(self.bodies))

    def slice(self, start: int, end: int) -> EventBatch:
        """Events [start, end), sharing ``common``."""
        h, m = self.headers, self.marks
        return EventBatch(self.bodies[start:end], self.common,
                          None if h is None else h[start:end],
                          None if m is None else m[start:end])  # fmt: skip

    def with_bodies(self, bodies: list[bytes]) -> EventBatch:
        """The same events (same headers) with new bodies (a body-rewriting interceptor)."""
        return EventBatch(bodies, self.common, self.headers, self.marks)

    def set_header(self, key: str, value: str, preserve_existing: bool = False) -> None:
        """Set a header on every event of the batch."""
        if preserve_existing and key in self.common:
            return
        if self.headers is not None:
            if preserve_existing:
                # Events that already carry the key keep it; the others get the value.
                for h in self.headers:
                    h.setdefault(key, value)
                return
            for h in self.headers:
                h.pop(key, None)
        self.common = {**self.common, key: value}  # copy: common may be shared

    def with_mark_headers(self) -> EventBatch:
        """The batch with each event's mark also as headers (``eos.origin``, ``eos.offset``),
        for the next agent; unmarked events get none."""
        marks = self.marks
        if marks is None:
            return self
        own = self.headers
        headers = [
            ({} if own is None else dict(own[i])) if not origin
            else {**({} if own is None else own[i]), ORIGIN_HEADER: origin,
                  OFFSET_HEADER: str(offset)}
            for i, (origin, offset) in enumerate(marks)
        ]  # fmt: skip
        return EventBatch(self.bodies, self.common, headers, marks)

    def take_mark_headers(self) -> EventBatch:
        """The batch with marks read from (and removed from) the mark headers a previous agent
        sent (``with_mark_headers``); the batch itself if no event has them."""
        common, own = self.common, self.headers
        if ORIGIN_HEADER not in common and (own is None or not any(ORIGIN_HEADER in h
                                                                   for h in own)):  # fmt: skip
            return self
        shared = (common.get(ORIGIN_HEADER), common.get(OFFSET_HEADER))
        rest = {k: v for k, v in common.items() if k not in (ORIGIN_HEADER, OFFSET_HEADER)}
        marks: list[Mark] = []
        headers: list[dict[str, str]] | None = None if own is None else []
        for i in range(len(self.bodies)):
            h = {} if own is None else dict(own[i])
            origin = h.pop(ORIGIN_HEADER, shared[0])
            offset = h.pop(OFFSET_HEADER, shared[1])
            try:
                marks.append(UNMARKED if origin is None else (origin, int(offset or "")))
            except ValueError:
                marks.append(UNMARKED)
            if headers is not None:
                headers.append(h)
        return EventBatch(self.bodies, rest, headers, marks)

    def per_event(self) -> list[dict[str, str]]:
        """Per-event header dicts, materialised (for interceptors that vary by event)."""
        if self.headers is None:
            self.headers = [{} for _ in self.bodies]
        return self.headers

    @staticmethod
    def concat(batches: Iterable[EventBatch]) -> EventBatch:
        """Join batches into one. Batches with different ``common`` get per-event headers."""
        parts = [b for b in batches if b.bodies]
        if not parts:
            return EventBatch()
        if len(parts) == 1:
            return parts[0]
        marks: list[Mark] | None = None
        if any(p.marks is not None for p in parts):
            marks = []
            for p in parts:
                marks.extend(p.marks if p.marks is not None else [UNMARKED] * len(p.bodies))
        first = parts[0].common
        if all(p.common == first and p.headers is None for p in parts):
            bodies: list[bytes] = []
            for p in parts:
                bodies.extend(p.bodies)
            return EventBatch(bodies, first, None, marks)
        bodies = []
        headers: list[dict[str, str]] = []
        for p in parts:
            bodies.extend(p.bodies)
            if p.headers is None:
                headers.extend(dict(p.common) for _ in p.bodies)
            else:
                headers.extend({**p.common, **h} for h in p.headers)
        return EventBatch(bodies, {}, headers, marks)

    def to_dict(self) -> dict[str, Any]:
        return {"bodies": self.bodies, "common": self.common, "headers": self.headers}
