"""The bench's arithmetic and parsing, on made-up inputs: medians, ratios, exactness, py-spy."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.__main__ import parse
from bench.options import Options
from bench.peers import summarise, targets
from bench.profile import Profile
from bench.scale import label, layouts, limit


def run(
    eps: float, events: int = 1000, cpu_us: float = 2.0, problems: list[str] | None = None
) -> dict[str, Any]:
    seconds = events / eps
    return {"events": events, "seconds": seconds, "cpu_seconds": cpu_us * events / 1e6,
            "peak_rss_mb": 50.0, "problems": problems or []}  # fmt: skip


def test_medians_and_per_round_ratios() -> None:
    rounds = [
        {"agent": run(100), "rsyslog": run(200)},
        {"agent": run(300), "rsyslog": run(150)},
        {"agent": run(200), "rsyslog": run(100)},
    ]
    s = summarise(rounds, ["agent", "rsyslog"])
    assert s["agent"]["events_per_s"] == pytest.approx(200)
    assert s["rsyslog"]["events_per_s"] == pytest.approx(150)
    # ratios are taken within each round (0.5, 2, 2), then the median
    assert s["rsyslog"]["agent_speed_ratio"] == pytest.approx(2.0)
    assert "agent_speed_ratio" not in s["agent"]


def test_failed_and_inexact_runs_count_for_nothing() -> None:
    rounds = [
        {"agent": run(100), "kcat": {"failed": "kcat died"}},
        {"agent": run(100), "kcat": run(10_000, problems=["1,001 records, not 1,000"])},
        {"agent": run(100), "kcat": run(400)},
    ]
    s = summarise(rounds, ["agent", "kcat", "flume"])
    assert s["kcat"]["rounds"] == 1
    assert s["kcat"]["agent_speed_ratio"] == pytest.approx(0.25)
    assert "flume" not in s  # never ran: no row, no made-up figure


def test_targets_are_judged_and_a_miss_is_shown() -> None:
    s = summarise([{"agent": run(100, cpu_us=3.0), "rsyslog": run(100), "kcat": run(200)}],
                  ["agent", "rsyslog", "kcat"])  # fmt: skip
    lines = "\n".join(targets(s))
    assert "rsyslog" in lines and "MISSED" in lines  # 1.0x < 1.2x, 3 us > 2 us
    assert "kcat events/s       0.50x   target >= 0.4x  ok" in lines


PY_SPY_RAW = """\
thread (11): sink-k1;Thread._bootstrap (threading.py:988);SinkRunner._run (agents/runtime.py:40);\
KafkaSink._produce (agents/sinks/kafka.py:206);Producer_produce (cimpl.so) 6
thread (11): sink-k1;Thread._bootstrap (threading.py:988);SinkRunner._run (agents/runtime.py:40);\
0x7f00 (libc.so.6) 2
thread (12): source-s1;Thread._bootstrap (threading.py:988);SpoolDirSource.run (spooldir.py:158) 2
"""


def test_py_spy_raw_output_is_shared_out_by_thread_and_frame() -> None:
    p = Profile.parse(PY_SPY_RAW)
    assert p.total == 10
    assert p.by_thread() == Counter({"sink-k1": 8, "source-s1": 2})
    assert p.self_time()["Producer_produce (cimpl.so)"] == 6
    assert p.self_time()["[libc.so.6 unresolved]"] == 2
    inclusive = p.inclusive()
    assert inclusive["SinkRunner._run (agents/runtime.py:40)"] == 8
    assert "Thread._bootstrap (threading.py:988)" not in inclusive  # every thread's root


def test_command_line() -> None:
    chosen, options = parse(["--quick", "peers", "--only", "kcat,rsyslog"])
    assert chosen == ["peers"] and options.rounds == 1 and options.cars == 10
    assert options.only == ("kcat", "rsyslog")
    chosen, options = parse([])
    assert "profile" not in chosen and options.rounds == 3 and options.cars == 100
    for wrong in (["fastest"], ["--rounds", "0"], ["--only", "kact"]):
        with pytest.raises(SystemExit) as exc:
            parse(wrong)
        assert exc.value.code == 2


def test_scale_runs_one_agent_then_two_agents_and_reads_each_gil_apart() -> None:
    assert layouts(Options(quick=True)) == [((1,), False), ((2,), False), ((1, 1), False),
                                            ((2,), True)]  # fmt: skip
    assert [a for a, _ in layouts(Options())] == [(1,), (2,), (3,), (4,), (1, 1), (2,)]
    one = {"flows": 2, "agents": 1, "cores": 2, "gil_held": None, "machine_busy_cores": 1.0,
           "threads_cores": {"python": 0.9, "librdkafka": 0.1}}  # fmt: skip
    assert label(one) == "2 flows" and limit(one) == "the GIL"
    two = {**one, "agents": 2, "gils": 2}  # 0.45 of a core per GIL: not the GIL
    assert label(two) == "2 flows in 2 agents" and limit(two) == "waiting, not CPU"
    processes = {**one, "flow_processes": True, "gils": 2}  # one agent, a GIL per flow
    assert label(processes) == "2 flows, flow processes"
    assert limit(processes) == "waiting, not CPU"
