"""The daemon's HTTP API: the resource tree over a ScanManager.

    GET  /health   200 once the scanner binary and content are there, else 503
    POST /scan     202 started | 409 already running | 400 bad body | 413 too big
    DELETE /scan   202 cancelling | 409 nothing running; ?scan_id=X: only if X is the running scan
    GET  /status   {"state": "idle" | "running" | "done" | "error", ...}
                   ?wait=N (N <= 30): answer as soon as a running scan ends
    GET  /report?format=arf|html|bash|ansible   the last scan's ARF, HTML report, fix scripts
    GET  /metrics  the state and last result in the Prometheus text format
    GET  /result   200 with the result in done/error, else 404; ?scan_id=X: only if X is the last scan

Every answer is JSON (see :mod:`cemscan.jsonweb`).
"""

import json
from typing import Any, Dict, Optional, Tuple

from twisted.web import http, server

from cemscan import __version__
from cemscan.auth import TokenGuard, Unauthorized
from cemscan import metrics
from cemscan.jsonweb import JSON_TYPE, MAX_BODY_BYTES, Answer, FileAnswer, JSONEndpoint, JSONRoot, Raw, encode
from cemscan.reports import FORMATS, ReportError, ReportMaker
from cemscan.state import NothingRunning, ScanAlreadyRunning, ScanManager, State, UnknownProfile

#: Longest long-poll: short enough that no NAT drops the idle connection.
MAX_WAIT_SECONDS = 30
ACCEPTED_BODY = 'an empty body or a JSON object {"profile": "<profile id>"}'


class _ManagerEndpoint(JSONEndpoint):
    def __init__(self, manager: ScanManager) -> None:
        super().__init__()
        self.manager = manager


class Health(_ManagerEndpoint):
    def json_GET(self, request: server.Request) -> Answer:
        missing = self.manager.scanner.missing()
        if missing:
            return http.SERVICE_UNAVAILABLE, {"status": "unavailable", "missing": missing}
        return http.OK, {"status": "ok", "version": __version__, "scanner": self.manager.scanner.name,
                         "content": self.manager.content.path, "profile": self.manager.default_profile,
                         "state": self.manager.state.value}


class BadRequest(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class StartScan(_ManagerEndpoint):
    def method_hint(self) -> str:
        return "use POST /scan"

    def json_POST(self, request: server.Request) -> Answer:
        try:
            scan = self.manager.start(_requested_profile(request))
        except BadRequest as e:
            return e.code, {"error": str(e)}
        except UnknownProfile as e:
            return http.BAD_REQUEST, {"error": str(e)}
        except ScanAlreadyRunning as e:
            return http.CONFLICT, {"error": "scan already running", "scan_id": e.scan_id}
        return http.ACCEPTED, {"status": "started", "scan_id": scan.id, "profile": scan.profile}

    def json_DELETE(self, request: server.Request) -> Answer:
        """Cancel: the scanner's whole process group is stopped, the scan ends in error."""
        wanted = request.args.get(b"scan_id")
        running = self.manager.current.id if self.manager.state is State.RUNNING and self.manager.current else None
        if wanted and running and wanted[-1].decode("utf-8", "replace") != running:
            # ?scan_id= lets a runner cancel its own scan and never someone else's.
            return http.CONFLICT, {"error": "scan %s is not the running scan (%s); nothing cancelled"
                                            % (wanted[-1].decode("utf-8", "replace"), running)}
        try:
            scan = self.manager.cancel()
        except NothingRunning as e:
            return http.CONFLICT, {"error": "%s; nothing to cancel" % (e,)}
        return http.ACCEPTED, {"status": "cancelling", "scan_id": scan.id}


def _requested_profile(request: server.Request) -> Optional[str]:
    """The profile a POST body asks for (None: the default), or BadRequest."""
    request.content.seek(0)
    raw = request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(http.REQUEST_ENTITY_TOO_LARGE,
                         "request body over %d bytes; send %s" % (MAX_BODY_BYTES, ACCEPTED_BODY))
    if not raw.strip():
        return None
    try:
        body: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # deep nesting: RecursionError
        raise BadRequest(http.BAD_REQUEST, "request body is not JSON (%s); send %s" % (e, ACCEPTED_BODY)) from e
    if not isinstance(body, dict):
        raise BadRequest(http.BAD_REQUEST, "request body must be %s" % ACCEPTED_BODY)
    unknown = sorted(set(body) - {"profile"})
    if unknown:
        raise BadRequest(http.BAD_REQUEST, "unknown field(s) %s; send %s" % (", ".join(unknown), ACCEPTED_BODY))
    profile = body.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise BadRequest(http.BAD_REQUEST, '"profile" must be a string (a profile id of the content)')
    return profile


class Status(_ManagerEndpoint):
    #: (state, scan id) and the body encoded for them: outside a running scan
    #: the answer only changes with the state, and a fleet polls it a lot.
    _cached: Optional[Tuple[Tuple[State, Optional[str]], bytes]] = None

    def json_GET(self, request: server.Request) -> Answer:
        try:
            wait = _wait_seconds(request)
        except BadRequest as e:
            return e.code, {"error": str(e)}
        if wait:
            return self.manager.wait_for_change(wait).addCallback(lambda _: (http.OK, self.manager.status()))
        if self.manager.state is State.RUNNING:
            return http.OK, self.manager.status()  # progress and elapsed time move
        key = (self.manager.state, self.manager.current.id if self.manager.current else None)
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, encode(self.manager.status()))
        return Raw(JSON_TYPE, self._cached[1])


