"""DaemonClient against the in-memory daemon, on a task.Clock: no real time passes."""

import json

import pytest
from OpenSSL import SSL
from service_identity import VerificationError
from treq.testing import StubTreq
from twisted.internet import defer, task
from twisted.internet.address import HostnameAddress
from twisted.internet.error import ConnectingCancelledError
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.web.client import ResponseNeverReceived

from cemscan.auth import TokenGuard
from cemscan.client import DaemonClient
from cemscan.errors import (
    DaemonNotReadyError,
    DaemonUnreachableError,
    ScannerInvocationError,
    TLSError,
    UnauthorizedError,
)
from cemscan.resources import build_root
from tests.conftest import finish_with_arf
from tests.fake_daemon import DEFAULT_PROFILE, OTHER_PROFILE, FakeDaemon, drive, harness


def scan(h, profile=OTHER_PROFILE, threshold=80.0):
    return h.drive(h.client.scan("cis", None, profile, threshold))


def paths(h):
    return [(method, path) for method, path, _ in h.daemon.requests]


# The straight path ---------------------------------------------------------------------------

def test_scan_against_the_real_daemon_resource(make_manager, reactor):
    """The lead's resource tree and state machine, its scanner process faked, on one Clock."""
    manager = make_manager()
    stub = StubTreq(build_root(manager))
    client = DaemonClient("node1", reactor=reactor, http_client=stub)
    assert drive(reactor, client.wait_until_ready(), flush=stub.flush)["profile"] == "xccdf_t_profile_a"
    d = client.scan("cis", None, "xccdf_t_profile_b", 50.0)
    [spawned] = reactor.spawned
    reactor.advance(5)
    finish_with_arf(spawned, ["pass", "fail", "pass"])
    result = drive(reactor, d, flush=stub.flush)
    assert (result.scan_id, result.profile, result.scanner) == (
        manager.current.id, "xccdf_t_profile_b", "openscap")
    assert (result.passed_count, result.failed_count, result.passed) == (2, 1, True)
    assert reactor.seconds() == 5  # the daemon held the first poll until the scan ended



def test_scan_posts_polls_and_fetches_the_result():
    h = harness()
    result = scan(h, threshold=90.0)
    assert paths(h) == [("POST", "/scan"), ("GET", "/status"), ("GET", "/status"),
                        ("GET", "/result")]
    assert h.clock.seconds() == 10  # first poll at once, the second a poll_interval later
    assert json.loads(h.daemon.requests[0][2]) == {"profile": OTHER_PROFILE}
    assert (result.test_case, result.scanner, result.profile) == ("cis", "openscap", OTHER_PROFILE)
    assert (result.score, result.threshold, result.passed) == (87.4, 90.0, False)
    assert result.scan_id == "scan-1"
    assert [rule.id for rule in result.failed_rules] == ["rule_ssh_root"]


def test_scan_without_profile_lets_the_daemon_choose():
    h = harness()
    result = scan(h, profile=None)
    assert h.daemon.requests[0][2] == b""
    assert result.profile == DEFAULT_PROFILE


def test_scan_reports_progress_from_status():
    h = harness(FakeDaemon(polls_to_finish=3, rules_total=9))
    scan(h)
    running = [(p.rules_done, p.rules_total, p.elapsed_s) for p in h.progress if p.phase == "running"]
    assert running == [(3, 9, 0), (6, 9, 10)]
    assert [p.phase for p in h.progress][0] == "starting"
    assert h.progress[-1].phase == "fetching"
    assert {p.target for p in h.progress} == {"node1:8084"}


def test_scan_works_with_a_daemon_that_sends_no_scan_ids():
    daemon = FakeDaemon()
    daemon.script("/scan", (202, {"status": "started"}))
    daemon.start_scan()  # what the old daemon did behind its plain answer
    daemon.script("/status", (200, {"state": "running"}))
    h = harness(daemon)
    assert scan(h).score == 87.4


