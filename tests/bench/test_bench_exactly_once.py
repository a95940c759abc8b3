"""The exactly_once benchmark's pure parts: its configs and how it sums rounds up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.exactly_once import MODES, _summary, conf_text
from bench.flumeconf import Flow, spool_to_kafka


def test_each_mode_sets_the_sinks_properties_once() -> None:
    base = spool_to_kafka([Flow(Path("/spool"), "t")], "127.0.0.1:9092")
    eos = conf_text(base, MODES["eos"][1])
    assert "a.sinks.k1.exactlyOnce = true" in eos
    assert eos.count("a.sinks.k1.kafka.producer.acks") == 1
    assert "a.sinks.k1.kafka.producer.acks = all" in eos
    assert conf_text(base, MODES["alo-acks1"][1]) == base


def test_ratios_are_per_round_and_inexact_runs_count_for_nothing() -> None:
    def run(eps: int, problems: list[str] | None = None) -> dict[str, object]:
        return {"events_per_s": eps, "cpu_us_per_event": 1.0, "problems": problems or []}

    rounds: list[dict[str, Any]] = [
        {"alo-acks1": run(100), "alo-acksall": run(90), "eos": run(80)},
        {"alo-acks1": run(200), "alo-acksall": run(180), "eos": run(100, ["3 duplicates"])},
        {"alo-acks1": run(100), "alo-acksall": run(100), "eos": {"failed": "x"}},
    ]
    s = _summary(rounds)
    assert s["eos"]["rounds"] == 1 and s["eos"]["ratio"] == 0.8
    assert s["alo-acksall"]["ratio"] == 0.9 and "ratio" not in s["alo-acks1"]
