"""twisted.web plumbing for an API that only ever speaks JSON.

twisted.web answers an unsupported method, an unknown child or an exception
in ``render`` with an HTML page (and, by default, a traceback).  A client of
this daemon is a program: every answer, errors included, is a JSON object
with ``Content-Type: application/json``.
"""

import json
from typing import Any, Callable, Dict, Optional, Tuple, Union

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure
import attr
from twisted.web import http, resource, server, static

JSON_TYPE = b"application/json"
Answer = Union[Tuple[int, Dict[str, Any]], "defer.Deferred[Tuple[int, Dict[str, Any]]]"]

log = Logger()


def encode(body: Dict[str, Any]) -> bytes:
    return json.dumps(body).encode("utf-8") + b"\n"


def write_json(request: server.Request, code: int, body: Dict[str, Any]) -> bytes:
    """Set status and headers for ``body``; return the bytes to send."""
    request.setResponseCode(code)
    request.setHeader(b"content-type", JSON_TYPE)
    request.setHeader(b"cache-control", b"no-store")
    return encode(body)


class JSONEndpoint(resource.Resource):
    """A leaf answering JSON; subclasses define ``json_GET`` and friends.

    Each ``json_<METHOD>(request)`` returns ``(code, body)`` (or, where JSON
    cannot be, a Raw or FileAnswer), or a Deferred of it to answer later (a
    long-poll, a report being made).  Anything else
    (another method, a sub-path, an exception) still gets a JSON answer.
    """

    isLeaf = True

    def render(self, request: server.Request) -> bytes:
        method = request.method.decode("ascii", "replace")
        if request.postpath:
            return write_json(request, http.NOT_FOUND, not_found_body(request))
        handler: Optional[Callable[[server.Request], Answer]] = getattr(
            self, "json_" + ("GET" if method == "HEAD" else method), None)
        if handler is None:
            allowed = self.allowed_methods()
            request.setHeader(b"allow", ", ".join(allowed).encode("ascii"))
            return write_json(request, http.NOT_ALLOWED, {"error": self.method_hint(), "allow": allowed})
        try:
            answer = handler(request)
        except Exception:
            log.failure("error answering {method} {path}", method=method, path=request.path)
            return write_json(request, http.INTERNAL_SERVER_ERROR, INTERNAL_ERROR)
        if not isinstance(answer, defer.Deferred):
            return _render(request, answer)
        # Answer later (a long-poll, a report being made); forget it if the client goes away.
        request.notifyFinish().addErrback(lambda _: answer.cancel())
        answer.addCallbacks(lambda ready: _finish(request, ready), lambda f: _fail(request, f))
        return server.NOT_DONE_YET

    def allowed_methods(self) -> list:
        names = sorted(name[len("json_"):] for name in dir(self) if name.startswith("json_"))
        return names + ["HEAD"] if "GET" in names else names

    def method_hint(self) -> str:
        return "use %s" % " or ".join(self.allowed_methods())


@attr.s(frozen=True)
class Raw:
    """Bytes ready to send: what is not JSON by nature (metrics), or JSON encoded once."""

    content_type: bytes = attr.ib()
    body: bytes = attr.ib()


@attr.s(frozen=True)
class FileAnswer:
    """A file on disk, streamed (never read whole into memory)."""

    path: str = attr.ib()
    content_type: bytes = attr.ib()


def _render(request: server.Request, answer: Any) -> Any:
    """Bytes to send for ``answer``, or NOT_DONE_YET when a file is being streamed."""
    if isinstance(answer, Raw):
        request.setHeader(b"content-type", answer.content_type)
        request.setHeader(b"cache-control", b"no-store")
        return answer.body
    if isinstance(answer, FileAnswer):
        # static.File streams with a producer and handles HEAD and Range;
        # the type is ours, not a guess from the file name.
        stream = static.File(answer.path)
        stream.type, stream.encoding = answer.content_type.decode("ascii"), None
        return stream.render(request)
    return write_json(request, *answer)


def _finish(request: server.Request, answer: Any) -> None:
    # A client that left has cancelled its answer already: nothing gets here.
    body = _render(request, answer)
    if body is not server.NOT_DONE_YET:
        request.write(body)
        request.finish()


def _fail(request: server.Request, failure: Failure) -> None:
    if failure.check(defer.CancelledError):
        return  # the client left: nobody to answer
    log.failure("error answering {path}", failure, path=request.path)
    _finish(request, (http.INTERNAL_SERVER_ERROR, INTERNAL_ERROR))


INTERNAL_ERROR = {"error": "internal error in the daemon; its log (journalctl -u cemscan) has the details"}


