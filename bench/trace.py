"""Where a line's latency goes on the live path, hop by hop: ``python -m bench trace``.

Runs ``bench.realtime``'s flows (exec ``tail -F`` and TAILDIR, 1,000 lines/s) with the agent
started through ``bench.tracehook``, which stamps each line at every hop inside the agent.
With the writer's clock before and the broker's LogAppendTime after, a line's latency splits
into:

- ``write->read``: the line written until the source has its bytes (``tail -F`` and the pipe,
  or inotify and ``pread``; and the source's 5 ms gather);
- ``read->put``: split into events, through interceptors, committed to the channel;
- ``put->take``: in the channel until the sink's take returns it (a missed wake-up shows here);
- ``take->handed``: the sink produces the batch (the records are in librdkafka's queue);
- ``handed->appended``: librdkafka's linger and request, the broker appending it.

It prints each hop's median over all lines and over the lines of the tail (p99 and worse),
which hop made each tail line slow, the ten slowest lines, and what else the agent did
meanwhile: garbage collections, TAILDIR's position writes, and how the sink's takes waited.
Not a default part of ``make bench`` (the hook costs a little); it is the tool that found what
``docs/performance.md`` says about the tail.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench.lab import Topics, bench_lab
from bench.options import Options
from bench.realtime import SECONDS, Followed, follow, line, warm_broker
from bench.report import table

HOPS = ("write->read", "read->put", "put->take", "take->handed", "handed->appended")
STAMPS = ("read", "put", "take", "produced")  # the agent's stamps, in the order a line meets them


def _stamps(records: list[list[Any]]) -> dict[str, dict[int, float]]:
    """hop -> line -> the first time (epoch s) the line passed it."""
    out: dict[str, dict[int, float]] = {k: {} for k in (*STAMPS, "acked", "produce")}
    for r in records:
        if r[0] in out and len(r) == 4:
            seen = out[r[0]]
            for seq in range(r[2], r[3] + 1):
                seen.setdefault(seq, r[1])
    return out


def hops(run: Followed, records: list[list[Any]]) -> dict[int, dict[str, float]]:
    """Each line's time in every hop (ms), for the lines every stamp saw."""
    s = _stamps(records)
    out: dict[int, dict[str, float]] = {}
    for seq, appended in run.appended.items():
        try:
            times = [run.written[seq], *(s[k][seq] for k in STAMPS)]
        except KeyError:
            continue
        ms = [t * 1000 for t in times] + [appended]
        out[seq] = {h: round(b - a, 3) for h, a, b in zip(HOPS, ms[:-1], ms[1:], strict=True)}
        out[seq]["total"] = round(appended - times[0] * 1000, 3)
    return out


def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def analyse(run: Followed, records: list[list[Any]]) -> dict[str, Any]:
    """The figures ``report`` prints, as JSON."""
    per_line = hops(run, records)
    totals = sorted(h["total"] for h in per_line.values())
    if not totals:
        raise RuntimeError(f"{run.kind}: no line was traced through every hop ({run.folder})")
    p99 = totals[min(len(totals) - 1, int(len(totals) * 0.99))]
    tail = [h for h in per_line.values() if h["total"] >= p99]
    blame = Counter(max(HOPS, key=lambda k: h[k]) for h in tail)
    worst = sorted(per_line.items(), key=lambda kv: kv[1]["total"], reverse=True)[:10]
    gcs = [r for r in records if r[0] == "gc"]
    waits = [r for r in records if r[0] == "take_wait"]
    # a take that began on an empty channel and came back with events: a put woke it
    woken = [r[2] * 1000 for r in waits if r[4] and r[3]]
    timed_out = [r[2] * 1000 for r in waits if not r[3]]
    positions = [r[2] * 1000 for r in records if r[0] == "positions"]
    return {
        "lines": len(run.written),
        "traced": len(per_line),
        "median": {h: _median([x[h] for x in per_line.values()]) for h in (*HOPS, "total")},
        "tail": {h: _median([x[h] for x in tail]) for h in (*HOPS, "total")},
        "tail_lines": len(tail),
        "tail_blame": dict(blame.most_common()),
        "worst": [{"line": seq, **h} for seq, h in worst],
        "gc": {
            "count": len(gcs),
            "ms_total": round(sum(r[2] for r in gcs) * 1000, 2),
            "ms_max": round(max((r[2] for r in gcs), default=0) * 1000, 2),
            "gen2": sum(1 for r in gcs if r[3] == 2),
        },
        "takes": {
            "count": len(waits),
            "woken_by_put": len(woken),
            "woken_ms_median": round(_median(woken), 3) if woken else None,
            "timed_out": len(timed_out),
        },
        "position_writes_ms": [round(x, 1) for x in positions],
    }


