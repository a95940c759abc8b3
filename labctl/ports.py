"""Ports on this host: is one free, find a free block, and check a lab's before it starts."""

from __future__ import annotations

import random
import socket

from labctl.errors import LabError, PortInUseError


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int) -> int:
    """The first of ``size`` consecutive free ports, away from the book's (2181, 9092...),
    for labs that must not collide with a lab the user runs (tests, benchmarks)."""
    for _ in range(200):
        base = random.randrange(20000, 40000)
        if all(port_free(base + i) for i in range(size)):
            return base
    raise LabError("no block of free ports found")


def require_free(ports: dict[str, int]) -> None:
    """PortInUseError naming every taken port, before anything is started."""
    taken = [f"{port} ({name})" for name, port in ports.items() if not port_free(port)]
    if taken:
        raise PortInUseError(
            f"port{'s' if len(taken) > 1 else ''} {', '.join(taken)} "
            f"{'are' if len(taken) > 1 else 'is'} taken by another program, so nothing was "
            "started; stop it or pick other ports with --base-port / --zookeeper-port."
        )
