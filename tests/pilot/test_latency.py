"""The latency figures the pilot, the dashboard and the bench print: p50, p99, p99.9, max."""

from __future__ import annotations

from labctl.pilot.latency import latency_text, percentiles


def test_percentiles_name_the_tail() -> None:
    p = percentiles(float(x) for x in range(1, 1001))
    assert p == {"p50_ms": 501.0, "p99_ms": 991.0, "p99_9_ms": 1000.0, "max_ms": 1000.0}
    assert percentiles([3.0]) == {"p50_ms": 3.0, "p99_ms": 3.0, "p99_9_ms": 3.0, "max_ms": 3.0}
    assert percentiles([]) == {}


def test_one_stall_shows_in_p99_9_and_max_not_in_p99() -> None:
    p = percentiles([5.0] * 9_990 + [400.0] * 10)
    assert p["p99_ms"] == 5.0 and p["p99_9_ms"] == 400.0 and p["max_ms"] == 400.0


def test_the_line_the_summary_and_the_dashboard_show() -> None:
    figures = {"latency_p50_ms": 6.1, "latency_p99_ms": 9.0, "latency_p99_9_ms": 12.3,
               "latency_max_ms": 20.4}  # fmt: skip
    assert latency_text(figures) == "latency p50 6.1 ms, p99 9.0, p99.9 12.3, max 20.4 ms"
    assert latency_text({}) == "latency p50 - ms, p99 -, p99.9 -, max - ms"  # an older report


def test_the_pilot_summary_prints_the_whole_tail() -> None:
    from labctl.commands.pilot import summary

    figures = {"throughput_rps": 1000.0, "latency_p50_ms": 4.0, "latency_p99_ms": 8.1,
               "latency_p99_9_ms": 9.7, "latency_max_ms": 15.2}  # fmt: skip
    caption = str(summary(figures, 63.0).caption)
    assert "latency p50 4.0 ms, p99 8.1, p99.9 9.7, max 15.2 ms; pilot took 63 s" in caption
