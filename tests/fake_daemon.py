"""Test doubles shared by the client, fleet and CLI tests.

`FakeDaemon` follows the daemon protocol in memory (a scan finishes after a
set number of ``/status`` polls, so no test waits on time, or after a set
time on a `task.Clock`) and can be scripted: canned answers per path,
restarts mid-scan, failing scans, cancels, a token. It holds
``/status?wait=N`` like the real daemon when told to (``honours_wait``),
and ignores it like the seed's daemon otherwise. `FlakyNetwork` puts a
`StubTreq` behind a network that refuses, resets or swallows chosen requests
with the exceptions a real Agent raises. `drive` runs a Deferred to
completion on a `task.Clock`.
"""

import itertools
import json
from collections import defaultdict, deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union
from urllib.parse import urlsplit

import attr
from treq.testing import StubTreq
from twisted.internet import defer, task
from twisted.internet.error import ConnectionLost, ConnectionRefusedError
from twisted.python.failure import Failure
from twisted.web.client import ResponseNeverReceived
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from cemscan.client import DaemonClient, ScanProgress

DEFAULT_PROFILE = "xccdf_org.cemscan_profile_default"
OTHER_PROFILE = "xccdf_org.cemscan_profile_strict"
MAX_BODY = 64 * 1024

RULES = [
    {"id": "rule_passwords", "title": "Passwords expire", "severity": "medium", "result": "pass"},
    {"id": "rule_ssh_root", "title": "No root SSH login", "severity": "high", "result": "fail"},
    {"id": "rule_auditd", "title": "auditd runs", "severity": "low", "result": "notapplicable"},
]

Answer = Tuple[int, Any]  # (status code, dict for JSON or bytes as they are)
Query = Dict[bytes, List[bytes]]


