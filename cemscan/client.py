"""Drive one node's scan daemon with short requests: kick off, poll, fetch, judge.

A scan takes up to half an hour; the network between runner and node drops
idle connections and, now and then, a single request. So no request here
waits for the scan: ``POST /scan`` starts it, ``GET /status?wait=W`` is asked
every ``poll_interval`` seconds, ``GET /result`` fetches the outcome. The
daemon holds each poll until the scan ends or W seconds pass (a bounded
long-poll), so the runner learns of the end at once while every request
stays short; a daemon that ignores ``wait`` is simply polled every
``poll_interval``. A failed poll (refused, reset, timed out, 5xx) is retried
with backoff until the scan's deadline instead of failing the scan; only the
kickoff is not blindly retried, because a POST whose answer was lost may
have started the scan. What retrying cannot mend fails at once: a 401 (no or
wrong token) and a certificate that is not trusted.

All time goes through the injected ``reactor`` (``callLater``/``seconds``),
so tests drive a whole scan with a `task.Clock` and an in-memory daemon.
"""

import json
from typing import Any, Awaitable, Callable, Dict, NoReturn, Optional, TypeVar

import attr
from OpenSSL import SSL
from service_identity import VerificationError
from twisted.internet import defer, task
from twisted.internet.error import ConnectError, ConnectingCancelledError, ConnectionClosed
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import RequestNotSent, RequestTransmissionFailed, ResponseFailed

from cemscan.errors import (
    DaemonNotReadyError,
    DaemonUnreachableError,
    ScannerInvocationError,
    TLSError,
    UnauthorizedError,
)
from cemscan.keepalive import make_http_client
from cemscan.result import Result
from cemscan.targets import DEFAULT_PORT, hostport

T = TypeVar("T")

DEFAULT_READY_TIMEOUT = 60
DEFAULT_HTTP_TIMEOUT = 1800
DEFAULT_POLL_INTERVAL = 10
DEFAULT_REQUEST_TIMEOUT = 60

#: The longest ``GET /status?wait=N`` the daemon accepts (its MAX_WAIT_SECONDS).
MAX_LONG_POLL_S = 30
#: Time a held poll's answer needs beyond its wait (round trip, the daemon's
#: own work) before request_timeout would end it: at most this, or half the
#: request timeout when that is shorter.
LONG_POLL_MARGIN_S = 5

# The request never reached the daemon: retrying it cannot start a second scan.
_NOT_DELIVERED = (ConnectError, RequestNotSent)
# The request may have reached the daemon, but its answer never arrived.
_MAYBE_DELIVERED = (ConnectionClosed, ResponseFailed, RequestTransmissionFailed)

_TERMINAL_STATES = ("done", "error")
_BODY_EXCERPT = 200


@attr.s(frozen=True, auto_attribs=True)
class ScanProgress:
    """What a client just learned about its node, for a live display.

    ``phase`` is one of: ``waiting`` (daemon not ready yet), ``starting``,
    ``running``, ``retrying`` (a poll failed; ``detail`` says why),
    ``fetching`` (scan over, result on its way).
    """

    target: str
    phase: str
    elapsed_s: float
    rules_done: Optional[int] = None
    rules_total: Optional[int] = None
    detail: str = ""


class _Retryable(Exception):
    """A request failed in a way the next attempt may not see.

    ``delivered`` says whether the daemon may have seen the request, which
    decides whether a 409 on a retried kickoff can be our own scan.
    """

    def __init__(self, reason: str, *, delivered: bool) -> None:
        super().__init__(reason)
        self.delivered = delivered


@attr.s(frozen=True, auto_attribs=True)
class _Reply:
    code: int
    raw: bytes

    def excerpt(self) -> str:
        text = self.raw.decode("utf-8", "replace").strip()
        return text if len(text) <= _BODY_EXCERPT else text[:_BODY_EXCERPT] + "..."


class _Deadline:
    """The end of a phase (readiness, scan), counted on the client's clock from now."""

    def __init__(self, reactor: Any, seconds: float) -> None:
        self._reactor = reactor
        self._start = reactor.seconds()
        self.seconds = seconds

    def elapsed(self) -> float:
        return self._reactor.seconds() - self._start

    def remaining(self) -> float:
        return self.seconds - self.elapsed()


