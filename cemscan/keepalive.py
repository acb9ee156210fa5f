"""HTTP connections to the daemon with TCP keepalive on every socket.

Firewalls and NAT on the way to a node drop TCP sessions that stay idle for a
few minutes, silently: the client then waits on a connection that no longer
exists. The polling protocol keeps requests short, and keepalive probes (idle
60 s, then every 10 s, give up after 6) make any connection that does go quiet
fail within about two minutes instead of hanging.

`KeepAliveEndpoint` wraps any client endpoint and sets the options on the
transport as it connects; `make_http_client` builds the treq client the
scanner client uses, on an Agent whose endpoints are wrapped that way.

https:// daemons get TLS layered *over* the keepalive endpoint, so the
options land on the TCP socket underneath, where they mean something. The
certificate is checked against a CA file (`tls_policy`) or the system's trust
store, and must name the host as the target names it (DNS name or IP).
"""

import re
import socket
from typing import Any, Dict, Optional, Tuple

import attr
from OpenSSL import crypto
from treq.client import HTTPClient
from twisted.internet import ssl
from twisted.internet.defer import Deferred
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IProtocol,
    IProtocolFactory,
    IStreamClientEndpoint,
)
from twisted.logger import Logger
from twisted.web.client import URI, Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.error import SchemeNotSupported
from twisted.web.iweb import IAgentEndpointFactory, IPolicyForHTTPS
from zope.interface import implementer

from cemscan.errors import TLSError

log = Logger()

_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)

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
@attr.s(auto_attribs=True)
class KeepAliveEndpointFactory:
    """Endpoints for an Agent: HTTP or HTTPS by host name, with keepalive on the TCP socket.

    ``tls`` decides whom https:// daemons must prove they are (default: the
    system's trust store). Its connection creators are kept per host and
    port: building one loads the whole trust store (25-30 ms on bookworm's
    pyOpenSSL), which a runner polling a thousand nodes cannot pay per poll,
    while reusing one costs a fraction of a millisecond.
    """

    reactor: Any
    connect_timeout: float = 30
    tls: IPolicyForHTTPS = attr.Factory(BrowserLikePolicyForHTTPS)
    _creators: Dict[Tuple[bytes, int], IOpenSSLClientConnectionCreator] = attr.ib(
        init=False, factory=dict, repr=False)

    def endpointForURI(self, uri: URI) -> IStreamClientEndpoint:
        """http:// and https:// only; anything else is refused up front."""
        if uri.scheme not in (b"http", b"https"):
            raise SchemeNotSupported(f"Unsupported scheme: {uri.scheme!r}")
        tcp = KeepAliveEndpoint(_tcp_endpoint(self.reactor, uri.host.decode("ascii"), uri.port,
                                              self.connect_timeout))
        if uri.scheme == b"http":
            return tcp
        netloc = (uri.host, uri.port)
        if netloc not in self._creators:
            self._creators[netloc] = self.tls.creatorForNetloc(uri.host, uri.port)
        return wrapClientTLS(self._creators[netloc], tcp)


def _tcp_endpoint(reactor: Any, host: str, port: int, timeout: float) -> IStreamClientEndpoint:
    """A plain TCP endpoint for an IP literal, HostnameEndpoint for a name.

    HostnameEndpoint resolves even ``10.0.0.5`` through getaddrinfo in the
    thread pool: at a few thousand nodes that was a quarter of the runner's
    CPU (measured, docs/benchmarks.md). An address needs no resolving.
    """
    bare = host.strip("[]")
    if isIPAddress(bare):
        return TCP4ClientEndpoint(reactor, bare, port, timeout=timeout)
    if isIPv6Address(bare):
        return TCP6ClientEndpoint(reactor, bare, port, timeout=timeout)
    return HostnameEndpoint(reactor, host, port, timeout=timeout)


def tls_policy(ca_file: Optional[str] = None) -> IPolicyForHTTPS:
    """Trust the CA certificates in ``ca_file`` (PEM, one or more), or the system's if None.

    Either way the daemon's certificate must name the host as the target
    does. A file that cannot be used raises TLSError naming it, before any
    connection is made.
    """
    if ca_file is None:
        return BrowserLikePolicyForHTTPS()
    try:
        with open(ca_file, "rb") as f:
            blocks = _PEM_CERTIFICATE.findall(f.read())
        certificates = [ssl.Certificate.loadPEM(block) for block in blocks]
    except OSError as e:
        raise TLSError(f"cannot read the CA file {ca_file}: {e.strerror or e}") from e
    except crypto.Error as e:
        raise TLSError(f"the CA file {ca_file} holds a certificate that cannot be read: {e}") from e
    if not certificates:
        raise TLSError(f"the CA file {ca_file} holds no PEM certificate "
                       f"(-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)")
    return BrowserLikePolicyForHTTPS(trustRoot=ssl.trustRootFromCertificates(certificates))


def make_http_client(reactor: Any, pool: Optional[HTTPConnectionPool] = None,
                     connect_timeout: float = 30, ca_file: Optional[str] = None) -> HTTPClient:
    """A treq client on ``reactor`` whose every connection has keepalive enabled.

    The default pool is not persistent: each request opens and closes its own
    connection, so nothing idles between polls (no stale socket to trip
    over) and a fleet of a thousand nodes holds a socket only while a request
    is in flight. Nothing is left to close afterwards. Pass a persistent
    ``pool`` to reuse connections instead, and close it yourself.
    ``ca_file`` is for https:// daemons: see `tls_policy`.
    """
    if pool is None:
        pool = HTTPConnectionPool(reactor, persistent=False)
    factory = KeepAliveEndpointFactory(reactor, connect_timeout, tls_policy(ca_file))
    return HTTPClient(Agent.usingEndpointFactory(reactor, factory, pool=pool))
