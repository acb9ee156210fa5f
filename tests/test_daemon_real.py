"""The real daemon, real HTTP on loopback, the real oscap on the test benchmark."""

import os
import shutil

import pytest
import pytest_twisted
from twisted.internet import defer

from tests.daemon import start_daemon
from tests.expected import ALT, ALT_PROFILE, TEST, TEST_PROFILE, as_rules

pytestmark = pytest.mark.skipif(shutil.which("oscap") is None, reason="needs oscap (openscap-scanner)")


@pytest_twisted.ensureDeferred
async def test_a_real_scan_gives_every_rule_its_expected_result(tmp_path):
    daemon = await start_daemon(str(tmp_path))
    try:
        code, health = await daemon.request("GET", "/health")
        assert code == 200 and health["status"] == "ok" and health["profile"] == TEST_PROFILE
        code, started = await daemon.request("POST", "/scan")
        assert code == 202 and started["profile"] == TEST_PROFILE
        status = await daemon.wait_until_finished()
        assert status["state"] == "done"
        assert status["progress"] == {"rules_done": 7, "rules_total": 7}
        code, result = await daemon.request("GET", "/result")
    finally:
        await daemon.stop()
    assert code == 200
    assert {r["id"]: r for r in result["rules"]} == as_rules(TEST)
    assert (result["passed_count"], result["failed_count"], result["not_applicable_count"],
            result["notchecked_count"], result["error_count"]) == (3, 2, 1, 1, 0)
    assert result["score"] == 60.0 and result["native_score"] == 60.0
    assert result["scan_id"] == started["scan_id"] and result["profile"] == TEST_PROFILE
    scan_dir = os.path.join(str(tmp_path), "scans", started["scan_id"])
    assert sorted(os.listdir(scan_dir)) == ["arf.xml", "result.json", "stderr.log", "stdout.log"]


@pytest_twisted.ensureDeferred
async def test_posted_profile_is_the_one_scanned(tmp_path):
    daemon = await start_daemon(str(tmp_path))
    try:
        code, _ = await daemon.request("POST", "/scan", b'{"profile": "%s"}' % ALT_PROFILE.encode())
        assert code == 202
        await daemon.wait_until_finished()
        _, result = await daemon.request("GET", "/result")
    finally:
        await daemon.stop()
    assert {r["id"]: r for r in result["rules"]} == as_rules(ALT)
    assert result["profile"] == ALT_PROFILE


@pytest_twisted.ensureDeferred
async def test_racing_posts_start_exactly_one_scan(tmp_path):
    daemon = await start_daemon(str(tmp_path))
    try:
        answers = await defer.gatherResults([defer.ensureDeferred(daemon.request("POST", "/scan"))
                                             for _ in range(25)])
        await daemon.wait_until_finished()
    finally:
        await daemon.stop()
    assert sorted(code for code, _ in answers) == [202] + [409] * 24
    [started] = [body for code, body in answers if code == 202]
    assert all(body == {"error": "scan already running", "scan_id": started["scan_id"]}
               for code, body in answers if code == 409)
    assert len(os.listdir(os.path.join(str(tmp_path), "scans"))) == 1  # one scan folder: one oscap run


@pytest_twisted.ensureDeferred
async def test_the_result_survives_a_restart(tmp_path):
    daemon = await start_daemon(str(tmp_path))
    try:
        await daemon.request("POST", "/scan")
        await daemon.wait_until_finished()
        _, before = await daemon.request("GET", "/result")
    finally:
        await daemon.stop()
    daemon = await start_daemon(str(tmp_path))
    try:
        _, status = await daemon.request("GET", "/status")
        code, after = await daemon.request("GET", "/result")
    finally:
        await daemon.stop()
    assert status["state"] == "done" and code == 200 and after == before


