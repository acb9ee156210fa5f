"""TCP keepalive, read back with getsockopt from real sockets."""

import socket

import pytest
import pytest_twisted
from twisted.internet import protocol
from twisted.web import resource, server
from twisted.web.client import URI
from twisted.web.error import SchemeNotSupported

from cemscan import keepalive

LINUX_OPTIONS = ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT")
needs_linux_options = pytest.mark.skipif(
    not all(hasattr(socket, name) for name in LINUX_OPTIONS), reason="needs Linux keepalive options")


def keepalive_options(sock):
    return (sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0,
            *(sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name)) for name in LINUX_OPTIONS))


class SocketTransport:
    """The two calls enable_keepalive makes on a Twisted TCP transport, over a plain socket."""

    def __init__(self, sock):
        self.sock = sock

    def setTcpKeepAlive(self, enabled):
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(enabled))

    def getHandle(self):
        return self.sock


@needs_linux_options
@pytest_twisted.inlineCallbacks
def test_endpoint_sets_keepalive_on_a_real_loopback_connection():
    from twisted.internet import reactor

    port = reactor.listenTCP(0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1")
    try:
        factory = keepalive.KeepAliveEndpointFactory(reactor)
        endpoint = factory.endpointForURI(URI.fromBytes(b"http://127.0.0.1:%d/" % port.getHost().port))
        client = yield endpoint.connect(protocol.Factory.forProtocol(protocol.Protocol))
        try:
            assert keepalive_options(client.transport.getHandle()) == (True, 60, 10, 6)
        finally:
            client.transport.abortConnection()
    finally:
        yield port.stopListening()


class Health(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        return b'{"status": "ok"}'


@needs_linux_options
@pytest_twisted.inlineCallbacks
def test_http_client_requests_go_over_keepalive_sockets(monkeypatch):
    from twisted.internet import reactor

    seen = []

    def recording(transport, *args):
        real_enable(transport, *args)
        seen.append(keepalive_options(transport.getHandle()))

    real_enable = keepalive.enable_keepalive
    monkeypatch.setattr(keepalive, "enable_keepalive", recording)
    port = reactor.listenTCP(0, server.Site(Health()), interface="127.0.0.1")
    try:
        client = keepalive.make_http_client(reactor)
        response = yield client.get("http://127.0.0.1:%d/health" % port.getHost().port)
        assert (yield response.content()) == b'{"status": "ok"}'
        assert seen == [(True, 60, 10, 6)]
    finally:
        yield port.stopListening()


def test_endpoint_factory_refuses_https():
    with pytest.raises(SchemeNotSupported):
        keepalive.KeepAliveEndpointFactory(reactor=None).endpointForURI(
            URI.fromBytes(b"https://node1:8084/"))


@needs_linux_options
def test_custom_values_reach_the_socket():
    with socket.socket() as sock:
        keepalive.enable_keepalive(SocketTransport(sock), idle=30, interval=5, count=3)
        assert keepalive_options(sock) == (True, 30, 5, 3)


def test_platform_without_fine_grained_options_still_gets_so_keepalive(monkeypatch):
    numbers = {name: getattr(socket, name) for name in LINUX_OPTIONS if hasattr(socket, name)}
    monkeypatch.setattr(keepalive, "_IDLE_OPTION", None)
    monkeypatch.delattr(socket, "TCP_KEEPINTVL", raising=False)
    monkeypatch.delattr(socket, "TCP_KEEPCNT", raising=False)

    def fine_grained(sock):
        return {name: sock.getsockopt(socket.IPPROTO_TCP, number) for name, number in numbers.items()}

    with socket.socket() as sock:
        kernel_defaults = fine_grained(sock)
        keepalive.enable_keepalive(SocketTransport(sock))
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
        assert fine_grained(sock) == kernel_defaults


@needs_linux_options
def test_an_option_the_kernel_refuses_does_not_stop_the_others():
    class Refusing(socket.socket):
        def setsockopt(self, level, option, value):
            if option == socket.TCP_KEEPIDLE:
                raise OSError(92, "Protocol not available")
            super().setsockopt(level, option, value)

    with Refusing() as sock:
        idle_before = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
        keepalive.enable_keepalive(SocketTransport(sock))
        assert keepalive_options(sock) == (True, idle_before, 10, 6)


def test_transports_without_a_socket_get_only_the_flag():
    class NoSocket:  # like StubTreq's in-memory transports: no getHandle
        keepalive = None

        def setTcpKeepAlive(self, enabled):
            self.keepalive = enabled

    transport = NoSocket()
    keepalive.enable_keepalive(transport)
    assert transport.keepalive is True
