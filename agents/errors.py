"""One hierarchy of agent errors, each with a message a user can act on."""

from __future__ import annotations

from dataclasses import dataclass


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: where, which key, what, and what to do."""

    file: str
    line: int | None
    key: str | None
    message: str
    suggestion: str | None = None
    severity: str = "error"  # "error" stops the component; "warning" does not

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        hint = f" ({self.suggestion})" if self.suggestion else ""
        return f"{where}:{key} {self.message}{hint}"


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


class FatalError(AgentError):
    """A component cannot go on (e.g. a Kafka producer's fatal error): its runner stops it for
    good instead of restarting it, and its health says why."""

    stops_agent = False


class FencedError(FatalError):
    """Another producer took this exactly-once sink's ``transactional.id``: this agent is the
    older one (a zombie) and stops, exiting non-zero."""

    stops_agent = True
