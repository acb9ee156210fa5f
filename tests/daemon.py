"""Run the real daemon in-process on the real reactor, on a free loopback port."""

import json
import shutil
from typing import Any, Dict, Optional, Tuple

import attr
from treq.client import HTTPClient
from twisted.application import internet, service
from twisted.internet import defer
from twisted.web.client import Agent, HTTPConnectionPool

from cemscan.tap import Options, makeService
from tests.conftest import TEST_CONTENT


@attr.s
class RunningDaemon:
    top: service.MultiService = attr.ib()
    url: str = attr.ib()
    http: HTTPClient = attr.ib()
    pool: HTTPConnectionPool = attr.ib()

    async def request(self, method: str, path: str, data: Optional[bytes] = None) -> Tuple[int, Dict[str, Any]]:
        response = await self.http.request(method, self.url + path, data=data)
        body = await response.content()
        assert response.headers.getRawHeaders("content-type") == ["application/json"], body
        return response.code, json.loads(body)

    async def fetch(self, path: str) -> Tuple[int, Optional[str], bytes]:
        """A raw GET: status, content type, body (for what is not JSON)."""
        response = await self.http.get(self.url + path)
        content_type = (response.headers.getRawHeaders("content-type") or [None])[0]
        return response.code, content_type, await response.content()

    async def wait_until_finished(self, max_polls: int = 20) -> Dict[str, Any]:
        """Long-poll /status until the scan ends: event-driven, no sleeps."""
        for _ in range(max_polls):
            code, status = await self.request("GET", "/status?wait=30")
            if status["state"] != "running":
                return status
        raise AssertionError("scan still running after %d long-polls" % max_polls)

    async def stop(self) -> None:
        await self.pool.closeCachedConnections()
        await defer.maybeDeferred(self.top.stopService)


async def start_daemon(state_dir: str, *options: str) -> RunningDaemon:
    from twisted.internet import reactor

    config = Options()
    config.parseOptions(["--listen", "tcp:0:interface=127.0.0.1", "--state-dir", state_dir,
                         "--oscap", shutil.which("oscap") or "oscap", "--content", TEST_CONTENT] + list(options))
    top = makeService(config, reactor=reactor)
    top.startService()
    [http_service] = [s for s in top if isinstance(s, internet.StreamServerEndpointService)]
    port = await http_service._waitingForPort  # no public way to learn a port-0 listener's port
    pool = HTTPConnectionPool(reactor, persistent=False)
    return RunningDaemon(top, "http://127.0.0.1:%d" % port.getHost().port, HTTPClient(Agent(reactor, pool=pool)),
                         pool)
