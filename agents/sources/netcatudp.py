"""Flume's netcatudp source: each UDP datagram becomes one event, its bytes up to the first
``\\n`` (the rest of the datagram is dropped, as in Flume). With ``remoteAddressHeader`` the
sender's address is put in that header as Java prints it (``/127.0.0.1:40000``).

UDP has no flow control: while a channel is full the source holds what it received and puts
it again; datagrams that arrive meanwhile wait in the socket's buffer (4 MiB), and what the
kernel cannot buffer is lost, as with any UDP receiver.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.config.settings import prop
from agents.event import EventBatch
from agents.sources.listening import ListeningSource, ListenSettings


@dataclass(frozen=True, kw_only=True)
class NetcatUdpSettings(ListenSettings):
    remote_address_header: str = prop(
        "remoteAddressHeader",
        "str",
        "",
        "Header for the sender's address (empty: none).",
        aliases=("remoteAddress",),
    )


class NetcatUdpSource(ListeningSource):
    TYPE = "netcatudp"
    SETTINGS = NetcatUdpSettings
    PROPERTIES = NetcatUdpSettings.props()
    settings: NetcatUdpSettings

    def listen(self) -> None:
        self.listen_udp(self.settings.bind, self.settings.port, self._serve)

    def _serve(self, datagrams: list[tuple[bytes, tuple[str, int]]]) -> None:
        bodies = [data.split(b"\n", 1)[0] for data, _ in datagrams]
        key = self.settings.remote_address_header
        headers = [{key: f"/{peer[0]}:{peer[1]}"} for _, peer in datagrams] if key else None
        self.deliver(EventBatch(bodies, {}, headers), hold=True)
