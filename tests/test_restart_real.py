"""Killing the daemon mid-scan: the restart says so, and kills the orphaned scanner."""

import json
import sys

import pytest_twisted
from treq.client import HTTPClient
from twisted.web.client import Agent, HTTPConnectionPool

from tests.conftest import TEST_CONTENT
from tests.test_process import _exits_soon
from tests.twistd_process import TwistdProcess

# Silent on purpose: a scanner that writes to the dead daemon's pipe dies of
# SIGPIPE by itself; one that only works on (like oscap between two rules)
# lives on, and that is the one the restarted daemon has to find.
SLOW_SCANNER = """#!%s
import time
time.sleep(600)
"""


async def get_json(port, path):
    from twisted.internet import reactor

    pool = HTTPConnectionPool(reactor, persistent=False)
    response = await HTTPClient(Agent(reactor, pool=pool)).request("GET" if path != "/scan" else "POST",
                                                                   "http://127.0.0.1:%d%s" % (port, path))
    body = json.loads(await response.content())
    await pool.closeCachedConnections()
    return response.code, body


@pytest_twisted.ensureDeferred
async def test_sigkill_mid_scan_then_restart(tmp_path):
    scanner = tmp_path / "oscap"
    scanner.write_text(SLOW_SCANNER % sys.executable)
    scanner.chmod(0o755)
    args = ["--listen", "tcp:0:interface=127.0.0.1", "--oscap", str(scanner), "--content", TEST_CONTENT,
            "--state-dir", str(tmp_path / "state")]

    first = TwistdProcess(args)
    try:
        port = await first.port()
        code, started = await get_json(port, "/scan")
        assert code == 202
        pgid = int((await first.said(rb"scanner recorded as process group (\d+)")).group(1))
    finally:
        await first.kill("KILL")
    assert not _exits_soon(pgid, within=0.2), "the scanner should outlive a SIGKILLed daemon (own session)"

    second = TwistdProcess(args)
    try:
        port = await second.port()
        code, status = await get_json(port, "/status")
        _, result = await get_json(port, "/result")
    finally:
        await second.kill("TERM")
    assert status["state"] == "error" and status["scan_id"] == started["scan_id"]
    assert result["error"] == "scan interrupted: the daemon restarted during the scan"
    assert _exits_soon(pgid), "the restarted daemon left the orphaned scanner running"
