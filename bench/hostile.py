"""Hostile input drill (issue 17 item 2): the attacks of the adversarial run, each against a
fresh agent, with its peak RSS, its threads, its log lines and a canary flow's longest stall.

The agent (``python -m agents``, a process of its own) runs an http, an avro and a netcat
source at their default limits, each into a memory channel drained by a null sink, and a
canary flow beside them: TAILDIR following a file this drill appends a timestamped line to
every 20 ms, into a file_roll sink. The canary's stall is the longest time a line took from
being written to being in the sink's file while the attack ran. Peak RSS is the agent's
VmHWM (its high-water mark; each attack starts a new agent). Run with
``python -m bench hostile`` (not part of the default ``make bench``); on a shared machine
the stall figures carry its load.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from agents.avro import AvroRpcClient, AvroRpcError
from agents.avro import _protocol as p
from agents.avro._transport import Connection, frame
from agents.event import EventBatch
from bench.meter import peak_rss
from bench.options import Options
from labctl.ports import free_port_block
from labctl.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
RSS_TARGET_MB = 500
STALL_TARGET_S = 1.0


def agent_conf(work: Path, http: int, avro: int, netcat: int) -> str:
    return f"""
a.sources = http avro nc tail
a.channels = c tc
a.sinks = null roll
a.sources.http.type = http
a.sources.http.port = {http}
a.sources.http.channels = c
a.sources.avro.type = avro
a.sources.avro.port = {avro}
a.sources.avro.channels = c
a.sources.nc.type = netcat
a.sources.nc.port = {netcat}
a.sources.nc.channels = c
a.channels.c.type = memory
a.channels.c.capacity = 100000
a.channels.c.transactionCapacity = 10000
a.sinks.null.type = null
a.sinks.null.channel = c
a.sinks.null.batchSize = 10000
a.sources.tail.type = TAILDIR
a.sources.tail.filegroups = g
a.sources.tail.filegroups.g = {work}/canary.log
a.sources.tail.positionFile = {work}/pos.json
a.sources.tail.channels = tc
a.channels.tc.type = memory
a.sinks.roll.type = file_roll
a.sinks.roll.sink.directory = {work}/out
a.sinks.roll.sink.rollInterval = 0
a.sinks.roll.channel = tc
"""


@dataclass
class Result:
    attack: str
    what_happened: str
    peak_rss_mb: float
    threads_peak: int
    log_lines: int
    stall_s: float
    seconds: float


class Canary:
    """Appends ``<ns>\\n`` to the canary file every 20 ms; watches the sink's output for them."""

    def __init__(self, work: Path) -> None:
        self.file = work / "canary.log"
        self.out = work / "out"
        self.file.touch()
        self.written: dict[int, float] = {}
        self.worst = 0.0
        self.arrived = 0
        self._lock = threading.Lock()  # written: the writer adds, the watcher takes
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, daemon=True),
                         threading.Thread(target=self._watch, daemon=True)]  # fmt: skip

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def reset(self) -> None:
        self.worst = 0.0

    def moved(self, lines: int) -> Callable[[], bool]:
        """A condition: *lines* more canary lines arrived than now."""
        start = self.arrived
        return lambda: self.arrived >= start + lines

    def _write(self) -> None:
        with open(self.file, "ab", buffering=0) as fh:
            while not self._stop.wait(0.02):
                stamp = time.monotonic_ns()
                with self._lock:
                    self.written[stamp] = time.monotonic()
                fh.write(b"%d\n" % stamp)

    def _watch(self) -> None:
        seen = 0
        while not self._stop.wait(0.005):
            files = list(self.out.glob("*")) if self.out.exists() else []
            data = b"".join(f.read_bytes() for f in files)
            lines = data.split(b"\n")[:-1]
            now = time.monotonic()
            with self._lock:
                sent_at = [self.written.pop(int(line), None) for line in lines[seen:]]
                waiting = list(self.written.values())
            for sent in sent_at:
                if sent is not None:
                    self.worst = max(self.worst, now - sent)
                    self.arrived += 1
            seen = len(lines)
            pending = [t for t in waiting if now - t > self.worst]
            if pending:  # not arrived yet: it counts as long as it waits
                self.worst = max(self.worst, now - min(pending))