# Readiness -----------------------------------------------------------------------------------

def test_wait_until_ready_retries_503_with_backoff():
    daemon = FakeDaemon()
    daemon.health_failures = 3
    h = harness(daemon)
    health = h.drive(h.client.wait_until_ready())
    assert health["status"] == "ok"
    assert h.clock.seconds() == 1 + 2 + 4
    waiting = [p for p in h.progress if p.phase == "waiting"]
    assert len(waiting) == 3 and "status 503" in waiting[0].detail


def test_wait_until_ready_gives_up_naming_daemon_timeout_and_last_failure():
    h = harness(ready_timeout=30)
    h.network.fail("/health", *["refused"] * 100)
    with pytest.raises(DaemonNotReadyError) as caught:
        h.drive(h.client.wait_until_ready())
    message = str(caught.value)
    assert "node1:8084" in message and "30s" in message and "refused" in message
    assert h.clock.seconds() == 30


# Kickoff -------------------------------------------------------------------------------------

def test_409_on_the_first_kickoff_is_someone_elses_scan():
    daemon = FakeDaemon()
    daemon.start_scan()
    h = harness(daemon)
    with pytest.raises(ScannerInvocationError) as caught:
        scan(h)
    assert caught.value.status == 409
    assert "node1:8084" in str(caught.value) and "scan already running" in str(caught.value)
    assert paths(h) == [("POST", "/scan")]


@pytest.mark.parametrize("answer", [(400, {"error": "unknown profile: 'x'"}),
                                    (500, b"<html>Internal error</html>")])
def test_kickoff_other_than_202_fails_without_retry(answer):
    daemon = FakeDaemon()
    daemon.script("/scan", answer)
    h = harness(daemon)
    with pytest.raises(ScannerInvocationError) as caught:
        scan(h)
    assert caught.value.status == answer[0]
    assert f"returned status {answer[0]}" in str(caught.value)
    assert paths(h) == [("POST", "/scan")]


def test_kickoff_refused_before_connecting_is_retried():
    h = harness()
    h.network.fail("/scan", "refused", "refused")
    assert scan(h).scan_id == "scan-1"
    assert paths(h)[0] == ("POST", "/scan")  # the refused ones never arrived
    assert h.clock.seconds() == 1 + 2 + 10


@pytest.mark.parametrize("fault", ["reset", "hang"])
def test_lost_kickoff_answer_adopts_the_scan_it_started(fault):
    h = harness()
    h.network.fail("/scan", fault)
    result = scan(h)
    assert paths(h)[:3] == [("POST", "/scan"), ("POST", "/scan"), ("GET", "/status")]
    assert result.scan_id == "scan-1"  # the one scan the lost POST started


def test_409_after_a_refused_kickoff_is_someone_elses_scan():
    h = harness()
    h.network.fail("/scan", "refused")
    d = h.client.scan("cis", None, None, 80.0)
    h.daemon.start_scan()  # another client, while our retry waits
    with pytest.raises(ScannerInvocationError, match="returned status 409") as caught:
        h.drive(d)
    assert caught.value.status == 409


def test_lost_kickoff_then_409_but_daemon_idle_is_an_error():
    daemon = FakeDaemon()
    daemon.script("/scan", *[(409, {"error": "scan already running"})] * 2)
    h = harness(daemon)
    h.network.fail("/scan", "reset")
    with pytest.raises(ScannerInvocationError) as caught:
        scan(h)
    assert "'idle'" in str(caught.value) and "node1:8084" in str(caught.value)


def test_non_json_202_is_an_error():
    daemon = FakeDaemon()
    daemon.script("/scan", (202, b"Accepted"))
    h = harness(daemon)
    with pytest.raises(ScannerInvocationError, match="not a JSON object for POST /scan"):
        scan(h)


# Polling -------------------------------------------------------------------------------------

