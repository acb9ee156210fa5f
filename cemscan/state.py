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
from typing import Any, Callable, Dict, Mapping, Optional

import attr
from twisted.internet import defer
from twisted.logger import Logger

from cemscan import scoring
from cemscan.arf import ArfError, TestResult
from cemscan.content import Content
from cemscan.openscap import OpenSCAP
from cemscan.process import ProcessOutcome, ScannerProcess, scanner_environment

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
    result: Optional[Dict[str, Any]] = attr.ib(default=None)


@attr.s
class ScanManager:
    """Owns the single scan slot and moves it through its states."""

    log = Logger()

    reactor: Any = attr.ib()
    scanner: OpenSCAP = attr.ib()
    content: Content = attr.ib()
    default_profile: str = attr.ib()
    state_dir: str = attr.ib()
    parse_arf: ParseArf = attr.ib()
    scan_timeout: Optional[float] = attr.ib(default=3600.0)
    environ: Mapping[str, str] = attr.ib(factory=lambda: dict(os.environ))
    process_factory: Callable[..., ScannerProcess] = attr.ib(default=ScannerProcess)

    state: State = attr.ib(init=False, default=State.IDLE)
    current: Optional[Scan] = attr.ib(init=False, default=None)
    _process: Optional[ScannerProcess] = attr.ib(init=False, default=None)
    _finished: Optional[defer.Deferred] = attr.ib(init=False, default=None)

    def check_profile(self, profile: Optional[str]) -> str:
        """The profile to scan with; UnknownProfile names the ones accepted."""
        chosen = self.default_profile if profile is None else profile
        if chosen not in self.content.profiles:
            raise UnknownProfile("unknown profile %r; this content accepts: %s"
                                 % (chosen, ", ".join(sorted(self.content.profiles))))
        return chosen

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
        self.state = State.RUNNING
        self.log.info("scan {scan_id} started: profile {profile}", scan_id=scan.id, profile=chosen)
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
        self._finish(scan, result)

    async def _scan(self, scan: Scan) -> Dict[str, Any]:
        missing = self.scanner.missing()
        if missing:
            return _error("cannot scan: missing %s" % ", ".join(missing))
        try:
            os.makedirs(scan.directory)
        except OSError as e:
            return _error("cannot create the scan folder %s: %s" % (scan.directory, e.strerror or e))
        self._process = self.process_factory(
            reactor=self.reactor, argv=self.scanner.argv(scan.profile, scan.directory),
            env=scanner_environment(self.environ), workdir=scan.directory,
            on_line=lambda line: self._progress(scan, line), timeout=self.scan_timeout)
        try:
            outcome: ProcessOutcome = await self._process.start()
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
        return dict(scoring.summarize(parsed.rules), native_score=parsed.native_score)

    def _progress(self, scan: Scan, line: str) -> None:
        if self.scanner.parse_progress(line) is not None:
            scan.rules_done += 1

    def _finish(self, scan: Scan, outcome: Dict[str, Any]) -> None:
        scan.finished_at = self.reactor.seconds()
        scan.result = dict(outcome, **self._scan_fields(scan))
        self.state = State.ERROR if "error" in outcome else State.DONE
        self.log.info("scan {scan_id} ended: {state} {message}", scan_id=scan.id, state=self.state.value,
                      message=outcome.get("error", "score %s" % outcome.get("score")))

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
            self._process.stop("stopped: the daemon is shutting down")
        if self._finished is None or self.state is not State.RUNNING:
            return defer.succeed(None)
        done: defer.Deferred = defer.Deferred()
        self._finished.addBoth(lambda _: done.callback(None))
        return done


def _error(message: str, outcome: Optional[ProcessOutcome] = None) -> Dict[str, Any]:
    """An error result; what the scanner said goes with it when it ran at all."""
    if outcome is None:
        return {"error": message, "exit_code": None, "signal": None, "stderr": ""}
    return {"error": message, "exit_code": outcome.exit_code, "signal": outcome.signal,
            "stderr": outcome.stderr_tail}
