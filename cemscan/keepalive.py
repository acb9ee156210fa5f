"""HTTP connections to the daemon with TCP keepalive on every socket.

Firewalls and NAT on the way to a node drop TCP sessions that stay idle for a
few minutes, silently: the client then waits on a connection that no longer
exists. The polling protocol keeps requests short, and keepalive probes (idle
60 s, then every 10 s, give up after 6) make any connection that does go quiet
fail within about two minutes instead of hanging.

`KeepAliveEndpoint` wraps any client endpoint and sets the options on the
transport as it connects; `make_http_client` builds the treq client the
scanner client uses, on an Agent whose endpoints are wrapped that way.
"""

import socket
from typing import Any, Optional

import attr
from treq.client import HTTPClient
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.interfaces import IProtocol, IProtocolFactory, IStreamClientEndpoint
from twisted.logger import Logger
from twisted.web.client import URI, Agent, HTTPConnectionPool
from twisted.web.error import SchemeNotSupported
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

log = Logger()

KEEPIDLE_S = 60
KEEPINTVL_S = 10
KEEPCNT = 6

# Linux calls the idle time TCP_KEEPIDLE; macOS calls the same option TCP_KEEPALIVE.
_IDLE_OPTION = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)


def enable_keepalive(transport: Any, idle: int = KEEPIDLE_S, interval: int = KEEPINTVL_S,
                     count: int = KEEPCNT) -> None:
    """Turn on keepalive probes for ``transport``'s socket, as far as the platform allows.

    SO_KEEPALIVE alone uses the kernel's defaults (two hours idle on Linux),
    far too late to help: the fine-grained options carry the real value, so
    each is set when the platform has it and skipped when it does not.
    Transports without a socket (in-memory test transports) are left alone.
    """
    set_keepalive = getattr(transport, "setTcpKeepAlive", None)
    if set_keepalive is None:
        return
    set_keepalive(True)
    get_handle = getattr(transport, "getHandle", None)
    handle = get_handle() if get_handle is not None else None
    if not isinstance(handle, socket.socket):
        return
    for option, value in ((_IDLE_OPTION, idle),
                          (getattr(socket, "TCP_KEEPINTVL", None), interval),
                          (getattr(socket, "TCP_KEEPCNT", None), count)):
        if option is None:
            continue
        try:
            handle.setsockopt(socket.IPPROTO_TCP, option, value)
        except OSError as e:
            log.warn("Cannot set TCP option {option} to {value}: {error}",
                     option=option, value=value, error=e)


@implementer(IStreamClientEndpoint)
@attr.s(frozen=True, auto_attribs=True)
class KeepAliveEndpoint:
    """A client endpoint whose connections have TCP keepalive probes enabled."""

    wrapped: Any  # IStreamClientEndpoint
    idle: int = KEEPIDLE_S
    interval: int = KEEPINTVL_S
    count: int = KEEPCNT

    def connect(self, protocolFactory: IProtocolFactory) -> "Deferred[IProtocol]":
        """Connect through the wrapped endpoint, then set keepalive on the new transport."""

        def configure(protocol: IProtocol) -> IProtocol:
            enable_keepalive(protocol.transport, self.idle, self.interval, self.count)
            return protocol

        return self.wrapped.connect(protocolFactory).addCallback(configure)


@implementer(IAgentEndpointFactory)
@attr.s(frozen=True, auto_attribs=True)
class KeepAliveEndpointFactory:
    """Endpoints for an Agent: plain HTTP by host name, with keepalive."""

    reactor: Any
    connect_timeout: float = 30

    def endpointForURI(self, uri: URI) -> KeepAliveEndpoint:
        """The daemon speaks plain HTTP only; anything else is refused up front."""
        if uri.scheme != b"http":
            raise SchemeNotSupported(f"Unsupported scheme: {uri.scheme!r}")
        host = uri.host.decode("ascii")
        return KeepAliveEndpoint(HostnameEndpoint(self.reactor, host, uri.port,
                                                  timeout=self.connect_timeout))


def make_http_client(reactor: Any, pool: Optional[HTTPConnectionPool] = None,
                     connect_timeout: float = 30) -> HTTPClient:
    """A treq client on ``reactor`` whose every connection has keepalive enabled.

    The default pool is not persistent: each request opens and closes its own
    connection, so nothing idles between polls (no stale socket to trip
    over) and a fleet of a thousand nodes holds a socket only while a request
    is in flight. Nothing is left to close afterwards. Pass a persistent
    ``pool`` to reuse connections instead, and close it yourself.
    """
    if pool is None:
        pool = HTTPConnectionPool(reactor, persistent=False)
    factory = KeepAliveEndpointFactory(reactor, connect_timeout)
    return HTTPClient(Agent.usingEndpointFactory(reactor, factory, pool=pool))