def test_unknown_state_is_an_error():
    daemon = FakeDaemon()
    daemon.script("/status", (200, {"state": "paused", "scan_id": "scan-1"}))
    h = harness(daemon)
    with pytest.raises(ScannerInvocationError, match="Unexpected scan state from node1:8084: 'paused'"):
        scan(h)


@pytest.mark.parametrize("body", [b"<html>ok</html>", b"[1, 2]"])
def test_status_body_that_is_not_a_json_object_is_an_error(body):
    daemon = FakeDaemon()
    daemon.script("/status", (200, body))
    h = harness(daemon)
    with pytest.raises(ScannerInvocationError, match="not a JSON object for GET /status"):
        scan(h)


def test_scan_that_never_finishes_hits_the_deadline():
    h = harness(FakeDaemon(polls_to_finish=10 ** 6))
    with pytest.raises(ScannerInvocationError, match="Scan did not finish within 1800s on node1:8084"):
        scan(h)
    assert h.clock.seconds() == 1800
    assert len(paths(h)) == 1 + 181  # polls at 0, 10, ..., 1800: the last one at the deadline


# A reset poll reached the daemon (which counted it); a refused one did not, so a
# second poll is needed, due a poll interval after the first one began.
@pytest.mark.parametrize("fault, seconds", [("refused", 10), ("reset", 1 + 2)])
def test_failed_polls_are_retried_then_recover(fault, seconds):
    h = harness()
    h.network.fail("/status", fault, fault)
    result = scan(h)
    assert result.score == 87.4
    assert h.clock.seconds() == seconds
    retrying = [p.detail for p in h.progress if p.phase == "retrying"]
    assert len(retrying) == 2 and "retrying in 2s" in retrying[1]


def test_5xx_poll_is_retried():
    daemon = FakeDaemon()
    daemon.script("/status", (502, b"<html>Bad gateway</html>"), (500, {"error": "boom"}))
    h = harness(daemon)
    assert scan(h).score == 87.4
    assert [p.detail.split(";")[0] for p in h.progress if p.phase == "retrying"] == [
        "status 502: <html>Bad gateway</html>", 'status 500: {"error": "boom"}']


@pytest.mark.parametrize("silent", ["network", "daemon"])
def test_poll_without_answer_times_out_and_is_retried(silent):
    """A lost answer, or a daemon that never answers (a real Agent gives up then)."""
    h = harness(request_timeout=25)
    if silent == "network":
        h.network.fail("/status", "hang")
    else:
        h.daemon.script("/status", defer.Deferred())
    assert scan(h).score == 87.4
    assert h.clock.seconds() == 25 + 1
    assert "no answer within 25s" in [p for p in h.progress if p.phase == "retrying"][0].detail


def test_connect_that_never_completes_times_out_and_is_retried():
    class Connecting:
        """An http_client stuck connecting once, as an Agent is on a black-holed route."""

        def __init__(self, then):
            self.then, self.stuck = then, 1

        def request(self, method, url, **kwargs):
            if not self.stuck:
                return self.then.request(method, url, **kwargs)
            self.stuck -= 1
            address = HostnameAddress(b"node1", 8084)
            return defer.Deferred(lambda d: d.errback(ConnectingCancelledError(address)))

    h = harness(request_timeout=25)
    h.client.http_client = Connecting(h.network)
    assert h.drive(h.client.wait_until_ready())["status"] == "ok"
    assert h.clock.seconds() == 25 + 1
    assert [p.detail for p in h.progress] == ["could not connect within 25s; retrying in 1s"]


def test_retry_backoff_doubles_up_to_the_poll_interval():
    daemon = FakeDaemon()
    daemon.script("/status", *[(503, {"error": "busy"})] * 7)
    h = harness(daemon)
    times = []
    h.client.on_progress = lambda p: times.append(h.clock.seconds()) if p.phase == "retrying" else None
    scan(h)
    assert [b - a for a, b in zip(times, times[1:])] == [1, 2, 4, 8, 10, 10]


