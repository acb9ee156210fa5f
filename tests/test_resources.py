"""The HTTP API through treq's StubTreq against the real resource tree."""

import json
import os

import pytest
import pytest_twisted
from treq.client import HTTPClient
from treq.testing import StubTreq
from twisted.internet import defer
from twisted.web import resource
from twisted.web.client import Agent, HTTPConnectionPool

from cemscan.jsonweb import json_site
from cemscan.resources import MAX_BODY_BYTES, build_root
from tests.conftest import finish_with_arf


@pytest.fixture
def manager(make_manager):
    return make_manager()


@pytest.fixture
def http(manager):
    return StubTreq(build_root(manager))


def call(http, method, path, data=None, headers=None):
    """Make a request; return (status, headers, parsed JSON body)."""
    d = http.request(method, "http://node:8084" + path, data=data, headers=headers)
    http.flush()
    response = d.result if not isinstance(d.result, Exception) else pytest.fail(str(d.result))
    body_d = response.content()
    http.flush()
    raw = body_d.result
    assert response.headers.getRawHeaders("content-type") == ["application/json"], raw
    return response.code, response.headers, (json.loads(raw) if raw else None)


def test_health_ok_names_scanner_content_and_profile(http, manager):
    code, _, body = call(http, "GET", "/health")
    assert code == 200
    assert body["status"] == "ok" and body["scanner"] == "openscap"
    assert body["content"] == manager.content.path and body["profile"] == "xccdf_t_profile_a"


def test_health_unavailable_lists_what_is_missing(http, manager):
    os.unlink(manager.scanner.binary)
    os.unlink(manager.scanner.content)
    code, _, body = call(http, "GET", "/health")
    assert code == 503
    assert body == {"status": "unavailable", "missing": ["scanner binary %s" % manager.scanner.binary,
                                                         "content %s" % manager.scanner.content]}


def test_post_scan_starts_and_second_post_conflicts(http, manager, reactor):
    code, _, body = call(http, "POST", "/scan")
    assert code == 202
    assert body == {"status": "started", "scan_id": manager.current.id, "profile": "xccdf_t_profile_a"}
    code, _, body = call(http, "POST", "/scan")
    assert code == 409
    assert body == {"error": "scan already running", "scan_id": manager.current.id}
    assert len(reactor.spawned) == 1


def test_post_scan_with_profile(http, manager, reactor):
    code, _, body = call(http, "POST", "/scan", data=b'{"profile": "xccdf_t_profile_b"}')
    assert code == 202 and body["profile"] == "xccdf_t_profile_b"
    assert "xccdf_t_profile_b" in reactor.spawned[0].args


@pytest.mark.parametrize("data, words", [
    (b'{"profile": "nope"}', "unknown profile 'nope'; this content accepts: xccdf_t_profile_a, xccdf_t_profile_b"),
    (b"{not json", "request body is not JSON"),
    (b"\xff\xfe", "request body is not JSON"),
    (b'["xccdf_t_profile_a"]', 'must be an empty body or a JSON object {"profile": "<profile id>"}'),
    (b'{"profile": 7}', '"profile" must be a string'),
    (b'{"profile": "xccdf_t_profile_a", "force": true}', "unknown field(s) force"),
])
def test_bad_scan_body_is_400_with_what_is_accepted(http, reactor, data, words):
    code, _, body = call(http, "POST", "/scan", data=data)
    assert code == 400
    assert words in body["error"]
    assert reactor.spawned == []


def test_deeply_nested_body_is_400_not_500(http, reactor):
    code, _, body = call(http, "POST", "/scan", data=b"[" * 60000)
    assert code == 400 and "request body is not JSON" in body["error"]


def test_oversized_body_is_413(http, reactor):
    code, _, body = call(http, "POST", "/scan", data=b" " * (MAX_BODY_BYTES + 1))
    assert code == 413 and "over 65536 bytes" in body["error"]
    assert reactor.spawned == []


def test_whitespace_body_means_default_profile(http, reactor):
    code, _, body = call(http, "POST", "/scan", data=b"  \n")
    assert code == 202 and body["profile"] == "xccdf_t_profile_a"


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "OPTIONS"])
def test_other_methods_on_scan_are_405_with_allow(http, method):
    code, headers, body = call(http, method, "/scan")
    assert code == 405
    assert body["error"] == "use POST /scan"
    assert headers.getRawHeaders("allow") == ["DELETE, POST"]


