"""search_replace: Java replacement syntax, charsets, and invalid bytes."""

from agents.event import EventBatch
from agents.interceptors.search_replace import SearchReplaceInterceptor
from tests.agents.interceptor_helpers import configured


def test_groups_dollars_and_headers_kept() -> None:
    icp = configured(
        SearchReplaceInterceptor, searchPattern="^(\\d{8})(\\d{6}),", replaceString="$1 $2 \\$,"
    )
    batch = EventBatch([b"20160101000004,K0001", b"no match"], {"h": "v"})
    out = icp.intercept(batch)
    assert out.bodies == [b"20160101 000004 $,K0001", b"no match"]
    assert out.common == {"h": "v"}
    empty = configured(SearchReplaceInterceptor, searchPattern="\\s+")
    assert empty.intercept(EventBatch([b"a b  c"])).bodies == [b"abc"]  # no replaceString: ""


def test_charset_and_invalid_bytes() -> None:
    icp = configured(
        SearchReplaceInterceptor, searchPattern="é", replaceString="e", charset="ISO-8859-1"
    )
    assert icp.intercept(EventBatch(["café".encode("latin-1")])).bodies == [b"cafe"]
    utf8 = configured(SearchReplaceInterceptor, searchPattern="x", replaceString="y")
    assert utf8.intercept(EventBatch([b"x\xff"])).bodies == ["y\ufffd".encode()]


def test_bad_settings_are_errors() -> None:
    assert (
        "is required but empty"
        in configured(SearchReplaceInterceptor, False, searchPattern="").problems
    )
    bad = configured(SearchReplaceInterceptor, False, searchPattern="a", replaceString="$x")
    assert "replaceString: '$' at 0 is not followed by a group number" in bad.problems
    assert "unknown charset" in configured(SearchReplaceInterceptor, False, searchPattern="a",
                                           charset="nope").problems  # fmt: skip
