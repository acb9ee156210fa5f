"""Scan many nodes at once in one reactor; one Outcome per node, never an exception.

A fleet run must report every node, so a node that cannot be scanned
(unreachable, daemon error, deadline, an interrupt) becomes an Outcome with
an error instead of stopping the others. Only bugs propagate.
"""

from typing import Any, Callable, Dict, List, Optional, Sequence

import attr
from twisted.internet import defer

from cemscan.client import DaemonClient
from cemscan.errors import CemscanError
from cemscan.result import Result
from cemscan.targets import Target

PASS, FAIL, ERROR = "pass", "fail", "error"


@attr.s(frozen=True, auto_attribs=True)
class Job:
    """What to scan on one node and how to judge it."""

    target: Target
    test_case: str
    profile: Optional[str] = None
    threshold: float = 80.0


@attr.s(frozen=True, auto_attribs=True)
class Outcome:
    """A node's result, or why there is none."""

    job: Job
    result: Optional[Result] = None
    error: Optional[str] = None

    @property
    def verdict(self) -> str:
        """PASS, FAIL or ERROR: what decides the exit status and the report lines."""
        if self.result is None:
            return ERROR
        return PASS if self.result.passed else FAIL

    def to_dict(self) -> Dict[str, Any]:
        """The shape ``--json``, ``--output`` and the result command share."""
        data: Dict[str, Any] = {"target": str(self.job.target), "test_case": self.job.test_case,
                                "profile": self.job.profile, "threshold": self.job.threshold}
        if self.result is not None:
            data.update(self.result.to_dict())
        else:
            data["passed"] = False
        data["error"] = self.error
        return data


@attr.s(auto_attribs=True)
class Interruption:
    """What an interrupt did to the scans on the nodes: the last thing a person reads."""

    reason: str
    cancelled: int = 0
    not_cancelled: int = 0
    left_running: int = 0

    def describe(self) -> str:
        """One line: what was cancelled, and what still runs and how to stop it."""
        done = []
        if self.cancelled:
            done.append(f"{_scans(self.cancelled)} cancelled on the nodes")
        if self.not_cancelled:
            done.append(f"{_scans(self.not_cancelled)} could not be cancelled (see each target); "
                        f"cemscan cancel TARGET to stop them")
        if self.left_running:
            done.append("scans keep running on the nodes; cemscan cancel TARGET to stop them")
        return f"interrupted by {self.reason}" + (": " + "; ".join(done) if done else "")


def _scans(number: int) -> str:
    return "1 scan" if number == 1 else f"{number} scans"


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """0 all passed, 1 some below threshold, 2 some could not be scanned (worst wins)."""
    verdicts = {outcome.verdict for outcome in outcomes}
    if ERROR in verdicts:
        return 2
    return 1 if FAIL in verdicts else 0


class FleetScan:
    """Every job of a fleet scan, running concurrently from the start; `outcomes` fires at the end.

    `interrupt` (Ctrl-C, SIGTERM) stops the jobs still running. Each of them
    still ends as an Outcome, whose error says what became of its node's
    scan: cancelled there when ``cancel_on_interrupt``, else left running.
    Outcomes come back in the order of ``jobs``; ``on_outcome`` hears of each
    as it ends.
    """

    def __init__(self, jobs: Sequence[Job], client_for: Callable[[Job], DaemonClient],
                 on_outcome: Callable[[Outcome], None], cancel_on_interrupt: bool = False) -> None:
        self.interruption: Optional[Interruption] = None
        self._cancel_on_interrupt = cancel_on_interrupt

        def report(outcome: Outcome) -> Outcome:
            on_outcome(outcome)
            return outcome

        self._runs = [defer.ensureDeferred(self._run(client_for(job), job)).addCallback(report)
                      for job in jobs]
        self.outcomes: "defer.Deferred[List[Outcome]]" = defer.gatherResults(self._runs, consumeErrors=True)

    @property
    def running(self) -> bool:
        """Whether some job has not ended yet (an interrupt would stop something)."""
        return not all(run.called for run in self._runs)

    def interrupt(self, reason: str) -> None:
        """Stop the jobs still running, for ``reason`` (e.g. "SIGINT"); only the first call counts.

        The jobs' outcomes may all come before this returns, when no node
        has a scan to cancel.
        """
        if self.interruption is not None or not self.running:
            return
        self.interruption = Interruption(reason)
        for run in self._runs:
            if not run.called:
                run.cancel()

    async def _run(self, client: DaemonClient, job: Job) -> Outcome:
        """Wait for the node's daemon, scan, judge; failures become the Outcome's error."""
        try:
            await client.wait_until_ready()
            result = await client.scan(job.test_case, None, job.profile, job.threshold)
        except CemscanError as e:
            return Outcome(job, error=str(e))
        except defer.CancelledError:
            return Outcome(job, error=await self._after_interrupt(client, job))
        return Outcome(job, result=result)

    async def _after_interrupt(self, client: DaemonClient, job: Job) -> str:
        """Deal with the node's scan as asked; the Outcome's error says what became of it."""
        interruption = self.interruption
        assert interruption is not None
        interrupted = f"interrupted ({interruption.reason})"
        if not client.scan_may_run:
            return f"{interrupted}; no scan of ours is running on the node"
        if not self._cancel_on_interrupt:
            interruption.left_running += 1
            return (f"{interrupted}; the scan keeps running on the node: "
                    f"cemscan cancel {job.target.argument} stops it")
        try:
            answer = await client.cancel()
        except CemscanError as e:
            interruption.not_cancelled += 1
            return f"{interrupted}; cancelling its scan failed: {e}"
        interruption.cancelled += 1
        return f"{interrupted}; scan {answer.get('scan_id')} cancelled on the node"