class Agent:
    def __init__(self, work: Path) -> None:
        self.work = work
        base = free_port_block(3)
        self.http, self.avro, self.netcat = base, base + 1, base + 2
        conf = work / "a.conf"
        conf.write_text(agent_conf(work, self.http, self.avro, self.netcat))
        self.log = work / "agent.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agents", "-f", str(conf), "-n", "a",
                 "--state-dir", str(work / "state")],
                stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)  # fmt: skip
        self.threads_peak = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        ports = (self.http, self.avro, self.netcat)
        proc = self.proc
        if not wait_for(lambda: all(_listening(port) for port in ports), 60,
                        gone=lambda: proc.poll() is not None):  # fmt: skip
            raise RuntimeError(f"the agent did not start: {self.log.read_text()[-2000:]}")

    def _sample(self) -> None:
        status = Path(f"/proc/{self.proc.pid}/status")
        while not self._stop.wait(0.02):
            with contextlib.suppress(OSError, ValueError):
                m = re.search(r"^Threads:\s+(\d+)", status.read_text(), re.M)
                if m:
                    self.threads_peak = max(self.threads_peak, int(m.group(1)))

    def peak_mb(self) -> float:
        return peak_rss(psutil.Process(self.proc.pid)) / 2**20

    def log_lines(self) -> int:
        """WARNING/ERROR lines and traceback lines the agent logged."""
        text = self.log.read_text(errors="replace")
        said = (" WARNING [", " ERROR [")
        lines = text.splitlines()
        return sum(any(s in line for s in said) or line.startswith(("Traceback", "  File"))
                   for line in lines)  # fmt: skip

    def stop(self) -> int:
        self._stop.set()
        self.proc.terminate()
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _send(port: int, data: bytes, read: bool = True, timeout: float = 120) -> bytes:
    """Send *data* on a new connection; the answer (an HTTP head, or one Avro frame's
    message), or b"" if the server closed the connection without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        if not read:
            return b""
        if data[:4] == b"POST":
            got = b""
            with contextlib.suppress(OSError):
                while chunk := sock.recv(65536):
                    got += chunk
                    if b"\r\n\r\n" in got:
                        break
            return got
        try:
            return Connection(sock).receive()[1]
        except (EOFError, OSError):
            return b""


def _status(answer: bytes) -> str:
    parts = answer.split()
    return parts[1].decode() if len(parts) > 1 else "closed"


def _http_head(length: str) -> bytes:
    return f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()


def _avro_first(message: str, params: bytes) -> bytes:
    return frame(1, p.request(message, params, protocol=None))


def _parallel(n: int, work: Callable[[], str]) -> list[str]:
    out: list[str] = []
    threads = [threading.Thread(target=lambda: out.append(work())) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _counted(answers: list[str]) -> str:
    counts: dict[str, int] = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    return ", ".join(f"{n} x {a}" for a, n in sorted(counts.items()))


# Each attack prepares its bytes (before the canary is watched), then returns what sends them.
Attack = Callable[[Agent], Callable[[], str]]


def _non_numeric(a: Agent) -> Callable[[], str]:
    request = _http_head("abc") + b"[]"
    return lambda: "http " + _counted([_status(_send(a.http, request)) for _ in range(1000)])


def _deep(a: Agent) -> Callable[[], str]:
    body = b"[" * 500_000 + b"]" * 500_000
    request = _http_head(str(len(body))) + body
    return lambda: "http " + _status(_send(a.http, request))


def _negative(a: Agent) -> Callable[[], str]:
    request = _http_head("-1") + bytes(300 << 20)
    return lambda: "http " + _status(_send(a.http, request))


def _empty_objects(mib: int) -> Attack:
    def prepare(a: Agent) -> Callable[[], str]:
        body = b"[" + b"{}," * (mib * 2**20 // 3 - 1) + b"{}]"
        request = _http_head(str(len(body))) + body
        return lambda: "http " + _status(_send(a.http, request))

    return prepare


def _hang_ups(a: Agent) -> Callable[[], str]:
    request = _http_head("1000") + b"[{"

    def run() -> str:
        for _ in range(1000):
            _send(a.http, request, read=False)
        return "http: 1000 clients gone mid-body"

    return run


def _empty_events(a: Agent) -> Callable[[], str]:
    n = (8 << 20) // 2
    request = _avro_first("appendBatch", p._long(n) + b"\x00\x00" * n + b"\x00")

    def run() -> str:
        answer = _send(a.avro, request)
        return "avro " + ("error answer" if b"events refused" in answer else repr(answer[:60]))

    return run


def _frame_64(a: Agent) -> Callable[[], str]:
    request = _avro_first("appendBatch", p.encode_events(EventBatch([b"x" * 1000] * 65536)))

    def run() -> str:
        answer = _send(a.avro, request)
        return "avro " + ("error answer" if b"maxFrameBytes" in answer else repr(answer[:60]))

    return run


def _garbage_6x250(a: Agent) -> Callable[[], str]:
    data = b"\x00\x00\x00\x01\x00\x00\x00\x01" + (250 << 20).to_bytes(4, "big") + bytes(250 << 20)

    def one() -> str:
        answer = _send(a.avro, data)
        return "error answer" if b"maxFrameBytes" in answer else "closed"

    return lambda: "avro " + _counted(_parallel(6, one))


def _legal_15_x8(a: Agent) -> Callable[[], str]:
    """Within every limit: 8 clients at once each send 15 MB (10,000 events of 1.5 KB)."""
    events = p.encode_events(EventBatch([b"y" * 1500] * 10_000))

    def one() -> str:
        with AvroRpcClient("127.0.0.1", a.avro, request_timeout=120) as client:
            try:
                client._call("appendBatch", events)
            except AvroRpcError as exc:
                return f"refused ({str(exc)[-40:]})"
        return "OK"

    return lambda: "avro " + _counted(_parallel(8, one))


def _dealt_with(pid: int, port: int) -> int:
    """Connections to *port* the agent (or a child of it) holds open, plus those it closed (our
    end in CLOSE_WAIT): once that is all we opened, it has seen them all."""
    agent = psutil.Process(pid)
    held = sum(
        1
        for p in (agent, *agent.children(recursive=True))
        for c in p.net_connections("tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )
    closed = sum(
        1
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_CLOSE_WAIT
    )
    return held + closed  # fmt: skip


def _idle(port: str) -> Attack:
    def prepare(a: Agent) -> Callable[[], str]:
        def run() -> str:
            socks = []
            number = getattr(a, port)
            for _ in range(3000):
                with contextlib.suppress(OSError):
                    socks.append(socket.create_connection(("127.0.0.1", number), timeout=5))
            # until the agent accepted each one, and kept or closed it
            wait_for(lambda: _dealt_with(a.proc.pid, number) >= len(socks), 30, step=0.1)
            kept = 0
            for s in socks:
                s.setblocking(False)
                try:
                    kept += s.recv(1) != b""
                except BlockingIOError:
                    kept += 1  # still open, nothing to read
                except OSError:
                    pass
                s.close()
            return f"{port}: {kept} of {len(socks)} kept open"

        return run

    return prepare


ATTACKS: dict[str, Attack] = {
    "http: 1,000 x non-numeric Content-Length": _non_numeric,
    "http: JSON nested 500,000 deep": _deep,
    "http: Content-Length -1, then 300 MiB": _negative,
    "http: legal 64 MiB of [{},...]": _empty_objects(64),
    "http: 16 MiB of [{},...] (the size limit)": _empty_objects(16),
    "http: 1,000 clients hanging up": _hang_ups,
    "avro: 8 MiB appendBatch of empty events": _empty_events,
    "avro: one 64 MiB frame": _frame_64,
    "avro: 6 parallel 250 MiB garbage frames": _garbage_6x250,
    "avro: 8 parallel legal 15 MB batches": _legal_15_x8,
    "netcat: 3,000 idle connections": _idle("netcat"),
    "avro: 3,000 idle connections": _idle("avro"),
}


def run(options: Options | None = None, only: str = "") -> list[dict[str, object]]:
    """Each attack (whose name contains *only*) against a fresh agent; prints a line each."""
    print(f"hostile input drill: targets RSS < {RSS_TARGET_MB} MB, canary stall < "
          f"{STALL_TARGET_S:g} s (one run; the machine may be shared)")  # fmt: skip
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        for i, (name, attack) in enumerate(ATTACKS.items()):
            if only and only not in name:
                continue
            work = Path(tmp) / f"a{i}"
            work.mkdir()
            agent = Agent(work)
            canary = Canary(work)
            canary.start()
            assert wait_for(canary.moved(10), 30, step=0.02), "the canary flow does not move"
            send = attack(agent)
            canary.reset()
            before = agent.log_lines()
            began = time.monotonic()
            try:
                what = send()
            except OSError as exc:
                what = f"client error: {exc}"
            took = time.monotonic() - began
            wait_for(canary.moved(10), 30, step=0.02)  # lines written during the attack arrive
            canary.stop()
            result = Result(name, what, agent.peak_mb(), agent.threads_peak,
                            agent.log_lines() - before, canary.worst, took)  # fmt: skip
            code = agent.stop()
            if code != 0:
                result.what_happened += f" (agent exit {code})"
            results.append(result.__dict__)
            _print(result)
    return results


def _print(r: Result) -> None:
    rss = f"{r.peak_rss_mb:6.0f} MB" + (" (over target)" if r.peak_rss_mb > RSS_TARGET_MB else "")
    stall = f"{r.stall_s:5.2f} s" + (" (over target)" if r.stall_s > STALL_TARGET_S else "")
    print(f"{r.attack:45} | {r.what_happened:40} | RSS peak {rss} | threads {r.threads_peak:4} "
          f"| log lines {r.log_lines:4} | canary stall {stall} | {r.seconds:5.1f} s",
          flush=True)  # fmt: skip


def main() -> None:
    results = run(only=sys.argv[1] if len(sys.argv) > 1 else "")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
