"""The bench harness against real parts: configs our agent and rsyslog accept, /proc and
rusage figures of real processes, and ``python -m bench --quick peers`` end to end on a real
1-broker lab, every system that runs here counted exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.flumeconf import Flow, follow_to_kafka, spool_to_kafka
from bench.meter import cpu_seconds, peak_rss, reap, thread_cpu
from bench.pyspy import INSTALL, Recording, py_spy
from bench.report import write_json
from bench.systems.rsyslog import RSYSLOGD, Rsyslog, config
from labctl.cluster import load_spec
from labctl.errors import LabHomeError
from labctl.paths import LabPaths

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def agent_check(conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agents", "-f", str(conf), "-n", "a", "--check"],
                          capture_output=True, text=True, env=ENV, timeout=60)  # fmt: skip


@pytest.mark.parametrize("flows", [1, 4])
def test_spool_config_is_one_our_agent_runs(tmp_path: Path, flows: int) -> None:
    conf = tmp_path / "a.conf"
    spools = [Flow(tmp_path / f"spool{i}", "t") for i in range(flows)]
    for flow in spools:
        flow.spool.mkdir()
    conf.write_text(spool_to_kafka(spools, "127.0.0.1:1"))
    done = agent_check(conf)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 error(s), 0 warning(s)" in done.stdout
    assert done.stdout.count("spooldir") == flows


def test_file_channel_config_is_one_our_agent_runs(tmp_path: Path) -> None:
    """file_channel_pipeline's config: the same flow through a durable file channel."""
    conf = tmp_path / "a.conf"
    flow = Flow(tmp_path / "spool", "t", tmp_path / "channel")
    flow.spool.mkdir()
    conf.write_text(spool_to_kafka([flow], "127.0.0.1:1"))
    done = agent_check(conf)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 error(s), 0 warning(s)" in done.stdout and "a.channels.c1.type = file" in (
        conf.read_text()
    )


@pytest.mark.parametrize("kind", ["exec", "taildir"])
def test_follow_config_is_one_our_agent_runs(tmp_path: Path, kind: str) -> None:
    conf = tmp_path / "a.conf"
    conf.write_text(follow_to_kafka(kind, tmp_path / "x.log", tmp_path, "t", "127.0.0.1:1"))
    done = agent_check(conf)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(Rsyslog().problem() is not None, reason=str(Rsyslog().problem()))
def test_rsyslog_accepts_its_private_config(tmp_path: Path) -> None:
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(config(f"{tmp_path}/in/*.txt", tmp_path, "127.0.0.1:1,127.0.0.1:2", "t"))
    done = subprocess.run([RSYSLOGD, "-N1", "-f", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_childs_cpu_and_peak_memory_come_from_rusage() -> None:
    burn = "x = bytearray(64 << 20)\nimport time\nt = time.process_time()\n" \
           "while time.process_time() - t < 0.3: pass\n"  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", burn])
    cpu, rss = reap(proc, 30)
    assert proc.returncode == 0
    assert cpu >= 0.3
    assert rss >= 64 << 20


def test_a_live_process_cpu_memory_and_threads_come_from_proc() -> None:
    me = psutil.Process()
    before = cpu_seconds(me)
    t = time.process_time()
    while time.process_time() - t < 0.2:
        pass
    assert cpu_seconds(me) - before >= 0.19
    assert peak_rss(me) >= me.memory_info().rss
    threads = thread_cpu(os.getpid())
    assert threads[os.getpid()].seconds > 0  # the main thread's tid is the pid


def test_results_live_in_the_lab_home_without_spoiling_it(tmp_path: Path) -> None:
    home = tmp_path / "lab"
    path = write_json({"peers": {}}, home)
    assert path.parent == home / "bench" and json.loads(path.read_text()) == {"peers": {}}
    assert load_spec(LabPaths(home)) is None  # still a new home: `labctl up` may use it
    (home / "stray.txt").write_text("x")
    with pytest.raises(LabHomeError):
        load_spec(LabPaths(home))


@pytest.mark.kafka
@pytest.mark.slow
def test_quick_peers_run_counts_every_system_exact(tmp_path: Path) -> None:
    """`python -m bench --quick peers`: every system that runs here moves 216,010 records,
    the JSON under the lab home says so, and a system that cannot run says why."""
    env = {**ENV, "LABCTL_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "peers"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [path] = (tmp_path / "home" / "bench").glob("bench-*.json")
    peers = json.loads(path.read_text())["peers"]
    assert peers["input"]["records"] == 216_010
    [results] = peers["rounds"]
    assert set(results) | set(peers["skipped"]) == {"agent", "python", "kcat", "rsyslog", "flume"}
    for key, result in results.items():
        assert "failed" not in result, (key, result)
        assert result["final_offset"] == 216_010 and not result["problems"], (key, result)
        assert peers["summary"][key]["rounds"] == 1
    for key, reason in peers["skipped"].items():
        assert f"skipping {peers['labels'][key]}: {reason}" in done.stdout
    assert "agent / " in done.stdout or not ({"rsyslog", "kcat"} & set(results))


@pytest.mark.skipif(py_spy() is None, reason=INSTALL)
def test_py_spy_measures_how_long_the_gil_is_held(tmp_path: Path) -> None:
    """A process spinning in Python holds the GIL nearly all the time; one asleep, never."""
    code = (
        "import sys, time\nprint('up', flush=True)\nsys.stdin.readline()\n"
        "t = time.monotonic()\nwhile time.monotonic() - t < 1.0: pass\n"
        "time.sleep(1.0)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    assert child.stdout.readline() == b"up\n"
    spy = Recording(child.pid, tmp_path / "gil.txt", 100, detail=False)
    began = time.monotonic()
    child.stdin.write(b"go\n")
    child.stdin.close()
    child.wait(30)
    seconds = time.monotonic() - began
    spy.stop()
    held = spy.gil_held(seconds)
    assert 0.3 <= held <= 0.7, held  # 1 s of 2 spinning, the other asleep


def test_the_hostile_drill_measures_an_attack_on_a_real_agent() -> None:
    """bench/hostile.py (issue 17 item 2): one attack of the drill against its agent: the
    answer, the agent's peak RSS, its log lines and the canary's stall come back measured."""
    from bench import hostile

    (result,) = hostile.run(only="8 MiB appendBatch")
    assert result["what_happened"] == "avro error answer"
    assert 10 < float(result["peak_rss_mb"]) < hostile.RSS_TARGET_MB  # type: ignore[arg-type]
    assert result["log_lines"] == 1
    assert 0 <= float(result["stall_s"]) < 5  # type: ignore[arg-type]
