"""Flume's component contract: configured from a Context, then started and stopped."""

from __future__ import annotations

import enum
import logging
from pathlib import Path
from typing import Any, ClassVar

from agents.config.context import Context
from agents.config.settings import Settings
from agents.config.spec import Prop
from agents.counters import Counters

MAX_DOUBLINGS = 62  # a pause doubles at most this often: 2.0**62 is a float, 2**1100 is not


def growing_pause(first: float, most: float, attempt: int) -> float:
    """*first* seconds doubled per *attempt* (from 0), at most *most*: every exponential backoff
    of the agent goes through here, so no count of idle polls or failures, however large,
    overflows the arithmetic (``0.005 * 2**1100`` raises OverflowError)."""
    return min(first * 2.0 ** min(max(attempt, 0), MAX_DOUBLINGS), most)


class Status(enum.Enum):
    """What ``process()`` tells its runner (Flume's PollableSource.Status / Sink.Status)."""

    READY = "ready"  # made progress; call again at once
    BACKOFF = "backoff"  # nothing to do now; the runner waits ``backoff_pause`` (or a wake-up)


class Component:
    """Base of sources, channels, sinks and interceptors.

    A subclass declares its properties as typed ``SETTINGS`` (``agents.config.settings``;
    ``PROPERTIES = SETTINGS.props()``) and ``KIND``; ``configure`` resolves them (into
    ``self.conf``, values by property name), builds ``self.settings`` and calls ``setup`` for
    what depends on them; the code reads ``self.settings.<field>``. Every built-in component
    does; a custom one may still declare a plain ``PROPERTIES`` tuple and read ``self.conf``.
    ``start``/``stop`` must be idempotent; ``stop`` must return only when the component's
    threads have ended and what it holds is safe (committed or rolled back).
    """

    KIND: ClassVar[str] = "COMPONENT"  # SOURCE | CHANNEL | SINK | INTERCEPTOR
    TYPE: ClassVar[str] = ""  # the Flume type alias, e.g. "spooldir"
    PROPERTIES: ClassVar[tuple[Prop, ...]] = ()
    PREFIXES: ClassVar[tuple[str, ...]] = ()  # undeclared key families accepted as-is
    SETTINGS: ClassVar[type[Settings] | None] = None  # typed view of PROPERTIES, if declared
    settings: Any  # a SETTINGS instance once configured (a subclass narrows the type)

    def __init__(self, name: str) -> None:
        self.name = name
        self.conf: dict[str, Any] = {}
        self.counters = Counters(self.KIND, name)
        self.log = logging.getLogger(f"agents.{self.KIND.lower()}.{name}")
        self.state_dir: Path | None = None  # the agent's state directory, set before start()

    def configure(self, context: Context) -> None:
        """Resolve properties; problems are recorded on the context, not raised.

        No side effects: nothing is created, connected or looked up (``--check`` runs this);
        that belongs in ``start``.
        """
        self.conf = context.resolve(self.PROPERTIES, self.PREFIXES)
        if not any(p.drops for p in context.problems):
            if self.SETTINGS is not None:
                self.settings = self.SETTINGS.from_conf(self.conf)
            self.setup(context)

    def setup(self, context: Context) -> None:
        """Check what needs more than types (paths exist, combinations); record problems."""

    def start(self) -> None:
        self.counters.started()

    def stop(self) -> None:
        self.counters.stopped()

    def health(self) -> str:
        """'running' or 'stopped'; a component may say more (e.g. 'stopped: command exited 1').

        The runtime adds what it sees from outside: 'retrying: <why>', 'restarting: <why>',
        'blocked: <why>', 'stalled: <why>', 'rolling back: <why>' (``agents.health``).
        """
        return "running" if self.counters.start_time and not self.counters.stop_time else "stopped"

    def backoff_pause(self, attempt: int) -> float:
        """Seconds its runner waits after the *attempt*-th BACKOFF in a row (from 0)."""
        return growing_pause(0.005, 0.05, attempt)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
