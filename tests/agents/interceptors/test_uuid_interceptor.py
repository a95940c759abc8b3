"""uuid: a distinct id per event, kept when present, by alias and by Flume's class name."""

import uuid

from agents.config.properties import parse_properties
from agents.config.topology import build_plan
from agents.event import EventBatch
from agents.interceptors.uuid import UuidInterceptor
from tests.agents.interceptor_helpers import configured


def test_each_event_gets_its_own_id_and_existing_ones_stay() -> None:
    batch = EventBatch([b"a", b"b", b"c"], {}, [{}, {"id": "given"}, {}])
    out = configured(UuidInterceptor, prefix="car-").intercept(batch)
    ids = [out.header_of(i, "id") for i in range(3)]
    assert ids[1] == "given"
    assert ids[0] != ids[2] and all(i.startswith("car-") for i in (ids[0], ids[2]))
    uuid.UUID(ids[0][4:])  # a real UUID
    out = configured(UuidInterceptor, headerName="eid", preserveExisting="false").intercept(
        EventBatch([b"x"], {"eid": "old"})
    )
    assert out.header_of(0, "eid") != "old"


def test_flumes_builder_class_name_names_it() -> None:
    text = (
        "a.sources = s\na.channels = c\na.sources.s.type = exec\na.sources.s.command = true\n"
        "a.sources.s.channels = c\n"
        "a.sources.s.interceptors = u\na.sources.s.interceptors.u.type = "
        "org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder\na.channels.c.type = memory\n"
    )
    plan = build_plan(parse_properties(text, "u.conf"), "a")
    assert [i.type_name for i in plan.sources["s"].interceptors] == ["uuid"]