def test_delete_scan_cancels_the_running_scan(http, manager, reactor, killpg):
    call(http, "POST", "/scan")
    code, _, body = call(http, "DELETE", "/scan")
    assert code == 202 and body == {"status": "cancelling", "scan_id": manager.current.id}
    assert killpg.calls == [(reactor.spawned[0].pid, 15)]
    reactor.spawned[0].end(None, 15)
    code, _, body = call(http, "GET", "/result")
    assert body["error"] == "scan cancelled by request"
    assert call(http, "GET", "/status")[2]["state"] == "error"


def test_delete_scan_with_nothing_running_is_409(http):
    code, _, body = call(http, "DELETE", "/scan")
    assert code == 409
    assert body == {"error": "no scan is running (state: idle); nothing to cancel"}


def test_post_on_status_is_405_naming_get(http):
    code, headers, body = call(http, "POST", "/status")
    assert code == 405 and body["error"] == "use GET or HEAD"
    assert headers.getRawHeaders("allow") == ["GET, HEAD"]


def test_status_idle_running_done(http, manager, reactor):
    assert call(http, "GET", "/status")[2] == {"state": "idle"}
    call(http, "POST", "/scan")
    reactor.advance(3)
    reactor.spawned[0].stdout(b"xccdf_r_1:pass\n")
    code, _, body = call(http, "GET", "/status")
    assert code == 200 and body["state"] == "running"
    assert body["progress"] == {"rules_done": 1, "rules_total": 3} and body["elapsed_s"] == 3
    finish_with_arf(reactor.spawned[0], ["pass", "fail"])
    assert call(http, "GET", "/status")[2]["state"] == "done"


@pytest.mark.parametrize("started", [False, True])
def test_result_is_404_with_exact_text_until_terminal(http, reactor, started):
    if started:
        call(http, "POST", "/scan")
    code, _, body = call(http, "GET", "/result")
    assert code == 404
    assert body == {"error": "no result available, state: %s" % ("running" if started else "idle")}


def test_result_after_done(http, reactor):
    call(http, "POST", "/scan")
    finish_with_arf(reactor.spawned[0], ["pass", "fail", "notapplicable"])
    code, _, body = call(http, "GET", "/result")
    assert code == 200
    assert (body["passed_count"], body["failed_count"], body["not_applicable_count"]) == (1, 1, 1)
    assert body["score"] == 50.0


def test_result_after_error_is_200_with_the_error(http, reactor):
    call(http, "POST", "/scan")
    reactor.spawned[0].stderr(b"no such profile\n")
    reactor.spawned[0].end(1)
    code, _, body = call(http, "GET", "/result")
    assert code == 200
    assert body["exit_code"] == 1 and "exit code 1" in body["error"] and "no such profile" in body["stderr"]


@pytest.mark.parametrize("path", ["/", "/nope", "/status/extra", "/health/", "/scan/x/y"])
def test_unknown_paths_are_json_404(http, path):
    code, _, body = call(http, "GET", path)
    assert code == 404
    assert body["error"].startswith("no such endpoint: ")
    assert "GET /status" in body["endpoints"]


def test_head_is_answered_like_get_without_body(http):
    code, _, body = call(http, "HEAD", "/health")
    assert code == 200 and body is None


def test_an_exception_in_a_handler_is_json_500_without_traceback(http, manager):
    def broken():
        raise RuntimeError("secret internals")
    manager.status = broken
    code, _, body = call(http, "GET", "/status")
    assert code == 500
    assert "secret internals" not in json.dumps(body) and "journalctl -u cemscan" in body["error"]


class _Exploding(resource.Resource):
    def getChild(self, path, request):
        raise RuntimeError("secret internals")


@pytest_twisted.inlineCallbacks
def test_failures_outside_endpoints_are_json_too_on_a_real_site():
    from twisted.internet import reactor

    port = reactor.listenTCP(0, json_site(_Exploding()), interface="127.0.0.1")
    pool = HTTPConnectionPool(reactor, persistent=False)
    try:
        response = yield HTTPClient(Agent(reactor, pool=pool)).get("http://127.0.0.1:%d/x" % port.getHost().port)
        body = yield response.text()
    finally:
        yield defer.maybeDeferred(port.stopListening)
        yield pool.closeCachedConnections()
    assert response.code == 500
    assert response.headers.getRawHeaders("content-type") == ["application/json"]
    assert "Traceback" not in body and "secret internals" not in body
    assert json.loads(body)["error"].startswith("internal error in the daemon")


