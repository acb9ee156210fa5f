"""The daemon's scan state machine: idle -> running -> done | error.

Only one scan runs at a time.  The reactor is single-threaded and
``start()`` flips the state to running before it returns, so however many
POSTs race, exactly one of them starts a scanner process.  The state only
moves on Deferreds (the process ending, the ARF parse finishing), never on
polling, so an idle daemon does nothing at all.
"""

import datetime
import enum
import os
import signal
from collections import Counter
from typing import Any, Callable, Dict, List, Mapping, Optional

import attr
from twisted.internet import defer
from twisted.logger import Logger

from cemscan import drift, scoring
from cemscan.arf import ArfError, TestResult
from cemscan.content import Content
from cemscan.process import ProcessOutcome, ScannerProcess, group_is_ours, start_time
from cemscan.store import StateStore

ParseArf = Callable[[str], "defer.Deferred[TestResult]"]


class State(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"


class ScanAlreadyRunning(Exception):
    def __init__(self, scan_id: str) -> None:
        super().__init__("scan already running")
        self.scan_id = scan_id


class UnknownProfile(ValueError):
    """A profile the content does not define."""


class NothingRunning(Exception):
    """A cancel with no scan to cancel."""


INTERRUPTED = "scan interrupted: the daemon restarted during the scan"


def isoformat(seconds: float) -> str:
    """UTC, second precision, with a Z: what every client can parse."""
    when = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@attr.s
class Scan:
    """One scan from kickoff to result."""

    id: str = attr.ib()
    profile: str = attr.ib()
    directory: str = attr.ib()
    started_at: float = attr.ib()
    rules_total: Optional[int] = attr.ib()
    rules_done: int = attr.ib(default=0)
    finished_at: Optional[float] = attr.ib(default=None)
    #: The scanner's process group and its leader's start time, so that a
    #: restarted daemon can find (and stop) what an earlier one left running.
    pgid: Optional[int] = attr.ib(default=None)
    pgid_started: Optional[int] = attr.ib(default=None)
    cancelled: Optional[str] = attr.ib(default=None)
    result: Optional[Dict[str, Any]] = attr.ib(default=None, repr=False)

    def to_json(self) -> Dict[str, Any]:
        return attr.asdict(self, filter=lambda a, _: a.name not in ("result", "cancelled"))

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Scan":
        known = {a.name for a in attr.fields(cls)} - {"result", "cancelled"}
        return cls(**{k: v for k, v in data.items() if k in known})


@attr.s
class ScanManager:
    """Owns the single scan slot and moves it through its states."""

    log = Logger()

    reactor: Any = attr.ib()
    #: OpenSCAP or CISCAT: argv, arf_path, missing, environment, parse_progress, failure, score.
    scanner: Any = attr.ib()
    content: Content = attr.ib()
    default_profile: str = attr.ib()
    state_dir: str = attr.ib()
    parse_arf: ParseArf = attr.ib()
    scan_timeout: Optional[float] = attr.ib(default=3600.0)
    environ: Mapping[str, str] = attr.ib(factory=lambda: dict(os.environ))
    process_factory: Callable[..., ScannerProcess] = attr.ib(default=ScannerProcess)
    store: Optional[StateStore] = attr.ib(default=None)
    #: How many scan folders to keep on disk (the current one always stays).
    keep: int = attr.ib(default=10)
    group_is_ours: Callable[[int, Optional[int]], bool] = attr.ib(default=group_is_ours)
    killpg: Callable[[int, int], None] = attr.ib(default=os.killpg)

    state: State = attr.ib(init=False, default=State.IDLE)
    current: Optional[Scan] = attr.ib(init=False, default=None)
    _process: Optional[ScannerProcess] = attr.ib(init=False, default=None)
    _finished: Optional[defer.Deferred] = attr.ib(init=False, default=None)
    _waiters: List[defer.Deferred] = attr.ib(init=False, factory=list)
    #: Scans started / completed (done) / failed (error) since the daemon started.
    totals: Counter = attr.ib(init=False, factory=Counter)

    def check_profile(self, profile: Optional[str]) -> str:
        """The profile to scan with; UnknownProfile names the ones accepted."""
        chosen = self.default_profile if profile is None else profile
        if chosen not in self.content.profiles:
            raise UnknownProfile("unknown profile %r; this content accepts: %s"
                                 % (chosen, ", ".join(sorted(self.content.profiles))))
        return chosen

    def restore(self) -> None:
        """Take up where the last daemon left off (called once, before serving).

        A finished scan comes back exactly as it was.  A scan that was running
        cannot be resumed: it ends in error, and whatever is left of its
        scanner is killed, so that it neither runs unsupervised nor blocks
        the next scan.
        """
        saved = self.store.load() if self.store is not None else None
        if not saved or not saved.get("scan"):
            return
        scan = Scan.from_json(saved["scan"])
        self.current = scan
        if saved["state"] in (State.DONE.value, State.ERROR.value):
            scan.result = saved.get("result")
            self._set_state(State(saved["state"]))
            return
        self.log.warn("scan {scan_id} was interrupted by a restart", scan_id=scan.id)
        self._kill_leftovers(scan)
        scan.finished_at = self.reactor.seconds()
        scan.result = dict(_error(INTERRUPTED), **self._scan_fields(scan))
        self._set_state(State.ERROR)
        if self.store is not None:
            self._persist(scan, State.ERROR).addErrback(
                lambda f: self.log.error("cannot save scan {scan_id}: {error}", scan_id=scan.id, error=f.value))

    def _kill_leftovers(self, scan: Scan) -> None:
        if scan.pgid is not None and self.group_is_ours(scan.pgid, scan.pgid_started):
            self.log.warn("killing the interrupted scan's scanner (process group {pgid})", pgid=scan.pgid)
            try:
                self.killpg(scan.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def cancel(self) -> Scan:
        """Stop the running scan; it ends in error, saying it was cancelled."""
        if self.state is not State.RUNNING or self.current is None:
            raise NothingRunning("no scan is running (state: %s)" % self.state.value)
        scan = self.current
        if scan.cancelled is None:
            scan.cancelled = "cancelled by request"
            self.log.info("scan {scan_id} cancelled by request", scan_id=scan.id)
            if self._process is not None:
                self._process.stop(scan.cancelled)
        return scan

    def start(self, profile: Optional[str] = None) -> Scan:
        """Begin a scan now; the rest happens on Deferreds."""
        if self.state is State.RUNNING:
            assert self.current is not None
            raise ScanAlreadyRunning(self.current.id)
        chosen = self.check_profile(profile)
        now = self.reactor.seconds()
        scan_id = self._new_scan_id(now)
        scan = Scan(scan_id, chosen, os.path.join(self.state_dir, "scans", scan_id), now,
                    self.content.profiles[chosen].rule_count)
        self.current = scan
        self.totals["started"] += 1
        self._set_state(State.RUNNING)
        self.log.info("scan {scan_id} started: profile {profile}", scan_id=scan.id, profile=chosen)
        self._save_state()
        self._finished = defer.ensureDeferred(self._run(scan))
        return scan

    def _new_scan_id(self, now: float) -> str:
        """Sortable and unique even for two scans in the same second."""
        base = isoformat(now).replace("-", "").replace(":", "")
        previous = self.current.id if self.current else ""
        if not previous.startswith(base):
            return base
        _, _, n = previous.partition(".")
        return "%s.%d" % (base, int(n or 0) + 1)

    async def _run(self, scan: Scan) -> None:
        try:
            result = await self._scan(scan)
        except Exception as e:  # anything unforeseen still ends the scan
            self.log.failure("scan {scan_id} failed unexpectedly", scan_id=scan.id)
            result = _error("internal error during the scan: %s" % (e,))
        scan.finished_at = self.reactor.seconds()
        await self._conclude(scan, result)

    async def _scan(self, scan: Scan) -> Dict[str, Any]:
        try:
            os.makedirs(scan.directory)
        except OSError as e:
            return _error("cannot create the scan folder %s: %s" % (scan.directory, e.strerror or e))
        missing = self.scanner.missing()
        if missing:
            return _error("cannot scan: missing %s" % ", ".join(missing))
        self._process = self.process_factory(
            reactor=self.reactor, argv=self.scanner.argv(scan.profile, scan.directory),
            env=self.scanner.environment(self.environ), workdir=scan.directory,
            on_line=lambda line: self._progress(scan, line), timeout=self.scan_timeout)
        ended = self._process.start()
        scan.pgid = self._process.pid
        if scan.pgid is not None:
            scan.pgid_started = start_time(scan.pgid)
            self._save_state().addCallback(lambda _: self.log.info(
                "scan {scan_id}: scanner recorded as process group {pgid}", scan_id=scan.id, pgid=scan.pgid))
        try:
            outcome: ProcessOutcome = await ended
        except OSError as e:
            return _error("cannot start the scanner: %s" % (e,))
        finally:
            self._process = None
        failure = self.scanner.failure(outcome)
        if failure:
            return _error(failure, outcome)
        try:
            parsed: TestResult = await self.parse_arf(self.scanner.arf_path(scan.directory))
        except ArfError as e:
            return _error("the scan ran but its results cannot be read: %s" % (e,), outcome)
        if scan.cancelled:
            return _error("scan %s" % scan.cancelled, outcome)
        summary = dict(scoring.summarize(parsed.rules), native_score=parsed.native_score,
                       test_result_id=parsed.id)
        summary["score"] = self.scanner.score(summary)
        previous = await self.store.previous_result(scan.profile, scan.directory) if self.store else None
        summary["drift"] = drift.compare(previous, summary["rules"])
        return summary

    def _progress(self, scan: Scan, line: str) -> None:
        if self.scanner.parse_progress(line) is not None:
            scan.rules_done += 1

    async def _conclude(self, scan: Scan, outcome: Dict[str, Any]) -> None:
        """Save the result, then (only then) say the scan is over."""
        fields = self._scan_fields(scan)
        result = dict(outcome, **fields)
        state = State.ERROR if "error" in result else State.DONE
        scan.result = result
        if self.store is not None:
            try:
                await self._persist(scan, state)
            except OSError as e:
                self.log.error("cannot save scan {scan_id}: {error}", scan_id=scan.id, error=e)
                scan.result, state = dict(_unsaved(result, e), **fields), State.ERROR
        self.totals["completed" if state is State.DONE else "failed"] += 1
        self._set_state(state)
        self.log.info("scan {scan_id} ended: {state} {message}", scan_id=scan.id, state=state.value,
                      message=scan.result.get("error", "score %s" % scan.result.get("score")))
        if self.store is not None:
            self.store.prune(self.keep, scan.directory).addErrback(
                lambda f: self.log.failure("cannot prune old scans", f))

    def _persist(self, scan: Scan, state: State) -> defer.Deferred:
        """Write the scan's result, then the state that points at it."""
        assert self.store is not None and scan.result is not None
        store = self.store
        saved = store.save_result(scan.directory, scan.result)
        return saved.addCallback(lambda _: store.save_state(state.value, scan.to_json()))

    def _save_state(self) -> defer.Deferred:
        """Record the running scan; a failure here is logged, the scan goes on."""
        if self.store is None or self.current is None:
            return defer.succeed(None)
        return self.store.save_state(self.state.value, self.current.to_json()).addErrback(
            lambda f: self.log.error("cannot save the daemon state: {error}", error=f.value))

    def _scan_fields(self, scan: Scan) -> Dict[str, Any]:
        assert scan.finished_at is not None
        return {
            "scan_id": scan.id,
            "scanner": self.scanner.name,
            "profile": scan.profile,
            "content": self.content.path,
            "started_at": isoformat(scan.started_at),
            "finished_at": isoformat(scan.finished_at),
            "duration_s": round(scan.finished_at - scan.started_at, 3),
        }

    def _set_state(self, state: State) -> None:
        self.state = state
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(state)

    def wait_for_change(self, timeout: float) -> defer.Deferred:
        """Fires when a running scan ends, or after ``timeout`` seconds.

        Only a running scan changes state by itself; in any other state the
        answer is immediate, so a long-poll never waits for nothing.
        """
        if self.state is not State.RUNNING:
            return defer.succeed(self.state)
        waiter: defer.Deferred = defer.Deferred(lambda d: self._waiters.remove(d))
        self._waiters.append(waiter)
        waiter.addTimeout(timeout, self.reactor)

        def still_running(failure: Any) -> State:
            failure.trap(defer.TimeoutError)
            return self.state

        return waiter.addErrback(still_running)

    def status(self) -> Dict[str, Any]:
        """What ``GET /status`` answers."""
        scan = self.current
        if scan is None:
            return {"state": self.state.value}
        end = scan.finished_at if scan.finished_at is not None else self.reactor.seconds()
        body: Dict[str, Any] = {
            "state": self.state.value,
            "scan_id": scan.id,
            "profile": scan.profile,
            "started_at": isoformat(scan.started_at),
            "elapsed_s": round(end - scan.started_at, 3),
            "progress": {"rules_done": scan.rules_done, "rules_total": scan.rules_total},
        }
        if scan.finished_at is not None:
            body["finished_at"] = isoformat(scan.finished_at)
        return body

    def result(self) -> Optional[Dict[str, Any]]:
        """The last result while the state is terminal, else None."""
        if self.state in (State.DONE, State.ERROR) and self.current is not None:
            return self.current.result
        return None

    def shutdown(self) -> defer.Deferred:
        """Stop a running scan (its whole process group) and wait for it to end."""
        if self._process is not None:
            self._process.stop("interrupted: the daemon stopped during the scan")
        if self._finished is None or self.state is not State.RUNNING:
            return defer.succeed(None)
        done: defer.Deferred = defer.Deferred()
        self._finished.addBoth(lambda _: done.callback(None))
        return done


def _unsaved(result: Dict[str, Any], e: OSError) -> Dict[str, Any]:
    """A result that could not be written to disk: an error, but nothing lost."""
    where = getattr(e, "filename", None) or "the state folder"
    message = "cannot save the result to %s: %s" % (where, e.strerror or e)
    if "error" in result:
        return dict(result, error="%s (and %s)" % (result["error"], message))
    return dict(_error(message), unsaved_result=result)


def _error(message: str, outcome: Optional[ProcessOutcome] = None) -> Dict[str, Any]:
    """An error result; what the scanner said goes with it when it ran at all."""
    if outcome is None:
        return {"error": message, "exit_code": None, "signal": None, "stderr": ""}
    return {"error": message, "exit_code": outcome.exit_code, "signal": outcome.signal,
            "stderr": outcome.stderr_tail}
