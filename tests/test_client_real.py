"""The runner against the real daemon on the real reactor: long-polls, TLS, tokens, end to end."""

import json
import shutil
import time

import pytest
import pytest_twisted

from cemscan.client import DaemonClient
from tests.certs import make_pki
from tests.daemon import start_daemon
from tests.stub_scanner import write_stub_scanner
from tests.test_cli import run

needs_oscap = pytest.mark.skipif(shutil.which("oscap") is None, reason="needs oscap (openscap-scanner)")
TOKEN = "s3cret-token-0123456789"


def port_of(daemon):
    return int(daemon.url.rsplit(":", 1)[1])


@pytest_twisted.ensureDeferred
async def test_the_result_arrives_the_moment_the_scan_ends(tmp_path):
    """poll_interval 10: without long-polls the runner would learn of the end about 9 s late."""
    from twisted.internet import reactor

    stub = write_stub_scanner(str(tmp_path), seconds=1.0)
    daemon = await start_daemon(str(tmp_path / "state"), "--oscap", stub.path)
    try:
        client = DaemonClient("127.0.0.1", port_of(daemon), poll_interval=10, reactor=reactor)
        result = await client.scan("cis", threshold=50)
        arrived = reactor.seconds()
    finally:
        await daemon.stop()
    assert arrived - stub.exited_at() < 0.5
    assert (result.score, result.passed_count, result.failed_count) == (60.0, 3, 2)


def tls_listen(pki, interface="127.0.0.1"):
    return "ssl:0:interface=%s:privateKey=%s:certKey=%s" % (interface, pki["server.key"], pki["server.pem"])


@needs_oscap
@pytest_twisted.ensureDeferred
async def test_a_full_scan_through_tls_with_a_token_both_from_the_config(tmp_path):
    pki = make_pki(str(tmp_path))
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "token").chmod(0o600)
    (tmp_path / "fleet.toml").write_text('[daemon]\nca_file = "ca.pem"\ntoken_file = "token"\n')
    daemon = await start_daemon(str(tmp_path / "state"), "--listen", tls_listen(pki),
                                "--token-file", str(tmp_path / "token"))
    try:
        target = f"https://127.0.0.1:{port_of(daemon)}"
        code, out, err = await run(["scan", target, "--config", str(tmp_path / "fleet.toml"),
                                    "--poll-interval", "0.5", "--threshold", "50", "--json"])
        untokened, _, err_untokened = await run(["status", target, "--ca-file", pki["ca.pem"]])
    finally:
        await daemon.stop()
    assert code == 0, err
    [report] = json.loads(out)
    assert (report["target"], report["score"], report["passed"]) == (f"127.0.0.1:{port_of(daemon)}", 60.0, True)
    assert untokened == 2 and "requires a token" in err_untokened


@pytest.mark.parametrize("trust", ["another CA", "the system's trust store"])
@pytest_twisted.ensureDeferred
async def test_an_untrusted_certificate_fails_the_target_at_once(tmp_path, trust):
    pki = make_pki(str(tmp_path))
    (tmp_path / "other").mkdir()
    other = make_pki(str(tmp_path / "other"), ca_name="some other CA")
    daemon = await start_daemon(str(tmp_path / "state"), "--listen", tls_listen(pki))
    ca = ["--ca-file", other["ca.pem"]] if trust == "another CA" else []
    try:
        began = time.monotonic()
        code, out, _ = await run(["scan", f"https://127.0.0.1:{port_of(daemon)}", *ca, "--ready-timeout", "30"])
        took = time.monotonic() - began
    finally:
        await daemon.stop()
    assert code == 2 and took < 5  # not after ready_timeout: no retry mends a certificate
    assert (f"ERROR certificate of 127.0.0.1:{port_of(daemon)} is not trusted: certificate verify failed; "
            f"pass --ca-file") in out


@pytest_twisted.ensureDeferred
async def test_a_certificate_for_another_host_fails_the_target(tmp_path):
    pki = make_pki(str(tmp_path))  # for 127.0.0.1 and localhost only
    daemon = await start_daemon(str(tmp_path / "state"), "--listen", tls_listen(pki, interface="127.0.0.2"))
    try:
        code, out, err = await run(["status", f"https://127.0.0.2:{port_of(daemon)}", "--ca-file", pki["ca.pem"]])
    finally:
        await daemon.stop()
    assert (code, out) == (2, "")
    assert err == (f"cemscan: error: certificate of 127.0.0.2:{port_of(daemon)} is not valid for 127.0.0.2: "
                   f"it names other hosts; give the target by a name or address its certificate lists\n")
