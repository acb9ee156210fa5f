"""The fault proxy itself does what the fault tests rely on."""

import pytest_twisted
from twisted.internet import defer, protocol
from twisted.internet.task import deferLater

from tests.faultproxy import FaultProxy


class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


class Probe(protocol.Protocol):
    def __init__(self):
        self.received = b""
        self.lost = defer.Deferred()
        self.got_data = defer.Deferred()

    def dataReceived(self, data):
        self.received += data
        if not self.got_data.called:
            self.got_data.callback(data)

    def connectionLost(self, reason):
        self.lost.callback(None)


async def connect(reactor, port):
    probe = Probe()
    await protocol.ClientCreator(reactor, lambda: probe).connectTCP("127.0.0.1", port)
    return probe


async def through_proxy(check, **faults):
    """Run ``check(reactor, proxy, port)`` against an echo server behind a FaultProxy."""
    from twisted.internet import reactor

    server = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1")
    proxy = FaultProxy(reactor, "127.0.0.1", server.getHost().port, **faults)
    port = proxy.listen()
    try:
        await check(reactor, proxy, port.getHost().port)
    finally:
        await port.stopListening()
        await server.stopListening()


@pytest_twisted.ensureDeferred
async def test_passes_bytes_and_drops_idle_flows():
    async def check(reactor, proxy, port):
        probe = await connect(reactor, port)
        probe.transport.write(b"hello")
        assert await probe.got_data == b"hello"
        await probe.lost  # nothing more is sent: the proxy drops the flow
        assert proxy.idle_drops == 1

    await through_proxy(check, idle_timeout=0.3)


@pytest_twisted.ensureDeferred
async def test_resets_every_nth_connection():
    async def check(reactor, proxy, port):
        first = await connect(reactor, port)
        second = await connect(reactor, port)
        await second.lost
        first.transport.write(b"ok")
        assert await first.got_data == b"ok"
        first.transport.loseConnection()
        await first.lost
        assert proxy.resets == 1 and proxy.connections == 2

    await through_proxy(check, reset_every=2)


@pytest_twisted.ensureDeferred
async def test_stalls_the_servers_bytes():
    async def check(reactor, proxy, port):
        probe = await connect(reactor, port)
        probe.transport.write(b"x")
        await deferLater(reactor, 0.15, lambda: None)
        assert probe.received == b""
        assert await probe.got_data == b"x"
        probe.transport.loseConnection()
        await probe.lost

    await through_proxy(check, stall=0.3)
