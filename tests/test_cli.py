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
from twisted.internet import defer, protocol, utils
from twisted.web.server import Site

from cemscan import cli
from cemscan.config import Config, TargetEntry
from tests.fake_daemon import FakeDaemon

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ["--poll-interval", "0.05", "--ready-timeout", "0.5", "--timeout", "20"]
TOKEN = "s3cret-token-0123456789"
#: The longest any real-reactor wait here may take before the test fails instead of hanging.
BOUND_S = 20
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


def run(argv, stdout=None, environ=None, interrupts=None):
    """Run a command in this reactor; fire with (exit status, stdout, stderr).

    The environment is empty unless given: a developer's $CEMSCAN_TOKEN must not leak in.
    """
    from twisted.internet import reactor

    out, err = stdout or io.StringIO(), io.StringIO()
    context = cli.Context(reactor, out, err, environ=environ or {}, interrupts=interrupts)
    d = cli.run(cli.build_parser().parse_args(argv), context)
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
    assert code == 0 and out.startswith(
        f"{node}: PASS score 60 >= threshold 50: 1 passed, 1 failed, 1 not applicable, 0 error\n")
    assert "  fail: rule_ssh_root (high) No root SSH login" in out
    code, out, _ = yield run(["result", node, "--json"])
    assert code == 1 and json.loads(out)["passed"] is False


