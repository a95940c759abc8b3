"""Talking to a lab's ZooKeeper on 127.0.0.1: its four-letter words, and waiting until it has
dropped a killed broker's registration (so the broker can start again)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from labctl.spec import ClusterSpec


def zk_four_letters(word: str, port: int, host: str = "127.0.0.1") -> str:
    """A ZooKeeper four-letter command's answer ('' if nothing answers)."""
    try:
        with socket.create_connection((host, port), 3) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return ""
    return b"".join(chunks).decode("utf-8", "replace")


def wait_session_expired(spec: ClusterSpec, name: str, deadline: float,
                         progress: Callable[[str], None]) -> None:  # fmt: skip
    """A broker killed moments ago is still registered in ZooKeeper; starting it now would
    fail with NodeExists. Wait until ZooKeeper serves (a restarted ZooKeeper restores the
    old sessions from its log before it answers), then until it dropped that registration
    (at most a session timeout)."""
    if spec.mode != "zookeeper" or not name.startswith("broker-"):
        return
    node = f"/brokers/ids/{int(name.split('-')[1])}"
    said = ""
    while time.monotonic() < deadline:
        dumps = [zk_four_letters("dump", port) for port in spec.quorum_ports]
        serving = [d for d in dumps if "ephemeral nodes dump" in d]
        if serving and not any(node in d.split() for d in serving):
            return
        news = (
            f"waiting for ZooKeeper to expire {name}'s old session"
            if serving
            else "waiting for ZooKeeper to serve"
        )
        if news != said:
            progress(news)
            said = news
        time.sleep(0.2)