def _wait_seconds(request: server.Request) -> float:
    """``?wait=N``: answer when the running scan ends, or after N seconds at most."""
    values = request.args.get(b"wait")
    if not values:
        return 0.0
    try:
        wait = float(values[-1].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        wait = -1.0
    if not 0 <= wait <= MAX_WAIT_SECONDS:  # also refuses nan
        raise BadRequest(http.BAD_REQUEST, "wait must be a number of seconds from 0 to %d" % MAX_WAIT_SECONDS)
    return wait


class Result(_ManagerEndpoint):
    def json_GET(self, request: server.Request) -> Answer:
        result: Optional[Dict[str, Any]] = self.manager.result()
        if result is None:
            return http.NOT_FOUND, {"error": "no result available, state: %s" % self.manager.state.value}
        wanted = request.args.get(b"scan_id")
        if wanted and wanted[-1].decode("utf-8", "replace") != result.get("scan_id"):
            # ?scan_id= closes the race where another scan started between a
            # client's last /status and its /result.
            return http.NOT_FOUND, {"error": "no result for scan %s: the last scan is %s (state: %s)" % (
                wanted[-1].decode("utf-8", "replace"), result.get("scan_id"), self.manager.state.value)}
        return http.OK, result


class Metrics(_ManagerEndpoint):
    def json_GET(self, request: server.Request) -> Answer:
        return Raw(metrics.CONTENT_TYPE, metrics.render(self.manager))


class Report(_ManagerEndpoint):
    def __init__(self, manager: ScanManager, reports: ReportMaker) -> None:
        super().__init__(manager)
        self.reports = reports

    def json_GET(self, request: server.Request) -> Answer:
        fmt = request.args.get(b"format", [b""])[-1].decode("utf-8", "replace")
        if fmt not in FORMATS:
            return http.BAD_REQUEST, {"error": "format must be one of %s, as in GET /report?format=html"
                                               % ", ".join(FORMATS)}
        result = self.manager.result()
        if result is None:
            state = self.manager.state.value
            if state == "running":
                return http.CONFLICT, {"error": "a scan is running; its report can be had when it ends"}
            return http.NOT_FOUND, {"error": "no scan to report on yet (state: %s)" % state}
        assert self.manager.current is not None
        arf = self.manager.scanner.arf_path(self.manager.current.directory)
        made = self.reports.report(arf, fmt, result.get("test_result_id"))

        def refused(failure: Any) -> Answer:
            failure.trap(ReportError)
            return failure.value.code, {"error": str(failure.value)}

        return made.addCallbacks(lambda path: FileAnswer(path, FORMATS[fmt].content_type), refused)


def build_root(manager: ScanManager, guard: Optional[TokenGuard] = None,
               reports: Optional[ReportMaker] = None) -> JSONRoot:
    """The API; with a guard, everything but /health needs the bearer token."""
    root = JSONRoot(guard, open_paths=(b"health",), refusal=Unauthorized())
    root.putChild(b"health", Health(manager))
    root.putChild(b"scan", StartScan(manager))
    root.putChild(b"status", Status(manager))
    root.putChild(b"result", Result(manager))
    root.putChild(b"metrics", Metrics(manager))
    if reports is not None:
        root.putChild(b"report", Report(manager, reports))
    return root
