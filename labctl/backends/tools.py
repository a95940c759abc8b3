"""Helpers a backend may use (none is part of what a backend must do): the agent's variables,
a log file followed like ``tail -F``, what a process tree has open, a port that starts to answer.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import psutil

from labctl.backends.base import AgentLaunch
from labctl.errors import NotRunningError, ReadinessTimeout


def agent_variables(launch: AgentLaunch, working: str, state: str, bind: str,
                    brokers: list[str]) -> dict[str, str]:  # fmt: skip
    """``Backend.agent_env``'s variables, from the values a backend gives them."""
    return {"SMARTCAR_WORKING": working, "SMARTCAR_STATE": state, "SMARTCAR_BIND": bind,
            "SMARTCAR_BROKERS": ",".join(brokers),
            **{f"SMARTCAR_BROKER_{i}": b for i, b in enumerate(brokers)}, **launch.env}  # fmt: skip


def file_logs(name: str, log: Path, follow: bool) -> Iterator[bytes]:
    """A log file's content, then (``follow``) what is appended to it, as ``tail -F`` does."""
    if not log.exists():
        raise NotRunningError(f"{name} has no log yet ({log}).")
    if not follow:
        yield log.read_bytes()
        return
    with subprocess.Popen(["tail", "-n", "+1", "-F", str(log)],
                          stdout=subprocess.PIPE, bufsize=0) as tail:  # fmt: skip
        out = tail.stdout
        assert out is not None
        try:
            yield from iter(partial(out.read, 65536), b"")
        finally:
            tail.terminate()


def tree_has_open(pid: int, path: str) -> bool:
    """Is *path* open in process *pid* or one of its children? (Paths as that process sees
    them: a container's processes see their own mounts.)"""
    try:
        proc = psutil.Process(pid)
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return False
    return any(path in _open_paths(member) for member in family)


def _open_paths(proc: psutil.Process) -> set[str]:
    """What a process has open. From /proc where there is one: psutil drops paths that do not
    exist in *our* mount namespace, which a container's are not."""
    fds = Path(f"/proc/{proc.pid}/fd")
    try:
        if fds.is_dir():
            found = set()
            for fd in os.listdir(fds):
                with contextlib.suppress(OSError):
                    found.add(os.readlink(fds / fd))
            return found
        return {f.path for f in proc.open_files()}
    except (OSError, psutil.Error):
        return set()


def wait_port(port: int, deadline: float, alive: Callable[[], str | None], what: str) -> None:
    """Until something accepts connections on 127.0.0.1:port; ``alive`` returns a sentence
    when the server died, which ends the wait at once."""
    while time.monotonic() < deadline:
        problem = alive()
        if problem:
            raise ReadinessTimeout(problem)
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ReadinessTimeout(f"{what} did not open port {port} in time.")


def last_line(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""
