"""The cemscan command: parsing, then end to end against fake daemons on real loopback sockets.

In-process runs use `cli.run` in pytest-twisted's reactor; two runs go
through a subprocess (`python -m cemscan.cli`) to see exactly what a user
sees. Daemons finish after two polls and polls are 0.05 s apart, so every
run ends in well under a second.
"""

import io
import json
import os
import re
import socket
import sys
import xml.etree.ElementTree as ET

import pytest
import pytest_twisted
from twisted.internet import defer, utils
from twisted.web.server import Site

from cemscan import cli
from cemscan.config import Config, TargetEntry
from tests.fake_daemon import FakeDaemon

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ["--poll-interval", "0.05", "--ready-timeout", "0.5", "--timeout", "20"]
TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ ")


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def serve():
    """Serve FakeDaemons on 127.0.0.1; ``serve(daemon)`` gives its TARGET."""
    from twisted.internet import reactor

    ports = []

    def start(daemon):
        ports.append(reactor.listenTCP(0, Site(daemon.resource()), interface="127.0.0.1"))
        return f"127.0.0.1:{ports[-1].getHost().port}"

    yield start
    pytest_twisted.blockon(defer.gatherResults([port.stopListening() for port in ports]))


def dead_target():
    """A loopback port nothing listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def run(argv, stdout=None):
    """Run a command in this reactor; fire with (exit status, stdout, stderr)."""
    from twisted.internet import reactor

    out, err = stdout or io.StringIO(), io.StringIO()
    d = cli.run(cli.build_parser().parse_args(argv), reactor=reactor, stdout=out, stderr=err)
    return d.addCallback(lambda code: (code, out.getvalue(), err.getvalue()))


# Parsing -------------------------------------------------------------------------------------

def test_scan_options_parse():
    args = cli.build_parser().parse_args(
        ["scan", "n1", "http://n2:9000", "--config", "f.toml", "--port", "9001", "--profile", "p",
         "--threshold", "90", "--poll-interval", "2.5", "--ready-timeout", "30", "--timeout", "600",
         "--output", "out", "--json", "--junit", "r.xml"])
    assert (args.command, args.targets, args.config, args.port, args.profile, args.threshold) == (
        "scan", ["n1", "http://n2:9000"], "f.toml", 9001, "p", 90.0, )
    assert (args.poll_interval, args.ready_timeout, args.timeout, args.output, args.json, args.junit) == (
        2.5, 30.0, 600.0, "out", True, "r.xml")


@pytest.mark.parametrize("argv, words", [
    ([], "required"),
    (["scan", "n1", "--threshold", "101"], "'101' is not a number from 0 to 100"),
    (["scan", "n1", "--port", "0"], "'0' is not a number from 1 to 65535"),
    (["scan", "n1", "--poll-interval", "0"], "'0' is not a number above 0"),
    (["scan", "n1", "--timeout", "soon"], "'soon' is not a number above 0"),
    (["status"], "required: TARGET"),
    (["status", "n1", "n2"], "unrecognized arguments: n2"),
])
def test_bad_command_lines_exit_2_with_a_message(argv, words, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.build_parser().parse_args(argv)
    assert caught.value.code == 2
    assert words in capsys.readouterr().err


def test_plan_precedence_target_then_test_case_then_flag_then_file():
    config = Config(port=9000, threshold=70.0, test_thresholds={"cis": 95.0},
                    targets=(TargetEntry(host="a", test_case="cis"),
                             TargetEntry(host="b:7000", threshold=60.0, profile="own"),
                             TargetEntry(host="c", port=7001)))
    args = cli.build_parser().parse_args(["scan", "x", "--threshold", "85", "--profile", "flag"])
    jobs = cli._plan(args, config)
    assert [(str(j.target), j.test_case, j.profile, j.threshold) for j in jobs] == [
        ("x:9000", "x:9000", "flag", 85.0),
        ("a:9000", "cis", "flag", 95.0),
        ("b:7000", "b:7000", "own", 60.0),
        ("c:7001", "c:7001", "flag", 85.0),
    ]


# End to end, in process ----------------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_fleet_with_json_junit_and_output(serve, tmp_path):
    good, low, dead = serve(FakeDaemon(score=95.0)), serve(FakeDaemon(score=40.0)), dead_target()
    code, out, err = yield run(["scan", good, low, dead, *FAST, "--json", "--junit",
                                str(tmp_path / "junit.xml"), "--output", str(tmp_path / "out")])
    assert code == 2
    report = json.loads(out)
    assert [(r["target"], r["passed"], r["error"] is None) for r in report] == [
        (good, True, True), (low, False, True), (dead, False, False)]
    assert {"score", "passed_count", "failed_count", "not_applicable_count", "error_count",
            "rules", "passed"} <= set(report[0])
    assert report[1]["score"] == 40.0 and report[1]["rules"][1]["result"] == "fail"
    assert f"Scan daemon at {dead} was not ready within 0.5s" in report[2]["error"]
    suite = ET.parse(str(tmp_path / "junit.xml")).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    written = sorted(os.listdir(str(tmp_path / "out")))
    assert written == sorted(t.replace(":", "_") + ".json" for t in (good, low, dead))
    with open(str(tmp_path / "out" / written[0])) as f:
        assert json.load(f)["target"] in (good, low, dead)
    assert all(TIMESTAMPED.match(line) for line in err.splitlines())  # progress went to stderr
    assert "3 targets: 1 passed, 1 below threshold, 1 could not be scanned" in err


@pytest_twisted.inlineCallbacks
def test_exit_0_when_all_pass_and_1_when_any_is_below(serve):
    good, low = serve(FakeDaemon(score=95.0)), serve(FakeDaemon(score=79.9))
    code, out, err = yield run(["scan", good, *FAST])
    assert (code, err) == (0, "")
    assert all(TIMESTAMPED.match(line) for line in out.splitlines())
    assert f"{good} PASS score 95 >= threshold 80" in out
    code, out, _ = yield run(["scan", good, low, *FAST])
    assert code == 1 and f"{low} FAIL score 79.9 < threshold 80, 1 rule failed" in out


@pytest_twisted.inlineCallbacks
def test_config_file_targets_thresholds_and_output(serve, tmp_path):
    node = serve(FakeDaemon(score=87.4))
    host, port = node.split(":")
    (tmp_path / "fleet.toml").write_text(
        f'scan_output = "results"\n[daemon]\npoll_interval = 0.05\nready_timeout = 0.5\n'
        f'[test_thresholds]\ncis = 90\n[[targets]]\nhost = "{host}"\nport = {port}\ntest_case = "cis"\n')
    code, out, _ = yield run(["scan", "--config", str(tmp_path / "fleet.toml")])
    assert code == 1 and "FAIL score 87.4 < threshold 90" in out
    with open(str(tmp_path / "results" / "cis.json")) as f:
        assert json.load(f)["threshold"] == 90.0


@pytest_twisted.inlineCallbacks
def test_terminal_gets_live_lines_and_a_summary_table(serve):
    good = serve(FakeDaemon(score=95.0))
    code, out, _ = yield run(["scan", good, *FAST], stdout=Terminal())
    assert code == 0
    assert "\x1b[2K" in out  # lines redrawn in place
    table = out.split("\x1b[J")[-1].strip().splitlines()
    assert table[0].split()[:2] == ["TARGET", "TEST"]
    assert table[1].split()[:5] == [good, good, "95", "80", "PASS"]


@pytest_twisted.inlineCallbacks
def test_status_and_result_commands(serve):
    daemon = FakeDaemon(score=60.0)
    node = serve(daemon)
    code, out, _ = yield run(["status", node])
    assert (code, out) == (0, f"{node}: idle (no scan since the daemon started)\n")
    code, out, err = yield run(["result", node])
    assert code == 2 and "no result available, state: idle" in out
    yield run(["scan", node, *FAST])
    code, out, _ = yield run(["status", node, "--json"])
    assert code == 0 and json.loads(out)["state"] == "done"
    code, out, _ = yield run(["result", node, "--threshold", "50"])
    assert code == 0 and out.startswith(f"{node}: PASS score 60 >= threshold 50, 1 rule failed\n")
    assert "  fail: rule_ssh_root (high) No root SSH login" in out
    code, out, _ = yield run(["result", node, "--json"])
    assert code == 1 and json.loads(out)["passed"] is False


@pytest.mark.parametrize("argv, message", [
    (["scan", "https://node1"], "cemscan: error: target 'https://node1': the daemon speaks plain http://"),
    (["scan"], "cemscan: error: nothing to scan: give one or more TARGETs"),
    (["scan", "--config", "/nonexistent/fleet.toml"], "cemscan: error: /nonexistent/fleet.toml: cannot read"),
    (["status", "node1:x"], "cemscan: error: target 'node1:x': the port must be a number"),
])
@pytest_twisted.inlineCallbacks
def test_user_errors_are_one_line_and_exit_2(argv, message):
    code, out, err = yield run(argv)
    assert (code, out) == (2, "")
    assert err.startswith(message) and err.count("\n") == 1


@pytest_twisted.inlineCallbacks
def test_bad_config_names_file_key_and_line(tmp_path):
    (tmp_path / "fleet.toml").write_text("[daemon]\nport = 8084\npoll_intervall = 5\n")
    code, _, err = yield run(["scan", "--config", str(tmp_path / "fleet.toml")])
    assert code == 2
    assert err == (f"cemscan: error: {tmp_path / 'fleet.toml'}:3: daemon.poll_intervall: unknown key; "
                   "did you mean 'poll_interval'? known keys here: http_timeout, poll_interval, port, "
                   "ready_timeout, request_timeout\n")


@pytest_twisted.inlineCallbacks
def test_two_targets_writing_one_file_are_refused_before_scanning(tmp_path):
    (tmp_path / "fleet.toml").write_text(
        '[[targets]]\nhost = "a"\ntest_case = "cis"\n[[targets]]\nhost = "b"\ntest_case = "cis"\n')
    code, _, err = yield run(["scan", "--config", str(tmp_path / "fleet.toml"), "--output", str(tmp_path)])
    assert code == 2 and "targets a:8084 and b:8084 would both write cis.json" in err


@pytest_twisted.inlineCallbacks
def test_unreachable_daemon_for_status_is_one_line(serve):
    dead = dead_target()
    code, out, err = yield run(["status", dead])
    assert (code, out) == (2, "")
    assert err.startswith(f"cemscan: error: Cannot get /status from scan daemon at {dead}: ")
    assert err.count("\n") == 1


# End to end, as a user runs it ---------------------------------------------------------------

def cemscan(*argv):
    from twisted.internet import reactor

    return utils.getProcessOutputAndValue(sys.executable, ["-m", "cemscan.cli", *argv],
                                          env=dict(os.environ), path=REPO, reactor=reactor)


@pytest_twisted.inlineCallbacks
def test_subprocess_scan_prints_plain_lines_and_exits_0(serve):
    node = serve(FakeDaemon(score=95.0))
    out, err, code = yield cemscan("scan", node, *FAST)
    assert (code, err) == (0, b"")
    lines = out.decode().splitlines()
    assert all(TIMESTAMPED.match(line) for line in lines) and "\x1b" not in out.decode()
    assert lines[-1].endswith("cemscan 1 target: 1 passed, 0 below threshold, 0 could not be scanned")


@pytest_twisted.inlineCallbacks
def test_subprocess_user_error_has_no_traceback():
    out, err, code = yield cemscan("scan", "node1:99999")
    assert (code, out) == (2, b"")
    assert err == b"cemscan: error: target 'node1:99999': the port must be a number from 1 to 65535\n"