@attr.s(auto_attribs=True)
class DaemonClient:
    """The runner's side of one node's scan daemon.

    Every public method returns a Deferred; cancelling it stops what it was
    doing (a request in flight, a wait between polls) and fails it with
    CancelledError. ``reactor`` is needed for time (and for connections,
    unless ``http_client`` is given); tests pass a `task.Clock` together with
    a `treq.testing.StubTreq`. ``limiter`` (a DeferredSemaphore shared by
    many clients) caps requests in flight, which is what lets one process
    poll a thousand nodes without running out of file descriptors.

    ``token`` goes with every request as ``Authorization: Bearer <token>``
    (it is never logged, nor shown in this object's repr). ``tls`` makes the
    requests https://; whom to trust is ``http_client``'s business (see
    `cemscan.keepalive.make_http_client`).
    """

    log = Logger()

    host: str
    port: int = DEFAULT_PORT
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    poll_interval: float = DEFAULT_POLL_INTERVAL
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    reactor: Any = attr.ib(kw_only=True)
    http_client: Any = attr.ib(kw_only=True, default=None)
    on_progress: Optional[Callable[[ScanProgress], None]] = attr.ib(kw_only=True, default=None)
    limiter: Optional[defer.DeferredSemaphore] = attr.ib(kw_only=True, default=None)
    token: Optional[str] = attr.ib(kw_only=True, default=None, repr=False)
    tls: bool = attr.ib(kw_only=True, default=False)
    #: Whether a scan this client started may still run on the node: true
    #: from the moment a kickoff may reach the daemon until the client sees
    #: the scan end. What an interrupted runner cancels.
    scan_may_run: bool = attr.ib(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        if self.http_client is None:
            self.http_client = make_http_client(self.reactor)

    @property
    def where(self) -> str:
        """``host:port``, as every message names the daemon."""
        return hostport(self.host, self.port)

    @property
    def long_poll_wait(self) -> float:
        """Seconds each poll asks the daemon to hold it (``GET /status?wait=W``).

        W is the poll interval (polls then follow each other with no pause
        while the scan runs), at most the daemon's limit of 30 s. A held
        answer arrives W seconds plus a round trip after the request: a W
        longer than request_timeout minus a margin (LONG_POLL_MARGIN_S, or
        half the request timeout if that is less) is shortened to it, or
        every held poll would time out on our side and be retried for ever.
        """
        margin = min(LONG_POLL_MARGIN_S, self.request_timeout / 2)
        return max(0.0, min(self.poll_interval, MAX_LONG_POLL_S, self.request_timeout - margin))

    # Public API -------------------------------------------------------------

    def wait_until_ready(self) -> "defer.Deferred[Dict[str, Any]]":
        """Poll ``GET /health`` until 200; fire with the health body.

        A node that is still booting refuses connections or answers 503, so
        both are retried until ``ready_timeout``; then DaemonNotReadyError
        names the last failure seen.
        """
        return defer.ensureDeferred(self._wait_until_ready())

    def scan(self, test_case: str, scanner: Optional[str] = None, profile: Optional[str] = None,
             threshold: float = 80.0) -> "defer.Deferred[Result]":
        """Run one scan to completion and judge it against ``threshold``.

        ``profile`` None lets the daemon use its default profile; ``scanner``
        None takes the daemon's word for which scanner ran. ``http_timeout``
        bounds the whole scan, kickoff to result.
        """
        return defer.ensureDeferred(self._scan(test_case, scanner, profile, threshold))

    def status(self) -> "defer.Deferred[Dict[str, Any]]":
        """One ``GET /status``, no retry: for a person asking right now."""
        return defer.ensureDeferred(self._once(self._get("/status"), "get /status from"))

    def cancel(self) -> "defer.Deferred[Dict[str, Any]]":
        """One ``DELETE /scan``: stop the node's running scan; fire with the daemon's answer.

        Not retried: a person (or an interrupted runner) is waiting for it.
        The daemon cancels whichever scan runs, ours or not. With nothing
        running it answers 409, raised as ScannerInvocationError in its words.
        """
        return defer.ensureDeferred(self._cancel())

    def report(self, fmt: str) -> "defer.Deferred[bytes]":
        """One ``GET /report?format=fmt``: the last scan's ARF, HTML report or fix script.

        Not retried; bounded by request_timeout like any request (an HTML
        report of big content takes oscap a while the first time: raise it).
        """
        return defer.ensureDeferred(self._report(fmt))

    def result(self, test_case: Optional[str] = None, threshold: float = 80.0
               ) -> "defer.Deferred[Result]":
        """One ``GET /result``, no retry, judged against ``threshold``.

        ``test_case`` defaults to ``host:port``. A failed scan raises
        ScannerInvocationError with the daemon's words, as `scan` does.
        """
        return defer.ensureDeferred(self._result(test_case or self.where, threshold))

    # Phases -------------------------------------------------------------------

    async def _wait_until_ready(self) -> Dict[str, Any]:
        deadline = _Deadline(self.reactor, self.ready_timeout)

        def not_ready(last: _Retryable) -> Exception:
            return DaemonNotReadyError(
                f"Scan daemon at {self.where} was not ready within {self.ready_timeout:g}s "
                f"(last failure: {last}). Check that the cemscan daemon runs on {self.host} "
                f"and that port {self.port} is open to this machine.")

        health = await self._retrying(deadline, lambda: self._get("/health"), not_ready, "waiting")
        self.log.info("Scan daemon at {target} is ready: {health}", target=self.where, health=health)
        return health

    async def _scan(self, test_case: str, scanner: Optional[str], profile: Optional[str],
                    threshold: float) -> Result:
        deadline = _Deadline(self.reactor, self.http_timeout)
        scan_id = await self._kickoff(profile, deadline)
        await self._until_terminal(scan_id, deadline)
        self.scan_may_run = False
        self._progress("fetching", deadline)
        body = await self._poll("/result", deadline)
        self._check_ours(scan_id, body, "result")
        result = self._judge(body, test_case, scanner, profile, threshold)
        self.log.info("Scan {scan_id} on {target} scored {score} (threshold {threshold})",
                      scan_id=scan_id, target=self.where, score=result.score, threshold=threshold)
        return result

    async def _result(self, test_case: str, threshold: float) -> Result:
        body = await self._once(self._get("/result"), "get /result from")
        return self._judge(body, test_case, None, None, threshold)

    async def _cancel(self) -> Dict[str, Any]:
        reply = await self._once(self._call("DELETE", "/scan"), "send DELETE /scan to")
        if reply.code == 409:
            raise ScannerInvocationError(
                f"Cannot cancel on {self.where}: {self._error_words(reply)}",
                status=409, body=reply.excerpt())
        if reply.code != 202:
            raise self._unexpected(reply, "DELETE /scan")
        body = self._json(reply, "DELETE /scan")
        self.scan_may_run = False
        self.log.info("Scan {scan_id} on {target} is being cancelled",
                      scan_id=body.get("scan_id"), target=self.where)
        return body

    async def _report(self, fmt: str) -> bytes:
        reply = await self._once(self._call("GET", f"/report?format={fmt}"), f"get the {fmt} report from")
        if reply.code != 200:
            raise ScannerInvocationError(f"No {fmt} report from {self.where} (status {reply.code}): "
                                         f"{self._error_words(reply)}", status=reply.code, body=reply.excerpt())
        return reply.raw

    def _judge(self, body: Dict[str, Any], test_case: str, scanner: Optional[str],
               profile: Optional[str], threshold: float) -> Result:
        try:
            return Result.from_body(body, test_case=test_case, scanner=scanner,
                                    profile=profile, threshold=threshold)
        except ScannerInvocationError as e:
            raise ScannerInvocationError(f"Scan on {self.where} failed: {e}",
                                         status=200, body=e.body) from e

    async def _kickoff(self, profile: Optional[str], deadline: _Deadline) -> Optional[str]:
        """POST /scan; fire with the daemon's scan_id (None from old daemons).

        A POST that may have reached the daemon but whose answer was lost is
        retried; if the retry meets 409, the running scan is most likely ours
        and is adopted. A 409 on the first attempt is someone else's scan.
        """
        payload = None if profile is None else {"profile": profile}
        maybe_started = False

        async def post() -> _Reply:
            nonlocal maybe_started
            self.scan_may_run = True  # this POST may reach the daemon
            try:
                return await self._call("POST", "/scan", payload)
            except _Retryable as e:
                maybe_started = maybe_started or e.delivered
                self.scan_may_run = maybe_started
                raise

        self._progress("starting", deadline)
        reply = await self._retrying(deadline, post, self._overdue, "retrying")
        if reply.code == 409 and maybe_started:
            return await self._adopt(deadline)
        if reply.code != 202:
            self.scan_may_run = False
            raise self._unexpected(reply, "POST /scan")
        scan_id = self._json(reply, "POST /scan").get("scan_id")
        self.log.info("Scan {scan_id} started on {target} (profile {profile})",
                      scan_id=scan_id, target=self.where, profile=profile)
        return scan_id

    async def _adopt(self, deadline: _Deadline) -> Optional[str]:
        status = await self._poll("/status", deadline)
        if status.get("state") not in ("running",) + _TERMINAL_STATES:
            raise ScannerInvocationError(
                f"Scan daemon at {self.where} refused a retried kickoff as 'scan already running' "
                f"but now reports state {status.get('state')!r}; start the scan again.",
                status=409, body=status)
        scan_id = status.get("scan_id")
        self.log.warn("Kickoff answer from {target} was lost; adopting its running scan {scan_id}",
                      target=self.where, scan_id=scan_id)
        return scan_id

    async def _until_terminal(self, scan_id: Optional[str], deadline: _Deadline) -> None:
        """Long-poll /status until our scan is done or errored.

        The next poll is due poll_interval after this one began: at once when
        the daemon held this one for the whole wait, after the rest of the
        interval when it answered at once (an old daemon that ignores wait).
        """
        while True:
            began = self.reactor.seconds()
            wait = min(self.long_poll_wait, max(0.0, deadline.remaining()))
            status = await self._poll(f"/status?wait={wait:g}", deadline)
            state = status.get("state")
            if state == "idle":
                raise ScannerInvocationError(
                    f"Scan daemon at {self.where} reports no scan (state 'idle') while scan "
                    f"{scan_id or '(unnamed)'} was running: the daemon restarted during the scan "
                    f"and lost it. Start the scan again.", status=200, body=status)
            if state not in ("running",) + _TERMINAL_STATES:
                raise ScannerInvocationError(
                    f"Unexpected scan state from {self.where}: {state!r}", status=200, body=status)
            self._check_ours(scan_id, status, "status")
            if state in _TERMINAL_STATES:
                return
            progress = status.get("progress") or {}
            self._progress("running", deadline, rules_done=progress.get("rules_done"),
                           rules_total=progress.get("rules_total"))
            if deadline.remaining() <= 0:
                raise self._overdue(None)
            next_poll = began + self.poll_interval - self.reactor.seconds()
            await self._sleep(min(max(0.0, next_poll), deadline.remaining()))

    # Building blocks --------------------------------------------------------

    def _check_ours(self, ours: Optional[str], body: Dict[str, Any], what: str) -> None:
        """A different scan_id means our scan is gone; old daemons send none at all."""
        theirs = body.get("scan_id")
        if ours is not None and theirs is not None and theirs != ours:
            raise ScannerInvocationError(
                f"Scan daemon at {self.where} reports {what} of scan {theirs!r}, not of ours "
                f"({ours!r}): the daemon restarted during the scan or another client started "
                f"a scan. Start the scan again.", status=200)

    def _overdue(self, last: Optional[_Retryable]) -> Exception:
        message = f"Scan did not finish within {self.http_timeout:g}s on {self.where}"
        if last is not None:
            message += f" (last failure: {last})"
        return ScannerInvocationError(message)

    def _poll(self, path: str, deadline: _Deadline) -> Awaitable[Dict[str, Any]]:
        """GET ``path`` during a scan: failures retried until the scan's deadline."""
        return self._retrying(deadline, lambda: self._get(path), self._overdue, "retrying")

    async def _retrying(self, deadline: _Deadline, attempt: Callable[[], Awaitable[T]],
                        give_up: Callable[[_Retryable], Exception], phase: str) -> T:
        """Run ``attempt`` until it does not raise _Retryable or the deadline passes.

        Retries come after 1, 2, 4... seconds, capped at the poll interval: a
        single dropped request costs a second, and a daemon that stays away
        is asked no more often than a healthy one. The last attempt is made
        at the deadline itself, never after it.
        """
        failures = 0
        while True:
            try:
                return await attempt()
            except _Retryable as e:
                failures += 1
                if deadline.remaining() <= 0:
                    raise give_up(e) from e
                delay = min(2.0 ** (failures - 1), self.poll_interval, deadline.remaining())
                self.log.warn("Request to {target} failed ({failure}); retry {failures} in {delay}s",
                              target=self.where, failure=str(e), failures=failures, delay=delay)
                self._progress(phase, deadline, detail=f"{e}; retrying in {delay:g}s")
                await self._sleep(delay)

    async def _once(self, attempt: Awaitable[T], what: str) -> T:
        """``attempt`` without retries: a failure that a retry might mend is reported as it is."""
        try:
            return await attempt
        except _Retryable as e:
            raise DaemonUnreachableError(
                f"Cannot {what} scan daemon at {self.where}: {e}. Check that the "
                f"cemscan daemon runs on {self.host} and that port {self.port} is open.") from e

    async def _get(self, path: str) -> Dict[str, Any]:
        """GET ``path`` expecting 200 and a JSON object; 5xx count as retryable."""
        reply = await self._call("GET", path)
        if reply.code >= 500:
            raise _Retryable(f"status {reply.code}: {reply.excerpt()}", delivered=True)
        if reply.code != 200:
            raise self._unexpected(reply, f"GET {path}")
        return self._json(reply, f"GET {path}")

    def _unexpected(self, reply: _Reply, what: str) -> ScannerInvocationError:
        return ScannerInvocationError(
            f"Scan daemon at {self.where} returned status {reply.code} for {what}: {reply.excerpt()}",
            status=reply.code, body=reply.excerpt())

    @staticmethod
    def _error_words(reply: _Reply) -> str:
        """The ``error`` of a JSON error body, else the body itself."""
        try:
            error = json.loads(reply.raw).get("error")
        except (ValueError, AttributeError):
            error = None
        return error if isinstance(error, str) else reply.excerpt()

    def _json(self, reply: _Reply, what: str) -> Dict[str, Any]:
        try:
            data = json.loads(reply.raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ScannerInvocationError(
                f"Scan daemon at {self.where} returned a body that is not a JSON object for "
                f"{what} (status {reply.code}): {reply.excerpt()!r}",
                status=reply.code, body=reply.excerpt())
        return data

    async def _call(self, method: str, path: str, payload: Optional[Dict[str, Any]] = None) -> _Reply:
        """One request, bounded by request_timeout.

        Network failures become _Retryable; a request cancelled from outside
        raises CancelledError, whatever layer noticed it; a TLS refusal and
        a 401 raise the errors that say what to do, since no retry mends them.
        """
        try:
            if self.limiter is None:
                reply = await self._exchange(method, path, payload)
            else:
                reply = await self.limiter.run(self._exchange, method, path, payload)
        except (ConnectingCancelledError,) + _NOT_DELIVERED + _MAYBE_DELIVERED as e:
            raise self._network_failure(e) from e
        if reply.code == 401:
            raise self._unauthorized(reply)
        return reply

    def _network_failure(self, error: Exception) -> Exception:
        """What a failed request raises; Twisted wraps the real cause in ``reasons``."""
        reasons = [reason.value for reason in getattr(error, "reasons", ())]
        if isinstance(error, ConnectingCancelledError) or any(
                isinstance(reason, defer.CancelledError) for reason in reasons):
            # Timeouts never get here (see _timed_out): someone cancelled us.
            return defer.CancelledError(f"request to {self.where} cancelled")
        for reason in reasons:
            if isinstance(reason, (SSL.Error, VerificationError)):
                return self._tls_refusal(reason)
        return _Retryable(_describe(error), delivered=not isinstance(error, _NOT_DELIVERED))

    def _tls_refusal(self, reason: Exception) -> TLSError:
        if isinstance(reason, VerificationError):
            return TLSError(
                f"certificate of {self.where} is not valid for {self.host}: it names other hosts; "
                f"give the target by a name or address its certificate lists")
        words = _ssl_words(reason)
        if "certificate verify failed" in words:
            return TLSError(
                f"certificate of {self.where} is not trusted: {words}; pass --ca-file with the "
                f"CA certificate that signed it (or add that CA to the system's trust store)")
        return TLSError(f"TLS with {self.where} failed: {words}; check that the daemon serves "
                        f"https on port {self.port} (--listen ssl:...)")

    def _unauthorized(self, reply: _Reply) -> UnauthorizedError:
        if self.token is None:
            advice = ("requires a token: pass the daemon's token with --token-file FILE, or set "
                      "CEMSCAN_TOKEN_FILE (a file) or CEMSCAN_TOKEN (the token)")
        else:
            advice = "refused the token: use the one in the daemon's --token-file"
        return UnauthorizedError(f"Scan daemon at {self.where} {advice} (401 Unauthorized)",
                                 status=401, body=reply.excerpt())

    def _exchange(self, method: str, path: str, payload: Optional[Dict[str, Any]]
                  ) -> "defer.Deferred[_Reply]":
        async def roundtrip() -> _Reply:
            kwargs: Dict[str, Any] = {"headers": self._headers()}
            if payload is not None:
                kwargs["json"] = payload
            scheme = "https" if self.tls else "http"
            response = await self.http_client.request(method, f"{scheme}://{self.where}{path}", **kwargs)
            return _Reply(response.code, await response.content())

        # One timeout for connect, request, headers and body alike: treq's
        # own timeout stops at the headers, and a body can stall too.
        return defer.ensureDeferred(roundtrip()).addTimeout(
            self.request_timeout, self.reactor, onTimeoutCancel=self._timed_out)

    def _headers(self) -> Dict[str, str]:
        # str values: treq 26 refuses anything but str and bytes.
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    @staticmethod
    def _timed_out(result: Any, timeout: float) -> NoReturn:
        """What a request cut short by request_timeout raises, whatever layer it was in.

        Cancelled while connecting it never reached the daemon; later, it may
        have. (treq reports the rest as a lost connection, which would hide
        that the daemon said nothing at all.)
        """
        if isinstance(result, Failure) and result.check(ConnectingCancelledError):
            raise _Retryable(f"could not connect within {timeout:g}s", delivered=False)
        raise _Retryable(f"no answer within {timeout:g}s", delivered=True)

    def _sleep(self, seconds: float) -> "defer.Deferred[None]":
        return task.deferLater(self.reactor, seconds, lambda: None)

    def _progress(self, phase: str, deadline: _Deadline, **fields: Any) -> None:
        if self.on_progress is not None:
            self.on_progress(ScanProgress(target=self.where, phase=phase,
                                          elapsed_s=deadline.elapsed(), **fields))


def _ssl_words(error: Exception) -> str:
    """OpenSSL's reasons (``[(library, function, reason), ...]``) as words."""
    details = error.args[0] if error.args else None
    if isinstance(details, list):
        return "; ".join(str(d[-1]) for d in details if isinstance(d, tuple) and d) or "OpenSSL gave no reason"
    return str(error) or type(error).__name__


def _describe(error: Exception) -> str:
    """Words for a network failure; Twisted's wrappers hide the useful part."""
    if isinstance(error, (ResponseFailed, RequestTransmissionFailed)):
        reasons = "; ".join(reason.getErrorMessage() for reason in error.reasons)
        return f"connection lost ({reasons or type(error).__name__})"
    return str(error).rstrip(". ") or type(error).__name__