def test_polls_failing_until_the_deadline_name_the_last_failure():
    h = harness(http_timeout=60)
    h.network.fail("/status", *["refused"] * 100)
    with pytest.raises(ScannerInvocationError) as caught:
        scan(h)
    assert "Scan did not finish within 60s" in str(caught.value)
    assert "last failure: Connection was refused" in str(caught.value)
    assert h.clock.seconds() == 60


def test_failed_result_fetch_is_retried():
    h = harness()
    h.network.fail("/result", "reset")
    assert scan(h).score == 87.4
    assert paths(h)[-2:] == [("GET", "/result"), ("GET", "/result")]


# A daemon restarted mid-scan -------------------------------------------------------------------

def restart_after_first_poll(mode):
    h = harness(FakeDaemon(polls_to_finish=5))
    d = h.client.scan("cis", None, None, 80.0)
    assert paths(h) == [("POST", "/scan"), ("GET", "/status")]
    h.daemon.restart(mode)
    with pytest.raises(ScannerInvocationError) as caught:
        h.drive(d)
    assert "node1:8084" in str(caught.value)
    assert h.clock.seconds() == 10  # ended at the next poll, no waiting for the deadline
    return str(caught.value)


def test_daemon_restarted_idle_ends_the_scan():
    assert "restarted during the scan" in restart_after_first_poll("idle")


def test_daemon_restarted_with_another_scan_ends_the_scan():
    message = restart_after_first_poll("other")
    assert "scan 'scan-2', not of ours ('scan-1')" in message


def test_daemon_restarted_and_interrupted_reports_the_daemons_words():
    message = restart_after_first_poll("interrupted")
    assert "scan interrupted: the daemon restarted during the scan" in message


# Results -------------------------------------------------------------------------------------

