"""regex_extractor: groups to headers with the pass-through and millis serializers."""

import time

import pytest

from agents.event import EventBatch
from agents.interceptors.regex_extractor import RegexExtractorInterceptor
from tests.agents.interceptor_helpers import configured

MILLIS = "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer"


def test_groups_become_headers_with_serializers() -> None:
    icp = configured(
        RegexExtractorInterceptor,
        regex="^(\\d{14}),(\\w+),(\\d+)?",
        serializers="t car x",
        **{"serializers.t.name": "ts", "serializers.t.type": MILLIS,
           "serializers.t.pattern": "yyyyMMddHHmmss", "serializers.car.name": "car",
           "serializers.x.name": "x", "serializers.x.type": "DEFAULT"},
    )  # fmt: skip
    batch = EventBatch([b"20160101000004,K0001,93", b"garbage", b"20160101000008,K0002,"],
                       {"logType": "status"})  # fmt: skip
    out = icp.intercept(batch)
    local = int(time.mktime((2016, 1, 1, 0, 0, 4, 0, 0, -1)) * 1000)
    assert out.event_headers(0) == {
        "logType": "status",
        "ts": str(local),
        "car": "K0001",
        "x": "93",
    }
    assert out.event_headers(1) == {"logType": "status"}  # no match: untouched
    assert out.event_headers(2)["x"] == "null"  # a group that did not take part: Flume's null


def test_an_unreadable_date_skips_the_header_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    icp = configured(RegexExtractorInterceptor, regex="^(\\d+)", serializers="t",
                     **{"serializers.t.name": "ts", "serializers.t.type": MILLIS,
                        "serializers.t.pattern": "yyyyMMdd"})  # fmt: skip
    out = icp.intercept(EventBatch([b"20161399 bad month", b"20160102 ok"]))
    assert "ts" not in out.event_headers(0) and out.event_headers(1)["ts"]
    assert "header ts not set from '20161399'" in caplog.text


def test_bad_serializer_settings_are_named() -> None:
    bad = configured(RegexExtractorInterceptor, False, regex="(a)(b)", serializers="s",
                     **{"serializers.s.type": "com.example.Mine",
                        "serializers.s.nme": "x"})  # fmt: skip
    assert "serializers.s.name: is required" in bad.problems
    assert "serializers.s.type: unknown serializer 'com.example.Mine'" in bad.problems
    assert "serializers.s.nme: is not a serializer setting" in bad.problems
    assert "names 1 serializer(s) for 2 group(s)" in bad.problems
    bad = configured(RegexExtractorInterceptor, False, regex="(a)", serializers="s",
                     **{"serializers.s.name": "h", "serializers.s.type": MILLIS,
                        "serializers.s.pattern": "yyyy-QQ"})  # fmt: skip
    assert "'QQ' is not supported" in bad.problems
