"""A TCP proxy on loopback that does to connections what real networks do.

- ``idle_timeout``: a connection with no traffic either way for that long is
  dropped, as a NAT or stateful firewall drops an idle flow;
- ``reset_every``: every Nth new connection is reset (RST) on arrival;
- ``stall``: bytes from the server are held back that many seconds.

Used by the fault tests (short timings, so the suite stays quick) and by the
soak run (real timings).
"""

from typing import Any, List, Optional

import attr
from twisted.internet import protocol
from twisted.internet.interfaces import IDelayedCall


class _ServerSide(protocol.Protocol):
    """Our connection to the real server; hands its bytes back to the client side."""

    def __init__(self, client_side: "_ClientSide") -> None:
        self.client_side = client_side

    def connectionMade(self) -> None:
        self.client_side.server_connected(self)

    def dataReceived(self, data: bytes) -> None:
        self.client_side.from_server(data)

    def connectionLost(self, reason: Any) -> None:
        # Close the client side only after any stalled bytes have gone out.
        proxy = self.client_side.proxy
        if proxy.stall:
            proxy.reactor.callLater(proxy.stall, self.client_side.transport.loseConnection)
        else:
            self.client_side.transport.loseConnection()


class _ClientSide(protocol.Protocol):
    def __init__(self, proxy: "FaultProxy") -> None:
        self.proxy = proxy
        self.server: Optional[_ServerSide] = None
        self.pending: List[bytes] = []
        self.idle_timer: Optional[IDelayedCall] = None

    def connectionMade(self) -> None:
        self.proxy.connections += 1
        if self.proxy.reset_every and self.proxy.connections % self.proxy.reset_every == 0:
            self.proxy.resets += 1
            self.transport.abortConnection()
            return
        self.transport.pauseProducing()
        factory = protocol.ClientFactory.forProtocol(lambda: _ServerSide(self))
        factory.clientConnectionFailed = lambda connector, reason: self.transport.loseConnection()
        self.proxy.reactor.connectTCP(self.proxy.target_host, self.proxy.target_port, factory)
        self.touch()

    def server_connected(self, server: _ServerSide) -> None:
        self.server = server
        for data in self.pending:
            server.transport.write(data)
        self.pending = []
        self.transport.resumeProducing()

    def dataReceived(self, data: bytes) -> None:
        self.touch()
        if self.server is None:
            self.pending.append(data)
        else:
            self.server.transport.write(data)

    def from_server(self, data: bytes) -> None:
        self.touch()
        if self.proxy.stall:
            self.proxy.reactor.callLater(self.proxy.stall, self._send, data)
        else:
            self._send(data)

    def _send(self, data: bytes) -> None:
        if self.transport.connected:
            self.transport.write(data)

    def touch(self) -> None:
        """Traffic: the flow is alive; restart the idle clock."""
        if not self.proxy.idle_timeout:
            return
        if self.idle_timer is not None and self.idle_timer.active():
            self.idle_timer.reset(self.proxy.idle_timeout)
        else:
            self.idle_timer = self.proxy.reactor.callLater(self.proxy.idle_timeout, self._idle_drop)

    def _idle_drop(self) -> None:
        self.proxy.idle_drops += 1
        self.transport.abortConnection()
        if self.server is not None:
            self.server.transport.abortConnection()

    def connectionLost(self, reason: Any) -> None:
        if self.idle_timer is not None and self.idle_timer.active():
            self.idle_timer.cancel()
        if self.server is not None:
            self.server.transport.loseConnection()


@attr.s
class FaultProxy(protocol.Factory):
    reactor: Any = attr.ib()
    target_host: str = attr.ib()
    target_port: int = attr.ib()
    idle_timeout: float = attr.ib(default=0.0)
    reset_every: int = attr.ib(default=0)
    stall: float = attr.ib(default=0.0)
    connections: int = attr.ib(default=0)
    resets: int = attr.ib(default=0)
    idle_drops: int = attr.ib(default=0)

    def buildProtocol(self, addr: Any) -> _ClientSide:
        return _ClientSide(self)

    def listen(self) -> Any:
        """Listen on a free loopback port; returns the listening port."""
        return self.reactor.listenTCP(0, self, interface="127.0.0.1")