def test_error_result_raises_with_the_daemons_message():
    h = harness(FakeDaemon(scan_error="oscap exited with code 1: no such profile"))
    for call in (lambda: scan(h), lambda: h.drive(h.client.result())):
        with pytest.raises(ScannerInvocationError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith("Scan on node1:8084 failed: oscap exited with code 1: no such profile")
        assert "exit code 1" in message and "final line of stderr" in message


def test_result_404_is_an_error():
    daemon = FakeDaemon()
    daemon.script("/result", (404, {"error": "no result available, state: idle"}))
    h = harness(daemon)
    with pytest.raises(ScannerInvocationError, match="status 404 for GET /result") as caught:
        scan(h)
    assert caught.value.status == 404


def test_result_without_score_is_an_error_naming_the_daemon():
    daemon = FakeDaemon()
    daemon.script("/result", (200, {"scan_id": "scan-1", "rules": []}))
    h = harness(daemon)
    with pytest.raises(ScannerInvocationError, match="node1:8084 failed: result has no numeric 'score'"):
        scan(h)


def test_result_of_another_scan_is_refused():
    daemon = FakeDaemon()
    daemon.script("/result", (200, {"scan_id": "scan-9", "score": 100.0}))
    h = harness(daemon)
    with pytest.raises(ScannerInvocationError, match="result of scan 'scan-9', not of ours"):
        scan(h)


# Single requests -----------------------------------------------------------------------------

def test_status_and_result_are_single_requests():
    daemon = FakeDaemon()
    h = harness(daemon)
    assert h.drive(h.client.status()) == {"state": "idle"}
    with pytest.raises(ScannerInvocationError, match="no result available, state: idle"):
        h.drive(h.client.result())
    scan(h)
    result = h.drive(h.client.result(threshold=90.0))
    assert (result.test_case, result.score, result.passed) == ("node1:8084", 87.4, False)
    h.network.fail("/status", "refused")
    before = len(h.daemon.requests)
    with pytest.raises(DaemonUnreachableError, match="Cannot get /status from scan daemon at node1:8084"):
        h.drive(h.client.status())
    assert len(h.daemon.requests) == before and h.clock.seconds() == 10  # no retries, no waiting


def test_shared_limiter_caps_requests_in_flight():
    limiter = defer.DeferredSemaphore(1)
    first = harness(limiter=limiter)
    second = harness(limiter=limiter)
    first.network.fail("/status", "hang")
    hanging = first.client.status()
    waiting = second.client.status()
    assert second.daemon.requests == []  # queued behind the hanging request
    first.clock.advance(60)  # the hanging request times out and frees its slot
    with pytest.raises(DaemonUnreachableError, match="no answer within 60s"):
        first.drive(hanging)
    assert second.drive(waiting) == {"state": "idle"}


# Long-polls -----------------------------------------------------------------------------------

def timed(seconds, honours_wait, **daemon_args):
    """A daemon whose scan takes ``seconds`` on the harness's clock."""
    return FakeDaemon(clock=task.Clock(), scan_seconds=seconds, honours_wait=honours_wait, **daemon_args)


def polls_at(h):
    """When each /status was asked (the daemon's start_scan time is 0)."""
    return [p.elapsed_s for p in h.progress if p.phase == "running"]


def test_long_poll_learns_the_end_the_moment_it_comes():
    h = harness(timed(25, honours_wait=True))
    result = scan(h)
    assert result.score == 87.4
    assert h.clock.seconds() == 25  # not 30: the poll asked at 20 was answered at 25
    assert paths(h) == [("POST", "/scan")] + [("GET", "/status")] * 3 + [("GET", "/result")]
    assert h.daemon.waits == ["10", "10", "10"]
    assert polls_at(h) == [10, 20]  # each held poll was followed by the next at once


def test_daemon_that_ignores_wait_is_polled_every_interval():
    h = harness(timed(25, honours_wait=False))
    scan(h)
    assert h.clock.seconds() == 30
    assert polls_at(h) == [0, 10, 20]
    assert h.daemon.waits == ["10"] * 4


@pytest.mark.parametrize("poll_interval, request_timeout, wait", [
    (10, 60, 10), (45, 60, 30), (10, 12, 7), (10, 6, 3), (10, 1, 0.5), (0.05, 60, 0.05)])
def test_wait_is_the_interval_at_most_30s_and_leaves_room_in_the_request_timeout(
        poll_interval, request_timeout, wait):
    client = DaemonClient("node1", reactor=task.Clock(), http_client=object(),
                          poll_interval=poll_interval, request_timeout=request_timeout)
    assert client.long_poll_wait == wait


def test_a_wait_shortened_to_the_request_timeout_never_times_out():
    h = harness(timed(25, honours_wait=True), request_timeout=6)
    scan(h)
    assert h.daemon.waits == ["3"] * 4
    assert [p.phase for p in h.progress if p.phase == "retrying"] == []
    assert polls_at(h) == [3, 13, 23] and h.clock.seconds() == 30


def test_the_deadline_shortens_the_last_wait():
    h = harness(timed(10 ** 6, honours_wait=True), http_timeout=15)
    with pytest.raises(ScannerInvocationError, match="Scan did not finish within 15s"):
        scan(h)
    assert h.daemon.waits == ["10", "5"] and h.clock.seconds() == 15


def test_a_held_poll_ends_when_the_daemon_restarts():
    h = harness(timed(25, honours_wait=True))
    d = h.client.scan("cis", None, None, 80.0)
    h.clock.advance(4)
    h.daemon.restart("interrupted")
    with pytest.raises(ScannerInvocationError, match="scan interrupted: the daemon restarted"):
        h.drive(d)
    assert h.clock.seconds() == 4


# Tokens, against the daemon's own guard ---------------------------------------------------------

TOKEN = "s3cret-token-0123456789"


def guarded(make_manager, reactor, token):
    stub = StubTreq(build_root(make_manager(), TokenGuard(TOKEN.encode())))
    return DaemonClient("node1", reactor=reactor, http_client=stub, token=token), stub


def test_the_right_token_opens_the_guarded_daemon(make_manager, reactor):
    client, stub = guarded(make_manager, reactor, TOKEN)
    drive(reactor, client.wait_until_ready(), flush=stub.flush)
    d = client.scan("cis", None, None, 50.0)
    [spawned] = reactor.spawned
    finish_with_arf(spawned, ["pass", "fail", "pass"])
    assert drive(reactor, d, flush=stub.flush).passed_count == 2
    assert drive(reactor, client.status(), flush=stub.flush)["state"] == "done"


@pytest.mark.parametrize("token, words", [
    (None, "requires a token: pass the daemon's token with --token-file FILE, or set "
           "CEMSCAN_TOKEN_FILE (a file) or CEMSCAN_TOKEN (the token) (401 Unauthorized)"),
    ("wrong-token", "refused the token: use the one in the daemon's --token-file (401 Unauthorized)"),
])
def test_no_or_wrong_token_fails_at_once_and_says_what_to_do(make_manager, reactor, token, words):
    client, stub = guarded(make_manager, reactor, token)
    drive(reactor, client.wait_until_ready(), flush=stub.flush)  # /health needs no token
    for call in (lambda: client.scan("cis"), client.status, client.result, client.cancel):
        with pytest.raises(UnauthorizedError) as caught:
            drive(reactor, call(), flush=stub.flush)
        assert str(caught.value) == f"Scan daemon at node1:8084 {words}"
        assert caught.value.status == 401
    assert reactor.spawned == [] and reactor.seconds() == 0  # no scan, no retry, no polling


def test_the_token_is_never_logged_shown_or_put_in_errors():
    daemon = FakeDaemon(token=TOKEN)
    h = harness(daemon, token=TOKEN)
    h.network.fail("/status", "reset")
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        scan(h)
        h.client.token = TOKEN + "-wrong"
        with pytest.raises(UnauthorizedError) as caught:
            scan(h)
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert any(event.get("target") == "node1:8084" for event in events)
    seen = [formatEvent(event) for event in events] + [repr(event) for event in events]
    seen += [str(caught.value), repr(caught.value.body), repr(h.client)]
    assert not [text for text in seen if TOKEN in text]


# Cancel ---------------------------------------------------------------------------------------

def test_cancel_stops_the_running_scan():
    h = harness()
    h.daemon.start_scan()
    assert h.drive(h.client.cancel()) == {"status": "cancelling", "scan_id": "scan-1"}
    assert h.daemon.state == "error" and paths(h) == [("DELETE", "/scan")]


def test_cancel_of_the_real_daemons_scan(make_manager, reactor, killpg):
    manager = make_manager()
    stub = StubTreq(build_root(manager))
    client = DaemonClient("node1", reactor=reactor, http_client=stub)
    scan_id = manager.start().id
    assert drive(reactor, client.cancel(), flush=stub.flush) == {"status": "cancelling", "scan_id": scan_id}
    assert killpg.calls  # the scanner's process group was told to stop
    [spawned] = reactor.spawned
    spawned.end(exit_code=None, signal=15)
    with pytest.raises(ScannerInvocationError) as caught:
        drive(reactor, client.cancel(), flush=stub.flush)
    assert caught.value.status == 409
    assert str(caught.value) == "Cannot cancel on node1:8084: no scan is running (state: error); nothing to cancel"


def test_cancel_with_nothing_running_says_so():
    h = harness()
    with pytest.raises(ScannerInvocationError) as caught:
        h.drive(h.client.cancel())
    assert str(caught.value) == "Cannot cancel on node1:8084: no scan is running (state: idle); nothing to cancel"
    assert caught.value.status == 409


def test_cancel_on_a_daemon_without_cancel():
    daemon = FakeDaemon()
    daemon.script("/scan", (405, {"error": "use POST /scan"}))
    h = harness(daemon)
    with pytest.raises(ScannerInvocationError, match='status 405 for DELETE /scan: {"error": "use POST /scan"}'):
        h.drive(h.client.cancel())


def test_cancel_that_cannot_reach_the_daemon_is_not_retried():
    h = harness()
    h.network.fail("/scan", "refused")
    with pytest.raises(DaemonUnreachableError, match="Cannot send DELETE /scan to scan daemon at node1:8084"):
        h.drive(h.client.cancel())
    assert h.daemon.requests == [] and h.clock.seconds() == 0


# Stopping a client from outside (an interrupted runner) --------------------------------------------

@pytest.mark.parametrize("honours_wait", [True, False], ids=["in a held poll", "between polls"])
def test_cancelling_a_scan_stops_it_at_once_and_leaves_nothing_scheduled(honours_wait):
    h = harness(timed(100, honours_wait))
    d = h.client.scan("cis")
    h.clock.advance(4)
    asked = len(h.daemon.requests)
    d.cancel()
    with pytest.raises(defer.CancelledError):
        h.drive(d)
    assert h.client.scan_may_run and h.daemon.state == "running"
    h.clock.advance(1000)
    assert len(h.daemon.requests) == asked  # no retry of the cancelled request


@pytest.mark.parametrize("fault, may_run", [("hang", True), ("refused", False)])
def test_a_kickoff_cut_short_may_or_may_not_have_started_a_scan(fault, may_run):
    """A POST still in flight may have reached the daemon; a refused one did not."""
    h = harness()
    h.network.fail("/scan", fault)
    d = h.client.scan("cis")  # hang: waiting for the answer; refused: waiting to retry
    assert h.client.scan_may_run is may_run
    d.cancel()
    with pytest.raises(defer.CancelledError):
        h.drive(d)


def test_scan_may_run_ends_with_the_scan_or_a_refused_kickoff():
    h = harness()
    scan(h)
    assert h.client.scan_may_run is False
    h.daemon.start_scan()
    with pytest.raises(ScannerInvocationError, match="status 409"):
        scan(h)
    assert h.client.scan_may_run is False


def test_cancelling_a_connect_is_not_retried():
    class Connecting:
        def request(self, method, url, **kwargs):
            return defer.Deferred(lambda d: d.errback(ConnectingCancelledError(HostnameAddress(b"n", 1))))

    h = harness()
    h.client.http_client = Connecting()
    d = h.client.wait_until_ready()
    d.cancel()
    with pytest.raises(defer.CancelledError):
        h.drive(d)
    assert h.clock.getDelayedCalls() == []


# TLS refusals fail at once ---------------------------------------------------------------------

@pytest.mark.parametrize("reason, words", [
    (SSL.Error([("SSL routines", "", "certificate verify failed")]),
     "certificate of node1:8084 is not trusted: certificate verify failed; pass --ca-file with the CA "
     "certificate that signed it (or add that CA to the system's trust store)"),
    (VerificationError(errors=[]),
     "certificate of node1:8084 is not valid for node1: it names other hosts; give the target by a "
     "name or address its certificate lists"),
    (SSL.Error([("SSL routines", "", "wrong version number")]),
     "TLS with node1:8084 failed: wrong version number; check that the daemon serves https on "
     "port 8084 (--listen ssl:...)"),
    (SSL.Error([]), "TLS with node1:8084 failed: OpenSSL gave no reason; check that the daemon serves https "
                    "on port 8084 (--listen ssl:...)"),
    (SSL.Error("unexpected eof"), "TLS with node1:8084 failed: unexpected eof; check that the daemon serves "
                                  "https on port 8084 (--listen ssl:...)"),
])
def test_a_tls_refusal_is_not_retried(reason, words):
    class Refusing:
        def request(self, method, url, **kwargs):
            assert url.startswith("https://node1:8084/")
            return defer.fail(ResponseNeverReceived([Failure(reason)]))

    h = harness(tls=True)
    h.client.http_client = Refusing()
    with pytest.raises(TLSError) as caught:
        h.drive(h.client.wait_until_ready())
    assert str(caught.value) == words
    assert h.clock.seconds() == 0
