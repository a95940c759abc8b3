"""`python -m bench` runs every part it was asked for: one that fails is that part's failure
(reason printed and kept in the JSON, exit status 1), the others still run. No Kafka: the
parts here are stand-ins for the harness's sake, which is what is under test. Also the trace's
arithmetic on made-up stamps."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import main
from bench.options import Options
from bench.realtime import Followed
from bench.trace import HOPS, analyse


@pytest.fixture(autouse=True)
def lab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("LABCTL_HOME", str(tmp_path / "home"))
    before = signal.getsignal(signal.SIGTERM)  # main() makes SIGTERM unwind like Ctrl-C
    yield tmp_path / "home"
    signal.signal(signal.SIGTERM, before)


def figures(home: Path) -> dict[str, Any]:
    [path] = (home / "bench").glob("bench-*.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def parts(**named: Callable[[Options], Any]) -> Callable[[str], Callable[[Options], Any]]:
    return named.__getitem__


def test_a_failing_part_is_reported_and_the_next_parts_still_run(
    lab_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []

    def boom(options: Options) -> Any:
        ran.append("peers")
        raise RuntimeError("KafkaException _UNKNOWN_PARTITION: Failed to get watermark offsets")

    def fine(name: str) -> Callable[[Options], Any]:
        def run(options: Options) -> Any:
            ran.append(name)
            assert options.quick
            return {"figure": 1}

        return run

    code = main(["--quick", "peers", "scale", "avro_rpc"],
                parts(peers=boom, scale=fine("scale"), avro_rpc=fine("avro_rpc")))  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert ran == ["peers", "scale", "avro_rpc"]
    assert "bench: peers FAILED after" in out and "_UNKNOWN_PARTITION" in out
    assert "bench: scale, avro_rpc done in" in out and "FAILED: peers" in out
    data = figures(lab_home)
    assert data["failed"] == ["peers"]
    assert data["peers"]["failed"].startswith("RuntimeError: KafkaException _UNKNOWN_PARTITION")
    assert "Traceback" in data["peers"]["traceback"]
    assert data["scale"] == data["avro_rpc"] == {"figure": 1}


def test_a_part_that_cannot_even_be_imported_fails_alone(
    lab_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def load(name: str) -> Callable[[Options], Any]:
        if name == "peers":
            raise ImportError("No module named 'confluent_kafka'")
        return lambda options: {"ok": True}

    assert main(["peers", "file_channel"], load) == 1
    data = figures(lab_home)
    assert data["failed"] == ["peers"] and data["file_channel"] == {"ok": True}
    assert "ImportError" in data["peers"]["failed"]


def test_every_part_done_exits_0(lab_home: Path) -> None:
    assert main(["simulator", "avro_rpc"], lambda name: lambda options: None) == 0
    assert figures(lab_home)["failed"] == []


def test_ctrl_c_stops_the_run_and_still_writes_what_was_done(lab_home: Path) -> None:
    def interrupted(options: Options) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        main(
            ["simulator", "peers", "scale"],
            parts(simulator=lambda o: {"s": 1}, peers=interrupted, scale=lambda o: {}),
        )
    data = figures(lab_home)
    assert data["simulator"] == {"s": 1} and "peers" not in data and "scale" not in data


def test_the_trace_blames_the_hop_where_the_tail_lines_waited(tmp_path: Path) -> None:
    """100 lines, each 1 ms per hop; line 7 waited 90 ms between put and take."""
    t0 = 1_000_000.0
    written = {i: t0 + i / 1000 for i in range(100)}
    records: list[list[Any]] = []
    appended = {}
    for i, w in written.items():
        stall = 0.090 if i == 7 else 0.0
        records += [
            ["read", w + 0.001, i, i],
            ["put", w + 0.002, i, i],
            ["take", w + 0.003 + stall, i, i],
            ["produced", w + 0.004 + stall, i, i],
        ]
        appended[i] = (w + 0.005 + stall) * 1000
    records.append(["gc", t0, 0.002, 0])
    records.append(["take_wait", t0, 0.0005, 1, True])
    run = Followed("exec", written, appended, 0.0, 1.0, tmp_path)
    a = analyse(run, records)
    assert a["traced"] == 100
    assert a["median"]["put->take"] == pytest.approx(1.0, abs=0.01)
    assert a["worst"][0]["line"] == 7 and a["worst"][0]["put->take"] == pytest.approx(91, abs=0.1)
    assert a["tail_blame"] == {"put->take": 1}
    assert set(a["median"]) == {*HOPS, "total"}
    assert a["gc"]["count"] == 1 and a["takes"]["woken_by_put"] == 1
