"""Test doubles shared by the client, fleet and CLI tests.

`FakeDaemon` follows the daemon protocol in memory (a scan finishes after a
set number of ``/status`` polls, so no test waits on time) and can be
scripted: canned answers per path, restarts mid-scan, failing scans.
`FlakyNetwork` puts a `StubTreq` behind a network that refuses, resets or
swallows chosen requests with the exceptions a real Agent raises.
`drive` runs a Deferred to completion on a `task.Clock`.
"""

import itertools
import json
from collections import defaultdict, deque
from typing import Any, Deque, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import attr
from treq.testing import StubTreq
from twisted.internet import defer, task
from twisted.internet.error import ConnectionLost, ConnectionRefusedError
from twisted.python.failure import Failure
from twisted.web.client import ResponseNeverReceived
from twisted.web.resource import Resource

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


class FakeDaemon:
    """The daemon's protocol in memory, its clock being the number of /status polls."""

    def __init__(self, *, polls_to_finish: int = 2, score: float = 87.4, rules_total: int = 14,
                 scan_error: Optional[str] = None) -> None:
        self.polls_to_finish = polls_to_finish
        self.score = score
        self.rules_total = rules_total
        self.scan_error = scan_error
        self.health_failures = 0
        self.state = "idle"
        self.scan: Dict[str, Any] = {}
        self.requests: List[Tuple[str, str, bytes]] = []
        self._ids = itertools.count(1)
        self._scripted: Dict[str, Deque[Answer]] = defaultdict(deque)

    # Scripting ---------------------------------------------------------------

    def script(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to ``path`` with ``answers`` instead of the protocol."""
        self._scripted[path].extend(answers)

    def start_scan(self, profile: str = DEFAULT_PROFILE) -> str:
        """Start a scan as if a client had POSTed (another client, in most tests)."""
        self.state = "running"
        self.scan = {"scan_id": f"scan-{next(self._ids)}", "profile": profile, "polls": 0,
                     "started_at": "2026-01-05T10:00:00Z"}
        return self.scan["scan_id"]

    def restart(self, mode: str = "idle") -> None:
        """Simulate a daemon restart during a scan.

        ``idle``: an old daemon that forgot everything; ``other``: a new scan
        (another scan_id) runs; ``interrupted``: a daemon that remembers the
        scan and reports it as failed.
        """
        if mode == "idle":
            self.state, self.scan = "idle", {}
        elif mode == "other":
            self.start_scan()
        elif mode == "interrupted":
            self.state = "error"
            self.scan["error"] = "scan interrupted: the daemon restarted during the scan"
        else:
            raise ValueError(mode)

    # Protocol ----------------------------------------------------------------

    def resource(self) -> Resource:
        """The resource tree a Site or StubTreq serves."""
        root = Resource()
        for name in ("health", "scan", "status", "result"):
            root.putChild(name.encode("ascii"), _Endpoint(self, name))
        return root

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        self.requests.append((method, path, body))
        if self._scripted[path]:
            return self._scripted[path].popleft()
        return getattr(self, "_" + path.strip("/"))(method, body)

    def _health(self, method: str, body: bytes) -> Answer:
        if self.health_failures:
            self.health_failures -= 1
            return 503, {"status": "unavailable", "missing": ["/usr/bin/oscap"]}
        return 200, {"status": "ok", "scanner": "openscap", "profile": DEFAULT_PROFILE}

    def _scan(self, method: str, body: bytes) -> Answer:
        if method != "POST":
            return 405, {"error": "use POST /scan"}
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

    def _status(self, method: str, body: bytes) -> Answer:
        if self.state == "idle":
            return 200, {"state": "idle"}
        if self.state == "running":
            self.scan["polls"] += 1
            if self.scan["polls"] >= self.polls_to_finish:
                self.state = "error" if self.scan_error else "done"
                self.scan["error"] = self.scan_error
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

    def render(self, request: Any) -> bytes:
        code, body = self._daemon.answer(request.method.decode("ascii"), "/" + self._name,
                                         request.content.read())
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


def harness(daemon: Optional[FakeDaemon] = None, clock: Optional[task.Clock] = None,
            host: str = "node1", **client_args: Any) -> Harness:
    daemon = daemon or FakeDaemon()
    network = FlakyNetwork(daemon.resource())
    clock = clock or task.Clock()
    progress: List[ScanProgress] = []
    client = DaemonClient(host, reactor=clock, http_client=network,
                          on_progress=progress.append, **client_args)
    return Harness(daemon, network, clock, client, progress)


def drive(clock: task.Clock, d: defer.Deferred, max_steps: int = 10_000) -> Any:
    """Advance ``clock`` call by call until ``d`` fires; return its result or raise its error.

    Jumping straight to the next delayed call keeps the clock's time exact,
    so tests can assert when something happened. A loop that never ends
    (polling without sleeping, say) fails after ``max_steps`` instead of hanging.
    """
    outcome: List[Any] = []
    d.addBoth(outcome.append)
    for _ in range(max_steps):
        if outcome:
            break
        calls = clock.getDelayedCalls()
        assert calls, "the Deferred is stuck: nothing is scheduled and it has not fired"
        clock.advance(max(0.0, min(call.getTime() for call in calls) - clock.seconds()))
    assert outcome, f"the Deferred has not fired after {max_steps} scheduled calls"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]
