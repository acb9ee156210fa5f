"""Scan many nodes at once in one reactor; one Outcome per node, never an exception.

A fleet run must report every node, so a node that cannot be scanned
(unreachable, daemon error, deadline) becomes an Outcome with an error
instead of stopping the others. Only bugs propagate.
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


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """0 all passed, 1 some below threshold, 2 some could not be scanned (worst wins)."""
    verdicts = {outcome.verdict for outcome in outcomes}
    if ERROR in verdicts:
        return 2
    return 1 if FAIL in verdicts else 0


async def run_job(client: DaemonClient, job: Job) -> Outcome:
    """Wait for the node's daemon, scan, judge; failures become the Outcome's error."""
    try:
        await client.wait_until_ready()
        result = await client.scan(job.test_case, None, job.profile, job.threshold)
    except CemscanError as e:
        return Outcome(job, error=str(e))
    return Outcome(job, result=result)


def scan_all(jobs: Sequence[Job], client_for: Callable[[Job], DaemonClient],
             on_outcome: Callable[[Outcome], None]) -> "defer.Deferred[List[Outcome]]":
    """Run every job concurrently; ``on_outcome`` hears of each as it ends.

    Outcomes come back in the order of ``jobs``, whatever order they ended in.
    """

    def report(outcome: Outcome) -> Outcome:
        on_outcome(outcome)
        return outcome

    return defer.gatherResults(
        [defer.ensureDeferred(run_job(client_for(job), job)).addCallback(report) for job in jobs],
        consumeErrors=True)
