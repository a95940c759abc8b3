"""Pure logic of the agent's shared pieces: event batches and declared properties."""

from agents.config.context import Context, Raw
from agents.config.javaregex import JavaPattern
from agents.config.spec import Prop
from agents.event import EventBatch


def test_batch_select_split_and_headers():
    b = EventBatch([b"a", b"b", b"c"], {"file": "x"})
    kept = b.select([0, 2])
    assert kept.bodies == [b"a", b"c"] and kept.common == {"file": "x"}
    head, tail = b.split(1)
    assert head.bodies == [b"a"] and tail.bodies == [b"b", b"c"]
    b.per_event()[1]["key"] = "K"
    assert b.header_of(1, "key") == "K" and b.header_of(0, "key") is None
    assert b.event_headers(1) == {"file": "x", "key": "K"}


def test_set_header_preserve_existing_and_copy_on_write():
    shared = {"a": "1"}
    b1 = EventBatch([b"x"], shared)
    b1.set_header("t", "5")
    assert shared == {"a": "1"}, "common dicts may be shared between batches"
    b1.set_header("t", "6", preserve_existing=True)
    assert b1.common["t"] == "5"


def test_concat_mixed_common_headers():
    joined = EventBatch.concat([EventBatch([b"1"], {"f": "a"}), EventBatch([b"2"], {"f": "b"})])
    assert joined.bodies == [b"1", b"2"]
    assert [joined.header_of(i, "f") for i in range(2)] == ["a", "b"]


def test_marks_follow_their_events_through_select_split_concat_and_rewrites():
    marks = [("a/s/f", 0), ("a/s/f", 4), ("a/s/f", 9)]
    b = EventBatch([b"one", b"two", b"six"], {"k": "v"}, None, marks)
    assert b.select([0, 2]).marks == [("a/s/f", 0), ("a/s/f", 9)]
    head, tail = b.split(1)
    assert head.marks == marks[:1] and tail.marks == marks[1:]
    assert b.with_bodies([b"1", b"2", b"6"]).marks == marks
    plain = EventBatch([b"x"], {"k": "other"})
    joined = EventBatch.concat([tail, plain, head])
    assert joined.marks == [*marks[1:], ("", -1), marks[0]]
    assert EventBatch.concat([plain, plain]).marks is None


def test_marks_travel_as_headers_between_agents_and_back():
    b = EventBatch([b"one", b"two", b"x"], {"k": "v"}, None,
                   [("a/s/f", 0), ("a/s/f", 4), ("", -1)])  # fmt: skip
    sent = b.with_mark_headers()
    assert sent.event_headers(1) == {"k": "v", "eos.origin": "a/s/f", "eos.offset": "4"}
    assert sent.event_headers(2) == {"k": "v"}
    got = EventBatch(sent.bodies, dict(sent.common), [dict(h) for h in sent.headers or []])
    back = got.take_mark_headers()
    assert back.marks == b.marks and back.event_headers(1) == {"k": "v"}
    one = EventBatch([b"o"], {"eos.origin": "a/s/g", "eos.offset": "7", "k": "v"})
    assert one.take_mark_headers().marks == [("a/s/g", 7)]
    assert one.take_mark_headers().common == {"k": "v"}
    assert EventBatch([b"o"], {"k": "v"}).take_mark_headers().marks is None


def test_context_resolves_types_defaults_aliases_and_reports_problems():
    props = (
        Prop("batchSize", "int", 100, minimum=1),
        Prop("kafka.topic", "str", "default-flume-topic", aliases=("topic",)),
        Prop("regex", "regex", ".*"),
        Prop("kafka.producer.", "prefix"),
    )
    ctx = Context(
        "a.conf",
        "ag.sinks.k",
        {
            "batchSize": Raw("0", 3),
            "topic": Raw("T", 4),
            "regex": Raw(r"^\d{14}", 5),
            "kafka.producer.linger.ms": Raw("5", 6),
            "batchsize": Raw("1", 7),
            "type": Raw("kafka", 2),
        },
    )
    values = ctx.resolve(props)
    assert values["kafka.topic"] == "T"
    assert values["regex"].pattern == r"^\d{14}" and isinstance(values["regex"], JavaPattern)
    assert values["kafka.producer."] == {"linger.ms": "5"}
    msgs = {(p.line, p.key): p for p in ctx.problems}
    assert "at least 1" in msgs[(3, "ag.sinks.k.batchSize")].message
    assert "case-sensitive" in (msgs[(7, "ag.sinks.k.batchsize")].suggestion or "")