@pytest.mark.parametrize("argv, message", [
    (["scan", "ftp://node1"], "cemscan: error: target 'ftp://node1': the daemon speaks http:// or https://"),
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
                   "did you mean 'poll_interval'? known keys here: ca_file, http_timeout, poll_interval, "
                   "port, ready_timeout, request_timeout, token_file\n")


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


def bounded(d):
    from twisted.internet import reactor

    return d.addTimeout(BOUND_S, reactor)


# Options of the access and cancel features --------------------------------------------------------

def test_access_options_and_cancel_parse():
    args = cli.build_parser().parse_args(
        ["scan", "https://n1:8443", "--token-file", "t", "--ca-file", "ca.pem", "--cancel-on-interrupt"])
    assert (args.targets, args.token_file, args.ca_file, args.cancel_on_interrupt) == (
        ["https://n1:8443"], "t", "ca.pem", True)
    args = cli.build_parser().parse_args(["cancel", "n1", "n2", "--port", "9000", "--json", "--config", "f"])
    assert (args.command, args.targets, args.port, args.json, args.config) == (
        "cancel", ["n1", "n2"], 9000, True, "f")
    for command in (["status", "n1"], ["result", "n1"]):
        args = cli.build_parser().parse_args(command + ["--token-file", "t", "--ca-file", "c", "--config", "f"])
        assert (args.token_file, args.ca_file, args.config) == ("t", "c", "f")


def test_cancel_needs_a_target(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["cancel"])
    assert "required: TARGET" in capsys.readouterr().err


@pytest.mark.parametrize("limits, cap", [((1024, 4096), 960), ((20, 20), 16), ((20000, 20000), 19936)])
def test_requests_in_flight_follow_the_open_file_limit(monkeypatch, limits, cap):
    monkeypatch.setattr(cli.resource, "getrlimit", lambda what: limits)
    assert cli.requests_in_flight() == cap


def test_requests_in_flight_without_a_file_limit(monkeypatch):
    infinity = cli.resource.RLIM_INFINITY
    monkeypatch.setattr(cli.resource, "getrlimit", lambda what: (infinity, infinity))
    assert cli.requests_in_flight() == 65536 - cli.RESERVED_FILES


# Tokens ------------------------------------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_token_from_each_source_and_their_precedence(serve, tmp_path):
    node = serve(FakeDaemon(token=TOKEN, score=95.0))
    (tmp_path / "right").write_text(TOKEN + "\n")
    (tmp_path / "wrong").write_text("not-the-token\n")
    for name in ("right", "wrong"):
        (tmp_path / f"{name}.toml").write_text(f'[daemon]\ntoken_file = "{name}"\n')
    right, wrong = str(tmp_path / "right"), str(tmp_path / "wrong")
    config = {name: ["--config", str(tmp_path / f"{name}.toml")] for name in ("right", "wrong")}
    cases = [
        (["--token-file", right], {}),
        ([], {"CEMSCAN_TOKEN_FILE": right}),
        ([], {"CEMSCAN_TOKEN": TOKEN + "\n"}),
        (config["right"], {}),  # token_file relative to the config's folder
        # The flag over the environment, a token file over a token, the environment over the config:
        (["--token-file", right] + config["wrong"], {"CEMSCAN_TOKEN_FILE": wrong, "CEMSCAN_TOKEN": "x"}),
        (config["wrong"], {"CEMSCAN_TOKEN_FILE": right, "CEMSCAN_TOKEN": "not-the-token"}),
        (config["wrong"], {"CEMSCAN_TOKEN": TOKEN}),
    ]
    for extra, environ in cases:
        code, out, err = yield run(["scan", node, *FAST, *extra], environ=environ)
        assert (code, err) == (0, ""), (extra, environ, out)
        assert TOKEN not in out


@pytest_twisted.inlineCallbacks
def test_no_or_wrong_token_says_what_to_do_and_never_shows_the_token(serve):
    daemon = FakeDaemon(token=TOKEN)
    node = serve(daemon)
    code, out, _ = yield run(["scan", node, *FAST])
    assert code == 2 and f"{node} ERROR Scan daemon at {node} requires a token: pass" in out
    assert [method for method, _, _ in daemon.requests] == ["GET", "POST"]  # /health, then one refused POST
    for command in (["status", node], ["result", node], ["cancel", node]):
        code, out, err = yield run(command, environ={"CEMSCAN_TOKEN": TOKEN + "x"})
        assert code == 2 and f"Scan daemon at {node} refused the token" in out + err
        assert TOKEN not in out + err


@pytest.mark.parametrize("argv, environ, message", [
    (["--token-file", "/nonexistent/token"], {},
     "cemscan: error: cannot read the token file /nonexistent/token: No such file or directory"),
    ([], {"CEMSCAN_TOKEN": "  "}, "cemscan: error: $CEMSCAN_TOKEN is empty"),
    ([], {"CEMSCAN_TOKEN": "two words"}, "cemscan: error: $CEMSCAN_TOKEN must hold one line of printable ASCII"),
    (["--ca-file", "/nonexistent/ca.pem"], {},
     "cemscan: error: cannot read the CA file /nonexistent/ca.pem: No such file or directory"),
])
@pytest_twisted.inlineCallbacks
def test_unusable_token_or_ca_is_one_line_before_any_request(serve, argv, environ, message):
    daemon = FakeDaemon()
    for command in (["scan", serve(daemon)], ["status", "node1"], ["cancel", "node1"]):
        code, out, err = yield run(command + argv, environ=environ)
        assert (code, out) == (2, "") and err.startswith(message) and err.count("\n") == 1
    assert daemon.requests == []


# Cancel ------------------------------------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_cancel_command(serve):
    running, idle = FakeDaemon(), FakeDaemon()
    running.start_scan()
    first, second, dead = serve(running), serve(idle), dead_target()
    code, out, err = yield run(["cancel", first])
    assert (code, out, err) == (0, f"{first}: scan scan-1 is being cancelled\n", "")
    assert running.state == "error"
    code, out, _ = yield run(["cancel", first, second, dead, "--json"])
    assert code == 2
    report = json.loads(out)
    assert [entry["target"] for entry in report] == [first, second, dead]
    assert report[0]["error"] == f"Cannot cancel on {first}: no scan is running (state: error); nothing to cancel"
    assert report[1]["error"] == f"Cannot cancel on {second}: no scan is running (state: idle); nothing to cancel"
    assert report[2]["error"].startswith(f"Cannot send DELETE /scan to scan daemon at {dead}: ")
    idle.start_scan()
    code, out, _ = yield run(["cancel", second, dead])
    assert code == 2 and out.startswith(f"{second}: scan scan-1 is being cancelled\n{dead}: ERROR Cannot")


# Interrupts --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cancel", [True, False], ids=["cancel-on-interrupt", "leave running"])
@pytest_twisted.inlineCallbacks
def test_interrupted_scan_cancels_on_the_nodes_only_when_asked(serve, cancel):
    from twisted.internet import reactor

    daemon = FakeDaemon(polls_to_finish=10 ** 6)
    node = serve(daemon)
    interrupts = cli.Interrupts(reactor)
    polled = daemon.asked("/status")
    running = run(["scan", node, *FAST] + (["--cancel-on-interrupt"] if cancel else []), interrupts=interrupts)
    yield bounded(polled)
    interrupts.deliver("SIGINT")
    code, out, err = yield bounded(running)
    assert code == 2
    assert ("DELETE", "/scan", b"") in daemon.requests if cancel else daemon.state == "running"
    if cancel:
        assert "cemscan SIGINT: cancelling the scans on the nodes (again to quit at once)" in out
        assert f"{node} ERROR interrupted (SIGINT); scan scan-1 cancelled on the node" in out
        assert err == "cemscan: interrupted by SIGINT: 1 scan cancelled on the nodes\n"
    else:
        assert "cemscan SIGINT: stopping; the scans keep running on the nodes" in out
        assert (f"{node} ERROR interrupted (SIGINT); the scan keeps running on the node: "
                f"cemscan cancel {node} stops it") in out
        assert err == ("cemscan: interrupted by SIGINT: scans keep running on the nodes; "
                       "cemscan cancel TARGET to stop them\n")


class Watched(protocol.ProcessProtocol):
    """A cemscan subprocess: its output, and a Deferred of its exit code."""

    def __init__(self):
        self.out = self.err = b""
        self.ended = defer.Deferred()

    def outReceived(self, data):
        self.out += data

    def errReceived(self, data):
        self.err += data

    def processEnded(self, reason):
        self.ended.callback(reason.value.exitCode)


def spawn_cemscan(*argv):
    from twisted.internet import reactor

    watched = Watched()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CEMSCAN_")}
    reactor.spawnProcess(watched, sys.executable, [sys.executable, "-m", "cemscan.cli", *argv],
                         env=env, path=REPO)
    return watched


@pytest.mark.parametrize("signal_name, cancel", [("INT", True), ("TERM", False)])
@pytest_twisted.inlineCallbacks
def test_subprocess_signals(serve, signal_name, cancel):
    daemon = FakeDaemon(polls_to_finish=10 ** 6)
    node = serve(daemon)
    polled = daemon.asked("/status")
    cemscan_process = spawn_cemscan("scan", node, *FAST, *(["--cancel-on-interrupt"] if cancel else []))
    yield bounded(polled)
    cemscan_process.transport.signalProcess(signal_name)
    code = yield bounded(cemscan_process.ended)
    err = cemscan_process.err.decode()
    assert code == 2
    if cancel:
        assert daemon.state == "error" and daemon.scan["error"] == "scan cancelled by request"
        assert err == "cemscan: interrupted by SIGINT: 1 scan cancelled on the nodes\n"
    else:
        assert daemon.state == "running"
        assert err.endswith("cemscan: interrupted by SIGTERM: scans keep running on the nodes; "
                            "cemscan cancel TARGET to stop them\n")


@pytest_twisted.inlineCallbacks
def test_subprocess_second_interrupt_quits_at_once(serve):
    daemon = FakeDaemon(polls_to_finish=10 ** 6)
    daemon.start_scan()
    daemon.script("/scan", (202, {"status": "started", "scan_id": "scan-1"}), defer.Deferred())  # DELETE hangs
    node = serve(daemon)
    polled, cancelling = daemon.asked("/status"), daemon.asked("/scan", "DELETE")
    cemscan_process = spawn_cemscan("scan", node, *FAST, "--cancel-on-interrupt")
    yield bounded(polled)
    cemscan_process.transport.signalProcess("INT")
    yield bounded(cancelling)
    cemscan_process.transport.signalProcess("INT")
    assert (yield bounded(cemscan_process.ended)) == 130
    err = cemscan_process.err.decode()
    assert err.endswith("cemscan: interrupted\n") and "cancelled on the nodes" not in err