def report(kind: str, a: dict[str, Any]) -> str:
    rows = [[h, f"{a['median'][h]:.2f}", f"{a['tail'][h]:.2f}", str(a["tail_blame"].get(h, 0))]
            for h in HOPS]  # fmt: skip
    rows.append(["total", f"{a['median']['total']:.2f}", f"{a['tail']['total']:.2f}", ""])
    out = [
        f"trace {kind}: {a['traced']:,} of {a['lines']:,} lines stamped at every hop; "
        f"{a['tail_lines']} in the tail (>= p99)",
        table(["hop", "median ms", "tail median ms", "tail lines it slowed most"], rows),
        "  slowest lines (ms per hop): "
        + "; ".join(
            f"#{w['line']} {w['total']:.0f} = " + "+".join(f"{w[h]:.1f}" for h in HOPS)
            for w in a["worst"][:5]
        ),
        f"  gc: {a['gc']['count']} collections, {a['gc']['ms_total']} ms in all, longest "
        f"{a['gc']['ms_max']} ms ({a['gc']['gen2']} of generation 2)",
        f"  sink takes: {a['takes']['count']:,}, {a['takes']['woken_by_put']:,} woken by a put "
        f"(median {a['takes']['woken_ms_median']} ms asleep), {a['takes']['timed_out']:,} ended "
        "empty",
    ]
    if a["position_writes_ms"]:
        out.append(f"  TAILDIR position writes (ms each): {a['position_writes_ms']}")
    return "\n".join(out)


def traced(topics: Topics, work: Path, kind: str, seconds: int) -> tuple[Followed, list[Any]]:
    out = work / f"trace-{kind}.jsonl"

    def wrap(argv: list[str]) -> list[str]:
        at = argv.index("-m")  # python -m agents ... -> python -m bench.tracehook OUT -- ...
        return [*argv[:at], "-m", "bench.tracehook", str(out), "--", *argv[at + 2 :]]

    extra = ""
    if os.environ.get("BENCH_TRACE_RDKAFKA"):  # librdkafka's own log of each request
        extra = ("a.sinks.k1.kafka.producer.debug = msg,protocol,broker\n"
                 "a.sinks.k1.kafka.producer.log_level = 7\n")  # fmt: skip
    run = follow(topics, work, kind, seconds, wrap, extra)
    records = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    return run, records


def run(options: Options, kinds: tuple[str, ...] = ("exec", "taildir")) -> dict[str, Any]:
    seconds = 3 if options.quick else SECONDS
    print(f"trace: a 1-broker lab on free ports; 1,000 lines/s for {seconds} s per flow; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-trace-") as tmp:
        work = Path(tmp)
        with bench_lab(work, brokers=1) as cluster:
            topics = Topics(cluster)
            try:
                warm_broker(topics)
                for kind in kinds:
                    followed, records = traced(topics, work, kind, seconds)
                    summary = followed.summary()
                    print(line(kind, summary), flush=True)
                    results[kind] = {**summary, "trace": analyse(followed, records)}
                    print(report(kind, results[kind]["trace"]), flush=True)
                    keep = os.environ.get("BENCH_TRACE_KEEP")
                    if keep:
                        Path(keep).mkdir(parents=True, exist_ok=True)
                        dest = Path(keep) / f"trace-{kind}.json"
                        log = followed.folder / "agent.log"
                        (Path(keep) / f"agent-{kind}.log").write_bytes(log.read_bytes())
                        dest.write_text(json.dumps({"written": followed.written,
                                                    "appended": followed.appended,
                                                    "records": records}))  # fmt: skip
            finally:
                topics.close()
    return results


if __name__ == "__main__":
    run(Options(quick="--quick" in sys.argv))
