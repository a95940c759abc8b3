"""One hierarchy of agent errors, each with a message a user can act on."""

from __future__ import annotations

from dataclasses import dataclass


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""


LENIENT = ("run", "drop", "refuse")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: where, which key, what, and what to do.

    ``severity``: an "error" makes the agent refuse the config by default (strict); a
    "warning" is only reported. ``lenient`` says what ``--lenient`` does with an error, the way
    Apache Flume runs such a config: "run" (the component runs, the key ignored or the value
    read as Flume reads it), "drop" (the broken piece is left out and the rest runs) or "refuse"
    (not even --lenient runs it: Flume refuses it too, or running it would lose data).
    ``flume`` is what Flume does with it, as a verb phrase ("ignores this key", "removes source
    s"), when that is known; for "run" it is also what --lenient does ("uses the default 100").
    Messages quote it, so a user sees both ways.
    """

    file: str
    line: int | None
    key: str | None
    message: str
    suggestion: str | None = None
    severity: str = "error"
    lenient: str = "drop"
    flume: str | None = None
    piece: str | None = None  # what "drop" leaves out, e.g. "source s"

    def _where(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        hint = f" ({self.suggestion})" if self.suggestion else ""
        return f"{where}:{key} {self.message}{hint}"

    def __str__(self) -> str:
        """As the strict agent reports it: an error says what Flume and --lenient do instead."""
        text = self._where()
        if self.severity != "error":
            return text
        flume = f"; Flume {self.flume}" if self.flume else ""
        if self.lenient == "refuse":
            return f"{text}{flume}; --lenient refuses it too"
        rest = "runs it" if self.lenient == "run" else f"runs the rest without {self.piece or 'it'}"
        return f"{text}{flume}; --lenient {rest}"

    def lenient_str(self) -> str:
        """As ``--lenient`` reports it: what it does, and what Flume does."""
        text = self._where()
        if self.severity != "error" or self.lenient == "refuse":
            return str(self)
        if self.lenient == "run":
            return (
                f"{text}; --lenient {self.flume}, as Flume does"
                if self.flume
                else (f"{text}; --lenient runs it")
            )
        flume = f" (Flume {self.flume})" if self.flume else ""
        return f"{text}; --lenient leaves {self.piece or 'it'} out{flume}"

    def blocks(self, lenient: bool) -> bool:
        """Whether this problem stops the agent from starting in this mode."""
        return self.severity == "error" and (not lenient or self.lenient == "refuse")

    @property
    def drops(self) -> bool:
        """An error that leaves its component out (strict refuses the whole config anyway)."""
        return self.severity == "error" and self.lenient != "run"


class FatalError(AgentError):
    """A component cannot go on and retrying cannot help (e.g. a Kafka producer's fatal
    error): its runner stops it for good instead of restarting it, and its health says
    ``failed: <why>``. Where running on would do harm (``stops_agent``: another agent owns
    the same spool dir, or fenced this one), the agent stops too and exits ``exit_code``."""

    stops_agent = False
    exit_code = 1


class ConfigError(AgentError):
    """A configuration that cannot run; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ChannelFullError(AgentError):
    """A put could not be committed: the channel stayed full for its keep-alive."""

    progressed = False  # the source's outbox got some batches in before this one


class ChannelClosedError(AgentError):
    """The channel is stopping and accepts no new transactions."""


class DeliveryError(AgentError):
    """A sink's destination did not accept a batch; the batch is rolled back."""


class FencedError(FatalError):
    """Another producer took this exactly-once sink's ``transactional.id``: this agent is the
    older one (a zombie) and stops, exiting 3."""

    stops_agent = True
    exit_code = 3