ENDPOINTS = ["GET /health", "POST /scan", "DELETE /scan", "GET /status", "GET /result", "GET /report",
             "GET /metrics"]


def not_found_body(request: server.Request) -> Dict[str, Any]:
    path = request.path.decode("utf-8", "replace")
    return {"error": "no such endpoint: %s" % path,
            "endpoints": ENDPOINTS}


class NotFound(JSONEndpoint):
    def render(self, request: server.Request) -> bytes:
        return write_json(request, http.NOT_FOUND, not_found_body(request))


class JSONRoot(resource.Resource):
    """The root: named children, a JSON 404 for everything else.

    With a ``guard`` (see :mod:`cemscan.auth`), every child but the ``open``
    ones first has to pass it, unknown paths included: a caller without the
    token learns nothing about what is there.
    """

    def __init__(self, guard: Any = None, open_paths: Tuple[bytes, ...] = (), refusal: Any = None) -> None:
        super().__init__()
        self.guard = guard
        self.open_paths = open_paths
        self.refusal = refusal

    def getChildWithDefault(self, path: bytes, request: server.Request) -> resource.Resource:
        if self.guard is not None and path not in self.open_paths and not self.guard.allows(request):
            return self.refusal
        return super().getChildWithDefault(path, request)

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return NotFound()

    def render(self, request: server.Request) -> bytes:
        return self.getChildWithDefault(b"", request).render(request)


#: No endpoint takes a body larger than this; more is read but not kept.
MAX_BODY_BYTES = 64 * 1024


class JSONRequest(server.Request):
    """A request that keeps a bounded body and reports failures as JSON, never HTML.

    twisted.web would buffer any body in full (to a temporary file past
    100 KB) before the resource sees it: here at most ``MAX_BODY_BYTES + 1``
    bytes are kept, which is enough for the resource to answer 413.
    """

    _body_room = MAX_BODY_BYTES + 1

    def gotLength(self, length: Optional[int]) -> None:
        super().gotLength(None if length is None or length > self._body_room else length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._body_room > 0:
            kept = data[:self._body_room]
            self._body_room -= len(kept)
            super().handleContentChunk(kept)

    def processingFailed(self, reason: Failure) -> None:
        log.failure("unhandled error answering {path}", reason, path=self.path)
        if self.startedWriting:
            self.finish()
            return
        body = write_json(self, http.INTERNAL_SERVER_ERROR, INTERNAL_ERROR)
        self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()


class JSONChannel(http.HTTPChannel):
    """Answers HTTP it cannot parse with JSON instead of a bare status line or silence."""

    def _reject(self, status: bytes, message: str) -> None:
        body = json.dumps({"error": message}).encode("ascii") + b"\n"
        self.transport.write(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%s" % (status, len(body), body))
        self.loseConnection()

    def _respondToBadRequestAndDisconnect(self) -> None:
        # Overrides twisted.web's (private, the same in 22.4 and 26.x) bare
        # "HTTP/1.1 400 Bad Request", so that even this answer is JSON.
        self._reject(b"400 Bad Request", "malformed HTTP request: this daemon speaks HTTP/1.1 with JSON bodies; "
                                         "see GET /health")

    def lineLengthExceeded(self, line: bytes) -> None:
        # LineReceiver would just hang up on a request line or header over
        # MAX_LENGTH bytes: say why instead.
        self._reject(b"431 Request Header Fields Too Large",
                     "request line or header over %d bytes" % self.MAX_LENGTH)


#: Successful reads that clients poll: not worth an access-log line each.
QUIET_PATHS = (b"/health", b"/status", b"/metrics")


class QuietSite(server.Site):
    """A Site that never wakes an idle daemon and does not log every poll.

    twisted.web refreshes the access log's date with a timer once a second
    (``_updateLogDateTime``, private but the same in 22.4 and 26.x), which
    wakes an idle daemon for nothing: here the date is refreshed when a line
    is written.  Successful GETs of the polled paths are not logged (the
    daemon logs every scan's start and end itself); everything else is.
    """

    _logDateSecond: Optional[int] = None

    def _updateLogDateTime(self) -> None:
        now = int(self.reactor.seconds())
        if now != self._logDateSecond:
            self._logDateSecond = now
            self._logDateTime = http.datetimeToLogString(now)

    def log(self, request: server.Request) -> None:
        if request.method in (b"GET", b"HEAD") and request.code < 400 and request.path in QUIET_PATHS:
            return
        self._updateLogDateTime()
        super().log(request)


def json_site(root: resource.Resource, reactor: Any = None) -> server.Site:
    site = QuietSite(root, requestFactory=JSONRequest, reactor=reactor)
    site.protocol = JSONChannel
    site.displayTracebacks = False
    return site
