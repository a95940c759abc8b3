"""What the Avro RPC client and server raise."""

from __future__ import annotations

from agents.errors import AgentError, DeliveryError


class AvroRpcError(DeliveryError):
    """A batch was not acknowledged: connection, timeout or protocol trouble, or a refusal."""


class AvroRefusedError(AvroRpcError):
    """The server answered, but not OK (Flume's Status FAILED or UNKNOWN): it did not commit."""

    def __init__(self, status: str, where: str) -> None:
        self.status = status
        super().__init__(f"{where} answered {status}: the batch was not committed there")


class AvroProtocolError(AgentError):
    """The peer does not speak Flume's Avro RPC (or compression differs on the two ends)."""
