"""TCP keepalive, read back with getsockopt from real sockets (TLS ones included); TLS trust."""

import socket

import pytest
import pytest_twisted
from OpenSSL import SSL
from twisted.internet import endpoints, protocol
from twisted.web import resource, server
from twisted.web.client import URI
from twisted.web.error import SchemeNotSupported

from cemscan import keepalive
from cemscan.errors import TLSError
from tests.certs import make_pki

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


class Health(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        return b'{"status": "ok"}'


@pytest.fixture
def pki(tmp_path):
    return make_pki(str(tmp_path))


def listen(reactor, scheme, pki, site):
    """A loopback server for ``scheme``; the TLS one with the throw-away CA's certificate."""
    if scheme == "http":
        return reactor.listenTCP(0, site, interface="127.0.0.1")
    description = "ssl:0:interface=127.0.0.1:privateKey=%s:certKey=%s" % (pki["server.key"], pki["server.pem"])
    return endpoints.serverFromString(reactor, description).listen(site)


def bundle(tmp_path, pki):
    """A CA file as systems ship them: text, another CA, then the one that signed the daemon's."""
    (tmp_path / "other").mkdir()
    other = make_pki(str(tmp_path / "other"), ca_name="another CA")
    path = tmp_path / "bundle.pem"
    path.write_bytes(b"a comment\n" + open(other["ca.pem"], "rb").read() + open(pki["ca.pem"], "rb").read())
    return str(path)


@needs_linux_options
@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest_twisted.inlineCallbacks
def test_http_client_requests_go_over_keepalive_sockets(monkeypatch, tmp_path, pki, scheme):
    from twisted.internet import reactor

    seen = []

    def recording(transport, *args):
        real_enable(transport, *args)
        seen.append(keepalive_options(transport.getHandle()))

    real_enable = keepalive.enable_keepalive
    monkeypatch.setattr(keepalive, "enable_keepalive", recording)
    port = yield listen(reactor, scheme, pki, server.Site(Health()))
    try:
        client = keepalive.make_http_client(reactor, ca_file=bundle(tmp_path, pki))
        response = yield client.get("%s://127.0.0.1:%d/health" % (scheme, port.getHost().port))
        assert (yield response.content()) == b'{"status": "ok"}'
        assert seen == [(True, 60, 10, 6)]
    finally:
        yield port.stopListening()


def tcp_socket(transport):
    """The socket under ``transport``, and how many TLS layers lie over it."""
    layers = 0
    while not isinstance(transport.getHandle(), socket.socket):
        assert isinstance(transport.getHandle(), SSL.Connection)
        transport, layers = transport.transport, layers + 1
    return transport.getHandle(), layers


@needs_linux_options
@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest_twisted.inlineCallbacks
def test_endpoint_sets_keepalive_on_a_real_loopback_connection(pki, scheme):
    """Under TLS too: TLS goes over the keepalive endpoint, so the TCP socket has the options."""
    from twisted.internet import reactor

    port = yield listen(reactor, scheme, pki, protocol.Factory.forProtocol(protocol.Protocol))
    try:
        factory = keepalive.KeepAliveEndpointFactory(reactor, tls=keepalive.tls_policy(pki["ca.pem"]))
        url = "%s://127.0.0.1:%d/" % (scheme, port.getHost().port)
        client = yield factory.endpointForURI(URI.fromBytes(url.encode())).connect(
            protocol.Factory.forProtocol(protocol.Protocol))
        try:
            sock, tls_layers = tcp_socket(client.transport)
            assert keepalive_options(sock) == (True, 60, 10, 6)
            assert tls_layers == (scheme == "https")
        finally:
            client.transport.abortConnection()
    finally:
        yield port.stopListening()


def test_endpoint_factory_refuses_other_schemes():
    with pytest.raises(SchemeNotSupported):
        keepalive.KeepAliveEndpointFactory(reactor=None).endpointForURI(URI.fromBytes(b"ftp://node1:8084/"))


def test_tls_connection_creators_are_made_once_per_host_and_port():
    class Policy:
        def __init__(self):
            self.asked = []

        def creatorForNetloc(self, host, port):
            self.asked.append((host, port))
            return object()

    from twisted.internet import reactor  # only to build endpoints: nothing connects

    policy = Policy()
    factory = keepalive.KeepAliveEndpointFactory(reactor, tls=policy)
    for url in (b"https://n1:8443/", b"https://n1:8443/status", b"https://n2:8443/", b"http://n1:8443/"):
        factory.endpointForURI(URI.fromBytes(url))
    assert policy.asked == [(b"n1", 8443), (b"n2", 8443)]


@pytest.mark.parametrize("content, words", [
    (None, "cannot read the CA file .*: No such file or directory"),
    (b"just text\n", "holds no PEM certificate"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "holds a certificate that cannot be read"),
])
def test_an_unusable_ca_file_is_refused_naming_it(tmp_path, content, words):
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TLSError, match=words) as caught:
        keepalive.tls_policy(str(path))
    assert str(path) in str(caught.value)


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


@pytest.mark.parametrize("host, kind", [
    ("127.0.0.1", "TCP4ClientEndpoint"),
    ("::1", "TCP6ClientEndpoint"),
    ("[::1]", "TCP6ClientEndpoint"),
    ("node1.example", "HostnameEndpoint"),
])
def test_ip_literals_skip_name_resolution(host, kind):
    from twisted.internet.task import Clock

    from cemscan.keepalive import _tcp_endpoint

    assert type(_tcp_endpoint(Clock(), host, 8084, 30)).__name__ == kind