class FakeDaemon:
    """The daemon's protocol in memory.

    A scan ends after ``polls_to_finish`` polls of /status, or, given a
    ``clock``, ``scan_seconds`` after it started. ``honours_wait`` (needs a
    clock) holds ``/status?wait=N`` until the scan ends or N seconds pass;
    without it ``wait`` is ignored, as by daemons before long-polls. With a
    ``token``, every path but /health wants ``Authorization: Bearer <token>``.
    """

    def __init__(self, *, polls_to_finish: int = 2, score: float = 87.4, rules_total: int = 14,
                 scan_error: Optional[str] = None, clock: Optional[task.Clock] = None,
                 scan_seconds: Optional[float] = None, honours_wait: bool = False,
                 token: Optional[str] = None) -> None:
        self.polls_to_finish = polls_to_finish
        self.score = score
        self.rules_total = rules_total
        self.scan_error = scan_error
        self.clock = clock
        self.scan_seconds = scan_seconds
        self.honours_wait = honours_wait
        self.token = token
        self.health_failures = 0
        self.state = "idle"
        self.scan: Dict[str, Any] = {}
        self.requests: List[Tuple[str, str, bytes]] = []
        #: The ``wait`` query value of each /status request (None: no wait).
        self.waits: List[Optional[str]] = []
        self._ids = itertools.count(1)
        self._scripted: Dict[str, Deque[Answer]] = defaultdict(deque)
        self._held: List[defer.Deferred] = []
        self._watchers: Dict[str, List[defer.Deferred]] = defaultdict(list)

    # Scripting ---------------------------------------------------------------

    def asked(self, path: str, method: str = "GET") -> defer.Deferred:
        """Fires at the next ``method`` request to ``path``: real-reactor tests act mid-scan without sleeping."""
        waiter: defer.Deferred = defer.Deferred()
        self._watchers[f"{method} {path}"].append(waiter)
        return waiter

    def script(self, path: str, *answers: Any) -> None:
        """Answer the next requests to ``path`` with ``answers`` instead of the protocol."""
        self._scripted[path].extend(answers)

    def start_scan(self, profile: str = DEFAULT_PROFILE) -> str:
        """Start a scan as if a client had POSTed (another client, in most tests)."""
        self._stop_timer()
        self.state = "running"
        self.scan = {"scan_id": f"scan-{next(self._ids)}", "profile": profile, "polls": 0,
                     "started_at": "2026-01-05T10:00:00Z"}
        if self.scan_seconds is not None:
            assert self.clock is not None, "a timed scan needs a clock"
            self.scan["ends"] = self.clock.callLater(self.scan_seconds, self.finish)
        return self.scan["scan_id"]

    def finish(self, error: Optional[str] = None) -> None:
        """End the running scan now: done, or error with ``error`` (else scan_error)."""
        error = error or self.scan_error
        self._stop_timer()
        self.state = "error" if error else "done"
        self.scan["error"] = error
        self._release()

    def _stop_timer(self) -> None:
        ends = self.scan.get("ends")
        if ends is not None and ends.active():
            ends.cancel()

    def _release(self) -> None:
        """Answer every held long-poll: the scan's state changed."""
        held, self._held = self._held, []
        for waiter in held:
            waiter.callback(None)

    def restart(self, mode: str = "idle") -> None:
        """Simulate a daemon restart during a scan.

        ``idle``: an old daemon that forgot everything; ``other``: a new scan
        (another scan_id) runs; ``interrupted``: a daemon that remembers the
        scan and reports it as failed.
        """
        if mode == "idle":
            self._stop_timer()
            self.state, self.scan = "idle", {}
        elif mode == "other":
            self.start_scan()
        elif mode == "interrupted":
            self.finish("scan interrupted: the daemon restarted during the scan")
        else:
            raise ValueError(mode)
        self._release()

    # Protocol ----------------------------------------------------------------

    def resource(self) -> Resource:
        """The resource tree a Site or StubTreq serves."""
        root = Resource()
        for name in ("health", "scan", "status", "result"):
            root.putChild(name.encode("ascii"), _Endpoint(self, name))
        return root

    def answer(self, method: str, path: str, body: bytes, query: Query,
               authorization: Optional[bytes] = None) -> Union[Answer, "defer.Deferred[Answer]"]:
        """The answer to one request: scripted, else the protocol's (a Deferred when held)."""
        self.requests.append((method, path, body))
        for waiter in self._watchers.pop(f"{method} {path}", []):
            waiter.callback(None)
        if path == "/status":
            self.waits.append(query[b"wait"][-1].decode() if b"wait" in query else None)
        if self.token is not None and path != "/health" and \
                authorization != f"Bearer {self.token}".encode():
            return 401, {"error": "missing or wrong token"}
        if self._scripted[path]:
            return self._scripted[path].popleft()
        if path == "/status" and b"wait" in query and self.honours_wait and self.state == "running":
            return self._hold(float(query[b"wait"][-1]))
        return getattr(self, "_" + path.strip("/"))(method, body)

    def _hold(self, wait: float) -> "defer.Deferred[Answer]":
        """A long-poll: /status once the scan ends, or after ``wait`` seconds."""
        assert self.clock is not None, "holding a poll needs a clock"
        waiter: defer.Deferred = defer.Deferred(lambda d: self._held.remove(d))
        self._held.append(waiter)
        waiter.addTimeout(wait, self.clock).addErrback(lambda f: f.trap(defer.TimeoutError))
        return waiter.addCallback(lambda _: self._status("GET", b""))

    def _health(self, method: str, body: bytes) -> Answer:
        if self.health_failures:
            self.health_failures -= 1
            return 503, {"status": "unavailable", "missing": ["/usr/bin/oscap"]}
        return 200, {"status": "ok", "scanner": "openscap", "profile": DEFAULT_PROFILE}

    def _scan(self, method: str, body: bytes) -> Answer:
        if method == "DELETE":
            return self._cancel()
        if method != "POST":
            return 405, {"error": "use POST /scan or DELETE /scan"}
        if len(body) > MAX_BODY:
            return 413, {"error": "body over 64 KiB"}
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            return 400, {"error": "malformed JSON body"}
        profile = request.get("profile", DEFAULT_PROFILE) if isinstance(request, dict) else None
        if profile not in (DEFAULT_PROFILE, OTHER_PROFILE):
            return 400, {"error": f"unknown profile: {profile!r}"}
        if self.state == "running":
            return 409, {"error": "scan already running", "scan_id": self.scan["scan_id"]}
        scan_id = self.start_scan(profile)
        return 202, {"status": "started", "scan_id": scan_id, "profile": profile}

    def _cancel(self) -> Answer:
        if self.state != "running":
            return 409, {"error": f"no scan is running (state: {self.state}); nothing to cancel"}
        self.finish("scan cancelled by request")
        return 202, {"status": "cancelling", "scan_id": self.scan["scan_id"]}

    def _status(self, method: str, body: bytes) -> Answer:
        if self.state == "idle":
            return 200, {"state": "idle"}
        if self.state == "running":
            self.scan["polls"] += 1
            if self.scan_seconds is None and self.scan["polls"] >= self.polls_to_finish:
                self.finish()
        done = min(self.rules_total, self.scan["polls"] * self.rules_total // self.polls_to_finish)
        return 200, {"state": self.state, "scan_id": self.scan["scan_id"],
                     "profile": self.scan["profile"], "started_at": self.scan["started_at"],
                     "elapsed_s": 1.5 * self.scan["polls"],
                     "progress": {"rules_done": done, "rules_total": self.rules_total}}

    def _result(self, method: str, body: bytes) -> Answer:
        if self.state not in ("done", "error"):
            return 404, {"error": f"no result available, state: {self.state}"}
        common = {"scan_id": self.scan["scan_id"], "profile": self.scan["profile"],
                  "started_at": self.scan["started_at"], "finished_at": "2026-01-05T10:00:03Z"}
        if self.state == "error":
            return 200, dict(common, error=self.scan["error"], exit_code=1,
                             stderr="OpenSCAP Error: oops\nfinal line of stderr")
        return 200, dict(common, score=self.score, passed_count=1, failed_count=1,
                         not_applicable_count=1, error_count=0, notchecked_count=0,
                         informational_count=0, rules=RULES, native_score=self.score,
                         scanner="openscap", content="ssg-fake-ds.xml", duration_s=3.0)


class _Endpoint(Resource):
    isLeaf = True

    def __init__(self, daemon: FakeDaemon, name: str) -> None:
        super().__init__()
        self._daemon = daemon
        self._name = name

    def render(self, request: Any) -> Union[bytes, int]:
        answer = self._daemon.answer(request.method.decode("ascii"), "/" + self._name,
                                     request.content.read(), request.args,
                                     request.getHeader(b"authorization"))
        if not isinstance(answer, defer.Deferred):
            return self._write(request, *answer)

        def late(code_body: Answer) -> None:
            request.write(self._write(request, *code_body))
            request.finish()

        request.notifyFinish().addErrback(lambda _: answer.cancel())
        answer.addCallback(late).addErrback(lambda f: f.trap(defer.CancelledError))
        return NOT_DONE_YET

    @staticmethod
    def _write(request: Any, code: int, body: Any) -> bytes:
        request.setResponseCode(code)
        if isinstance(body, bytes):
            return body
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(body).encode("utf-8")


class FlakyNetwork:
    """A StubTreq behind a network that fails chosen requests.

    Faults, queued per path: ``refused`` (never reaches the daemon),
    ``reset`` (the daemon handles it, the answer is lost), ``hang`` (the
    daemon handles it, no answer ever comes; only a timeout ends it).
    """

    def __init__(self, resource: Resource) -> None:
        self._stub = StubTreq(resource)
        self._faults: Dict[str, Deque[str]] = defaultdict(deque)

    def fail(self, path: str, *faults: str) -> None:
        self._faults[path].extend(faults)

    def flush(self) -> None:
        """Deliver answers the daemon gave late (held long-polls): StubTreq only moves bytes when asked."""
        self._stub.flush()

    def request(self, method: str, url: str, **kwargs: Any) -> defer.Deferred:
        queue = self._faults[urlsplit(url).path]
        fault = queue.popleft() if queue else None
        if fault == "refused":
            return defer.fail(ConnectionRefusedError("Connection refused"))
        answered = self._stub.request(method, url, **kwargs)
        if fault is None:
            return answered
        if fault == "reset":
            lost = Failure(ConnectionLost("Connection reset by peer"))
            return answered.addBoth(lambda _: Failure(ResponseNeverReceived([lost])))
        if fault == "hang":
            return defer.Deferred()
        raise ValueError(fault)


@attr.s(auto_attribs=True)
class Harness:
    """A DaemonClient wired to a FakeDaemon through a FlakyNetwork on a Clock."""

    daemon: FakeDaemon
    network: FlakyNetwork
    clock: task.Clock
    client: DaemonClient
    progress: List[ScanProgress]

    def drive(self, d: defer.Deferred) -> Any:
        """`drive` on this harness's clock, delivering held answers as they come."""
        return drive(self.clock, d, flush=self.network.flush)


def harness(daemon: Optional[FakeDaemon] = None, clock: Optional[task.Clock] = None,
            host: str = "node1", **client_args: Any) -> Harness:
    """A client of ``daemon`` on ``clock``; a daemon that holds polls shares the clock."""
    clock = clock or (daemon.clock if daemon is not None and daemon.clock is not None else task.Clock())
    daemon = daemon or FakeDaemon()
    network = FlakyNetwork(daemon.resource())
    progress: List[ScanProgress] = []
    client = DaemonClient(host, reactor=clock, http_client=network,
                          on_progress=progress.append, **client_args)
    return Harness(daemon, network, clock, client, progress)


def drive(clock: task.Clock, d: defer.Deferred, max_steps: int = 10_000,
          flush: Optional[Callable[[], None]] = None) -> Any:
    """Advance ``clock`` call by call until ``d`` fires; return its result or raise its error.

    Jumping straight to the next delayed call keeps the clock's time exact,
    so tests can assert when something happened. A loop that never ends
    (polling without sleeping, say) fails after ``max_steps`` instead of hanging.
    ``flush`` (a StubTreq's) runs after each step, for answers a daemon gives late.
    """
    outcome: List[Any] = []
    d.addBoth(outcome.append)
    for _ in range(max_steps):
        if flush is not None:
            flush()
        if outcome:
            break
        calls = clock.getDelayedCalls()
        assert calls, "the Deferred is stuck: nothing is scheduled and it has not fired"
        clock.advance(max(0.0, min(call.getTime() for call in calls) - clock.seconds()))
    assert outcome, f"the Deferred has not fired after {max_steps} scheduled calls"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]
