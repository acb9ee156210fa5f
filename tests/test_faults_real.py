"""Scans through a network that misbehaves, on the real reactor, with short timings.

The daemon is the real one (in-process, or a real ``twistd`` child for the
kill test); its scanner is a stub whose sleep is the scan. The faults come
from tests/faultproxy.py: flows dropped when idle (as NAT does), new
connections reset, the server's bytes held back. Each test waits on
Deferreds and log lines only, each wait bounded by the client's own deadlines.
"""

from typing import Any, Dict, List, Tuple

import pytest
import pytest_twisted
from twisted.internet import defer

from cemscan.client import DaemonClient, ScanProgress
from cemscan.errors import ScannerInvocationError
from cemscan.result import Result
from tests.faultproxy import FaultProxy
from tests.conftest import TEST_CONTENT
from tests.daemon import start_daemon
from tests.stub_scanner import write_stub_scanner
from tests.twistd_process import TwistdProcess

#: Deadlines short enough that a test which goes wrong fails in seconds, not minutes.
BOUNDS = dict(ready_timeout=5, http_timeout=20)
#: What differs between two runs of the same scan.
RUN_FIELDS = ("scan_id", "started_at", "finished_at", "duration_s")


def port_of(daemon: Any) -> int:
    return int(daemon.url.rsplit(":", 1)[1])


def comparable(result: Result) -> Dict[str, Any]:
    return {key: value for key, value in result.to_dict().items() if key not in RUN_FIELDS}


async def scan(client: DaemonClient) -> Result:
    await client.wait_until_ready()
    return await client.scan("faults", threshold=50)


async def proxied_and_direct(tmp_path: Any, scan_seconds: float, faults: Dict[str, Any],
                             **client_options: Any) -> Tuple[Result, Result, FaultProxy]:
    """The same scan on two daemons at once, one behind a FaultProxy with ``faults``."""
    from twisted.internet import reactor

    daemons: List[Any] = []
    listening = None
    try:
        for name in ("proxied", "direct"):
            (tmp_path / name).mkdir()
            stub = write_stub_scanner(str(tmp_path / name), scan_seconds)
            daemons.append(await start_daemon(str(tmp_path / name / "state"), "--oscap", stub.path))
        proxy = FaultProxy(reactor, "127.0.0.1", port_of(daemons[0]), **faults)
        listening = proxy.listen()
        ports = (listening.getHost().port, port_of(daemons[1]))
        clients = [DaemonClient("127.0.0.1", port, reactor=reactor, **dict(BOUNDS, **client_options))
                   for port in ports]
        proxied, direct = await defer.gatherResults([defer.ensureDeferred(scan(c)) for c in clients])
    finally:
        if listening is not None:
            await listening.stopListening()
        for daemon in daemons:
            await daemon.stop()
    return proxied, direct, proxy


@pytest_twisted.ensureDeferred
async def test_a_scan_well_past_the_idle_limit_completes_with_the_same_result(tmp_path):
    # Polls are held 0.75 s, longer than the proxy lets a flow idle: it drops them, the
    # client retries, and the scan (three idle limits long) still ends as on a clean path.
    proxied, direct, proxy = await proxied_and_direct(
        tmp_path, 1.5, dict(idle_timeout=0.5), poll_interval=0.75)
    assert comparable(proxied) == comparable(direct)
    assert (proxied.score, proxied.failed_count) == (60.0, 2)
    assert proxy.idle_drops >= 1


@pytest_twisted.ensureDeferred
async def test_a_share_of_connections_reset_still_gives_the_same_result(tmp_path):
    proxied, direct, proxy = await proxied_and_direct(
        tmp_path, 0.5, dict(reset_every=2), poll_interval=0.25)
    assert comparable(proxied) == comparable(direct)
    assert proxy.resets >= 2  # the kickoff among them: the second connection is the POST


@pytest_twisted.ensureDeferred
async def test_stalls_shorter_than_the_request_timeout_only_slow_it_down(tmp_path):
    # A held poll takes its wait (0.25 s) plus the stall: 0.4 s, within the 0.5 s allowed.
    proxied, direct, proxy = await proxied_and_direct(
        tmp_path, 0.5, dict(stall=0.15), poll_interval=0.25, request_timeout=0.5)
    assert comparable(proxied) == comparable(direct)


@pytest_twisted.ensureDeferred
async def test_stalls_longer_than_the_request_timeout_end_at_the_deadline(tmp_path):
    from twisted.internet import reactor

    stub = write_stub_scanner(str(tmp_path), 30)
    daemon = await start_daemon(str(tmp_path / "state"), "--oscap", stub.path)
    proxy = FaultProxy(reactor, "127.0.0.1", port_of(daemon))
    listening = proxy.listen()
    retries: List[str] = []

    def progress(event: ScanProgress) -> None:
        if event.phase == "running":  # the scan runs: from now on every answer comes too late
            proxy.stall = 1.0
        elif event.phase == "retrying":
            retries.append(event.detail)

    client = DaemonClient("127.0.0.1", listening.getHost().port, reactor=reactor, poll_interval=0.5,
                          request_timeout=0.5, http_timeout=2, on_progress=progress)
    try:
        with pytest.raises(ScannerInvocationError) as caught:
            await client.scan("faults")
    finally:
        await listening.stopListening()
        await daemon.stop()
    assert str(caught.value) == (f"Scan did not finish within 2s on {client.where} "
                                 f"(last failure: no answer within 0.5s)")
    assert retries and all(detail.startswith("no answer within 0.5s") for detail in retries)


@pytest_twisted.ensureDeferred
async def test_a_daemon_killed_mid_scan_and_restarted_ends_the_scan_at_once(tmp_path):
    from twisted.internet import reactor

    stub = write_stub_scanner(str(tmp_path), 30)
    common = ["--oscap", stub.path, "--content", TEST_CONTENT, "--state-dir", str(tmp_path / "state")]
    first = TwistdProcess(["--listen", "tcp:0:interface=127.0.0.1"] + common)
    try:
        port = await first.port()
        client = DaemonClient("127.0.0.1", port, reactor=reactor, poll_interval=0.5, **BOUNDS)
        scanning = defer.ensureDeferred(scan(client))
        await first.said(rb"scanner recorded as process group")
    finally:
        await first.kill("KILL")
    second = TwistdProcess([f"--listen=tcp:{port}:interface=127.0.0.1"] + common)
    try:
        await second.port()
        restarted = reactor.seconds()
        with pytest.raises(ScannerInvocationError) as caught:
            await scanning
        ended = reactor.seconds()
    finally:
        await second.kill("TERM")
    assert str(caught.value).startswith(
        f"Scan on 127.0.0.1:{port} failed: scan interrupted: the daemon restarted during the scan")
    assert ended - restarted < 2 * client.poll_interval
