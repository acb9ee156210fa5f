"""The daemon over TLS (Twisted endpoint strings), checked with a real handshake."""

import json

import pytest
import pytest_twisted
from treq.client import HTTPClient
from twisted.internet import ssl
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool, ResponseFailed

from tests.certs import make_pki
from tests.daemon import start_daemon


def https_client(ca_pem: str):
    from twisted.internet import reactor

    with open(ca_pem, "rb") as f:
        trust = ssl.Certificate.loadPEM(f.read())
    pool = HTTPConnectionPool(reactor, persistent=False)
    agent = Agent(reactor, contextFactory=BrowserLikePolicyForHTTPS(trustRoot=trust), pool=pool)
    return HTTPClient(agent), pool


@pytest_twisted.ensureDeferred
async def test_health_over_tls_with_a_trusted_ca_and_refusal_with_another(tmp_path):
    (tmp_path / "good").mkdir()
    (tmp_path / "other").mkdir()
    pki = make_pki(str(tmp_path / "good"))
    other = make_pki(str(tmp_path / "other"), ca_name="some other CA")
    listen = "ssl:0:interface=127.0.0.1:privateKey=%s:certKey=%s" % (pki["server.key"], pki["server.pem"])
    daemon = await start_daemon(str(tmp_path / "state"), "--listen", listen)
    port = daemon.url.rsplit(":", 1)[1]
    try:
        client, pool = https_client(pki["ca.pem"])
        response = await client.get("https://127.0.0.1:%s/health" % port)
        body = json.loads(await response.content())
        await pool.closeCachedConnections()
        untrusting, pool2 = https_client(other["ca.pem"])
        with pytest.raises(ResponseFailed):
            await untrusting.get("https://127.0.0.1:%s/health" % port)
        await pool2.closeCachedConnections()
    finally:
        await daemon.stop()
    assert response.code == 200 and body["status"] == "ok"