# --- long-poll: GET /status?wait=N ---

def start_request(http, path):
    """Send a GET; the returned list gets the JSON body once it arrives."""
    bodies = []
    http.get("http://node:8084" + path).addCallback(lambda r: r.json()).addCallback(bodies.append)
    http.flush()
    return bodies


def answered(http, bodies):
    """The JSON body once the response has come, else None."""
    http.flush()
    return bodies[0] if bodies else None


def test_wait_answers_at_once_when_nothing_runs(http):
    assert answered(http, start_request(http, "/status?wait=30")) == {"state": "idle"}


def test_wait_answers_when_the_running_scan_ends(http, reactor):
    call(http, "POST", "/scan")
    d = start_request(http, "/status?wait=30")
    reactor.advance(29)
    assert answered(http, d) is None
    finish_with_arf(reactor.spawned[0], ["pass"])
    assert answered(http, d)["state"] == "done"


def test_wait_answers_running_after_n_seconds(http, reactor):
    call(http, "POST", "/scan")
    d = start_request(http, "/status?wait=2.5")
    reactor.advance(2.4)
    assert answered(http, d) is None
    reactor.advance(0.1)
    assert answered(http, d)["state"] == "running"


@pytest.mark.parametrize("wait", ["x", "-1", "31", "nan", "%ff"])
def test_bad_wait_is_400(http, wait):
    code, _, body = call(http, "GET", "/status?wait=" + wait)
    assert code == 400 and body == {"error": "wait must be a number of seconds from 0 to 30"}


def test_wait_zero_is_a_plain_status(http):
    assert call(http, "GET", "/status?wait=0")[2] == {"state": "idle"}


def test_a_cancelled_wait_leaves_no_timer(manager, reactor):
    manager.start()
    timers = len(reactor.getDelayedCalls())
    waiter = manager.wait_for_change(30)
    assert len(reactor.getDelayedCalls()) == timers + 1
    waiter.addErrback(lambda f: f.trap(defer.CancelledError))
    waiter.cancel()
    assert len(reactor.getDelayedCalls()) == timers
    finish_with_arf(reactor.spawned[0], ["pass"])  # firing the (gone) waiter must not blow up
    assert manager.state.value == "done"


def test_result_for_a_named_scan(http, manager, reactor):
    call(http, "POST", "/scan")
    finish_with_arf(reactor.spawned[0], ["pass"])
    scan_id = manager.current.id
    assert call(http, "GET", "/result?scan_id=" + scan_id)[0] == 200
    code, _, body = call(http, "GET", "/result?scan_id=20200101T000000Z")
    assert code == 404
    assert body == {"error": "no result for scan 20200101T000000Z: the last scan is %s (state: done)" % scan_id}


def test_delete_scan_for_another_scan_id_cancels_nothing(http, manager, killpg):
    call(http, "POST", "/scan")
    code, _, body = call(http, "DELETE", "/scan?scan_id=20200101T000000Z")
    assert code == 409
    assert body == {"error": "scan 20200101T000000Z is not the running scan (%s); nothing cancelled"
                    % manager.current.id}
    assert killpg.calls == []
    assert call(http, "DELETE", "/scan?scan_id=" + manager.current.id)[0] == 202


def test_status_outside_a_scan_is_encoded_once_per_state(http, manager, reactor, monkeypatch):
    calls = []
    real = manager.status
    monkeypatch.setattr(manager, "status", lambda: calls.append(1) or real())
    assert call(http, "GET", "/status")[2] == call(http, "GET", "/status")[2] == {"state": "idle"}
    assert len(calls) == 1
    for n in range(2):
        call(http, "POST", "/scan")
        reactor.advance(1)
        finish_with_arf(reactor.spawned[n], ["pass"])
        code, headers, body = call(http, "GET", "/status")
        assert body["state"] == "done" and body["scan_id"] == manager.current.id
        assert headers.getRawHeaders("cache-control") == ["no-store"]
