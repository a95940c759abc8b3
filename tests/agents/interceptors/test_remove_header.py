"""remove_header: by name, from a list and by a regex, in batch-wide and per-event headers."""

from agents.event import EventBatch
from agents.interceptors.remove_header import RemoveHeaderInterceptor
from tests.agents.interceptor_helpers import configured


def test_removes_by_name_list_and_regex_everywhere() -> None:
    shared = {"keep": "1", "drop": "2", "x-a": "3", "l1": "4"}
    batch = EventBatch([b"a", b"b"], shared, [{"l2": "5", "keep2": "6"}, {"x-b": "7"}])
    icp = configured(RemoveHeaderInterceptor, withName="drop", fromList="l1 ,l2",
                     matching="x-.*")  # fmt: skip
    out = icp.intercept(batch)
    assert [out.event_headers(i) for i in range(2)] == [
        {"keep": "1", "keep2": "6"}, {"keep": "1"}]  # fmt: skip
    assert shared == {"keep": "1", "drop": "2", "x-a": "3", "l1": "4"}  # shared dict untouched
    assert out.bodies == [b"a", b"b"]


def test_custom_separator_and_whole_name_match() -> None:
    batch = EventBatch([b"a"], {"a": "1", "b": "2", "ab": "3"})
    icp = configured(RemoveHeaderInterceptor, fromList="a|b", fromListSeparator="\\|",
                     matching="a")  # fmt: skip
    assert icp.intercept(batch).event_headers(0) == {"ab": "3"}  # 'a' matches 'a', not 'ab'


def test_nothing_to_remove_is_a_warning_and_a_bad_regex_an_error() -> None:
    icp = configured(RemoveHeaderInterceptor, False)
    assert "removes nothing" in icp.problems
    icp = configured(RemoveHeaderInterceptor, False, matching="(")
    assert "matching: invalid regular expression" in icp.problems
