"""The multiplexing selector: a header's value picks each event's channels (mapping, default,
optional), whole batches stay whole, and what the config gets wrong is named."""

from __future__ import annotations

from pathlib import Path

from agents.channels.memory import MemoryChannel
from agents.channels.selectors import MultiplexingSelector
from agents.config.context import Context, Raw
from agents.event import EventBatch
from tests.agents.agent_helpers import running, take_all


def selector(**props: str) -> tuple[MultiplexingSelector, Context, dict[str, MemoryChannel]]:
    channels = {n: MemoryChannel(n) for n in ("c1", "c2", "c3")}
    sel = MultiplexingSelector(list(channels.values()))
    ctx = Context("m.conf", "a.sources.s.selector", {k: Raw(v, 1) for k, v in props.items()})
    sel.configure(ctx)
    return sel, ctx, channels


def test_mapping_default_and_optional_per_event() -> None:
    sel, ctx, ch = selector(**{"header": "mode", "mapping.aggressive": "c1",
                               "mapping.normal": "c2", "default": "c3",
                               "optional.aggressive": "c1 c3"})  # fmt: skip
    assert not ctx.problems
    modes = [{"mode": "aggressive"}, {"mode": "normal"}, {"mode": "odd"}, {}]
    batch = EventBatch([b"a", b"n", b"x", b"none"], {}, modes)
    route = sel.route(batch)
    assert {c.name: b.bodies for c, b in route.required.items()} == {
        "c1": [b"a"], "c2": [b"n"], "c3": [b"x", b"none"]}  # fmt: skip
    # optional c1 is already required for 'aggressive': only c3 is optional
    assert {c.name: b.bodies for c, b in route.optional.items()} == {"c3": [b"a"]}
    assert route.unrouted == 0
    whole = EventBatch([b"1", b"2"], {"mode": "normal"})
    assert sel.route(whole).required == {ch["c2"]: whole}  # a batch-wide value: not split


def test_no_default_drops_unmapped_events_and_warns() -> None:
    sel, ctx, _ = selector(**{"header": "mode", "mapping.a": "c1"})
    assert [p.severity for p in ctx.problems] == ["warning"]
    assert "go nowhere" in str(ctx.problems[0])
    route = sel.route(EventBatch([b"x", b"y"], {}, [{"mode": "a"}, {"mode": "b"}]))
    assert route.unrouted == 1


def test_unknown_channels_and_empty_mappings_are_errors() -> None:
    _, ctx, _ = selector(**{"mapping.a": "c1 c9", "default": "c4", "mapping.b": ""})
    text = "\n".join(str(p) for p in ctx.problems)
    assert "a.sources.s.selector.mapping.a: names channel 'c9', which is not one of" in text
    assert "selector.default: names channel 'c4'" in text
    assert "selector.mapping.b: names no channel" in text


def test_an_agent_splits_a_stream_by_header(tmp_path: Path) -> None:
    conf = (
        "a.sources = s\na.channels = c1 c2\n"
        "a.sources.s.type = seq\na.sources.s.totalEvents = 100\na.sources.s.batchSize = 10\n"
        "a.sources.s.channels = c1 c2\na.sources.s.interceptors = odd\n"
        "a.sources.s.interceptors.odd.type = regex_extractor\n"
        "a.sources.s.interceptors.odd.regex = ([13579])$\n"
        "a.sources.s.interceptors.odd.serializers = d\n"
        "a.sources.s.interceptors.odd.serializers.d.name = odd\n"
        "a.sources.s.selector.type = multiplexing\na.sources.s.selector.header = odd\n"
        + "".join(f"a.sources.s.selector.mapping.{d} = c1\n" for d in "13579")
        + "a.sources.s.selector.default = c2\n"
        "a.channels.c1.type = memory\na.channels.c2.type = memory\n"
    )
    with running(conf, state_dir=tmp_path) as agent:
        odd = take_all(agent.channels["c1"], 50)
        even = take_all(agent.channels["c2"], 50)
    assert [int(b) for b in odd.bodies] == list(range(1, 100, 2))
    assert [int(b) for b in even.bodies] == list(range(0, 100, 2))
    assert agent.sources["s"].counters.get("EventUnroutedCount") == 0