@pytest_twisted.ensureDeferred
async def test_an_unknown_profile_given_to_oscap_is_an_error_result(tmp_path):
    # The content says the profile exists, oscap says it does not: exit 1.
    fake_content = tmp_path / "ds.xml"
    fake_content.write_text(open(os.path.join(os.path.dirname(__file__), "content", "test-ds.xml")).read()
                            .replace("xccdf_io.cemscan.test_profile_alt", "xccdf_io.cemscan.test_profile_gone"))
    daemon = await start_daemon(str(tmp_path / "state"), "--content", str(fake_content))
    try:
        # make oscap see a profile the daemon's list still has
        os.rename(str(fake_content), str(tmp_path / "ds.old"))
        with open(str(fake_content), "w") as f:
            f.write(open(str(tmp_path / "ds.old")).read().replace("test_profile_gone", "test_profile_renamed"))
        code, _ = await daemon.request("POST", "/scan", b'{"profile": "xccdf_io.cemscan.test_profile_gone"}')
        assert code == 202
        status = await daemon.wait_until_finished()
        _, result = await daemon.request("GET", "/result")
    finally:
        await daemon.stop()
    assert status["state"] == "error"
    assert result["exit_code"] == 1 and "exit code 1" in result["error"]
    assert "test_profile_gone" in result["stderr"]


@pytest_twisted.ensureDeferred
async def test_reports_of_a_real_scan(tmp_path):
    daemon = await start_daemon(str(tmp_path))
    try:
        _, started = await daemon.request("POST", "/scan")
        await daemon.wait_until_finished()
        arf = await daemon.fetch("/report?format=arf")
        html = await daemon.fetch("/report?format=html")
        bash = await daemon.fetch("/report?format=bash")
        ansible = await daemon.fetch("/report?format=ansible")
        again = await daemon.fetch("/report?format=html")
    finally:
        await daemon.stop()
    scan_dir = os.path.join(str(tmp_path), "scans", started["scan_id"])
    assert arf == (200, "application/xml", open(os.path.join(scan_dir, "arf.xml"), "rb").read())
    assert html[:2] == (200, "text/html; charset=utf-8") and b"<html" in html[2][:2000].lower()
    assert again == html
    assert bash[:2] == (200, "text/x-shellscript; charset=utf-8")
    assert b'echo "cemscan test fix: would create /nonexistent/cemscan-test-never-present"' in bash[2]
    assert ansible[0] == 200 and b"cemscan test fix (never run)" in ansible[2]


@pytest_twisted.ensureDeferred
async def test_ciscat_through_the_same_api(tmp_path):
    from tests.test_tap import ASSESSOR, CIS_BENCHMARK

    daemon = await start_daemon(str(tmp_path), "--scanner", "ciscat", "--assessor", ASSESSOR,
                                "--benchmark", CIS_BENCHMARK)
    try:
        code, started = await daemon.request("POST", "/scan")
        status = await daemon.wait_until_finished()
        _, result = await daemon.request("GET", "/result")
        arf = await daemon.fetch("/report?format=arf")
    finally:
        await daemon.stop()
    assert code == 202 and status["state"] == "done", result
    assert status["progress"]["rules_done"] == status["progress"]["rules_total"]
    assert result["scanner"] == "ciscat" and result["passed_count"] > 0 and result["failed_count"] > 0
    assert arf[0] == 200 and b"TestResult" in arf[2]


@pytest_twisted.ensureDeferred
async def test_cemscan_report_downloads_the_fix_script(tmp_path):
    import io

    from twisted.internet import reactor

    from cemscan import cli

    daemon = await start_daemon(str(tmp_path / "state"))
    out, err = io.StringIO(), io.StringIO()
    target = daemon.url.replace("http://", "")
    try:
        early = await cli.run(cli.build_parser().parse_args(["report", target]), cli.Context(reactor, out, err,
                                                                                              environ={}))
        await daemon.request("POST", "/scan")
        await daemon.wait_until_finished()
        args = cli.build_parser().parse_args(["report", target, "--format", "bash", "-o", str(tmp_path / "fix.sh")])
        code = await cli.run(args, cli.Context(reactor, out, err, environ={}))
        bad = cli.build_parser().parse_args(["report", "127.0.0.1:1"])
        refused = await cli.run(bad, cli.Context(reactor, out, err, environ={}))
    finally:
        await daemon.stop()
    assert early == 2 and "No html report from %s (status 404): no scan to report on yet" % target in err.getvalue()
    assert code == 0, err.getvalue()
    assert "cemscan test fix" in (tmp_path / "fix.sh").read_text()
    assert "bash report of %s written to" % target in err.getvalue()
    assert refused == 2 and "Cannot get the html report from scan daemon at 127.0.0.1:1" in err.getvalue()
