"""Show a fleet scan as it goes: live lines on a terminal, timestamped lines elsewhere.

A person at a terminal wants one line per node redrawn in place and a table
at the end; a CI log wants plain lines that say what changed and when, with
no escape codes. Both displays take the same calls: `begin` with the jobs,
`update` with each ScanProgress, `finished` with each Outcome, `note` for
what happens to the run as a whole (an interrupt), `summary` at the end.
Either way the summary ends with what someone has to act on: for each node
below its threshold or with failing rules, its counts and those rules.
"""

import datetime
import shutil
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from twisted.internet import task

from cemscan.client import ScanProgress
from cemscan.fleet import ERROR, FAIL, PASS, Job, Outcome
from cemscan.result import Result

_VERDICT_WORDS = {PASS: "PASS", FAIL: "FAIL", ERROR: "ERROR"}
#: Failing rules listed per target at the end; ``--json`` has them all.
MAX_RULES_SHOWN = 20
_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
_CLEAR_LINE = "\x1b[2K"
_CLEAR_BELOW = "\x1b[J"


def timestamp(seconds: float) -> str:
    """UTC to the second, like the daemon's own timestamps."""
    when = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_progress(event: ScanProgress) -> str:
    """A node's state in a few words: what both displays print."""
    words = event.phase
    if event.rules_done is not None:
        words += f" {event.rules_done}/{event.rules_total if event.rules_total is not None else '?'} rules"
    if event.detail:
        words += f" ({event.detail})"
    return words


def describe_outcome(outcome: Outcome) -> str:
    """The verdict with the numbers behind it, or the error."""
    result = outcome.result
    if result is None:
        return f"ERROR {outcome.error}"
    words = _verdict(outcome, result)
    if result.failed_rules:
        words += f", {_rules_failed(result)}"
    return words


def _verdict(outcome: Outcome, result: Result) -> str:
    relation = ">=" if result.passed else "<"
    return f"{_VERDICT_WORDS[outcome.verdict]} score {result.score:g} {relation} threshold {result.threshold:g}"


def describe_status(target: str, status: Mapping[str, Any]) -> str:
    """``cemscan status``: one line from a ``GET /status`` body."""
    state = status.get("state")
    if state == "idle":
        return f"{target}: idle (no scan since the daemon started)"
    if "scan_id" not in status:  # daemons before scan ids said no more than the state
        return f"{target}: {state}"
    progress = status.get("progress") or {}
    total = progress.get("rules_total")
    words = (f"{target}: {state}, scan {status['scan_id']}, profile {status.get('profile')}, "
             f"{progress.get('rules_done', 0)}/{'?' if total is None else total} rules, "
             f"{status.get('elapsed_s', 0):g}s elapsed")
    if status.get("finished_at"):
        words += f", finished at {status['finished_at']}"
    return words


def describe_details(outcome: Outcome) -> List[str]:
    """What someone has to act on: the verdict and counts, then the failing rules, one a line.

    Only for a target below its threshold or with failing rules (nothing for
    a clean pass or an error). The rules come worst first (high severity,
    then medium, low, the rest), at most MAX_RULES_SHOWN of them, so the
    list fits a screen or a CI log.
    """
    result = outcome.result
    if result is None or (result.passed and not result.failed_rules):
        return []
    new = set(result.newly_failing)
    # Newly failing rules first (what changed since the last scan), then by severity.
    failing = sorted(result.failed_rules,
                     key=lambda rule: (rule.id not in new, _SEVERITY_ORDER.get(rule.severity, 3)))
    lines = [f"{_verdict(outcome, result)}: {result.passed_count} passed, {result.failed_count} failed, "
             f"{result.not_applicable_count} not applicable, {result.error_count} error"]
    if result.drift:
        lines.append(f"  since scan {result.drift.get('previous_scan_id')}: {len(new)} newly failing, "
                     f"{len(result.drift.get('newly_passing') or ())} newly passing")
    lines += [f"  {'NEW ' if rule.id in new else ''}{rule}" for rule in failing[:MAX_RULES_SHOWN]]
    if len(failing) > MAX_RULES_SHOWN:
        lines.append(f"  ... and {len(failing) - MAX_RULES_SHOWN} more (see --json)")
    return lines


def _details(outcomes: Sequence[Outcome]) -> List[Tuple[str, List[str]]]:
    """(target, its details) for the outcomes that have any, in their order."""
    found = []
    for outcome in outcomes:
        lines = describe_details(outcome)
        if lines:
            found.append((str(outcome.job.target), lines))
    return found


def _rules_failed(result: Result) -> str:
    return f"{_count(len(result.failed_rules), 'rule')} failed" if result.failed_rules else ""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def summary_line(outcomes: Sequence[Outcome]) -> str:
    counts = {verdict: 0 for verdict in _VERDICT_WORDS}
    for outcome in outcomes:
        counts[outcome.verdict] += 1
    return (f"{_count(len(outcomes), 'target')}: {counts[PASS]} passed, {counts[FAIL]} below threshold, "
            f"{counts[ERROR]} could not be scanned")


class PlainProgress:
    """Timestamped lines, printed only when a node's state changes."""

    def __init__(self, stream: IO[str], clock: Any) -> None:
        self._stream = stream
        self._clock = clock
        self._last: Dict[str, str] = {}

    def begin(self, jobs: Sequence[Job]) -> None:
        self._say("cemscan", f"scanning {_count(len(jobs), 'target')}")

    def update(self, event: ScanProgress) -> None:
        # Only changes of phase or detail: rule counts move on every poll,
        # and a thousand nodes polled every 10 s would flood a CI log.
        key = f"{event.phase} {event.detail}"
        if self._last.get(event.target) != key:
            self._last[event.target] = key
            self._say(event.target, describe_progress(event))

    def finished(self, outcome: Outcome) -> None:
        self._say(str(outcome.job.target), describe_outcome(outcome))

    def note(self, words: str) -> None:
        self._say("cemscan", words)

    def summary(self, outcomes: Sequence[Outcome]) -> None:
        for target, lines in _details(outcomes):
            for line in lines:
                self._say(target, line)
        self._say("cemscan", summary_line(outcomes))

    def _say(self, who: str, words: str) -> None:
        self._stream.write(f"{timestamp(self._clock.seconds())} {who} {words}\n")
        self._stream.flush()


class LiveProgress:
    """One line per node, redrawn in place every second, then a summary table.

    With more nodes than the terminal has rows, the first ones are drawn and
    a last line counts the rest, so the redraw never scrolls.
    """

    REDRAW_S = 1.0

    def __init__(self, stream: IO[str], clock: Any) -> None:
        self._stream = stream
        self._clock = clock
        self._started = clock.seconds()
        self._lines: Dict[str, str] = {}
        self._ended: Dict[str, float] = {}
        self._note: Optional[str] = None
        self._drawn = 0
        self._loop = task.LoopingCall(self._draw)
        self._loop.clock = clock

    def begin(self, jobs: Sequence[Job]) -> None:
        self._lines = {str(job.target): "waiting" for job in jobs}
        self._loop.start(self.REDRAW_S)

    def update(self, event: ScanProgress) -> None:
        self._lines[event.target] = describe_progress(event)

    def finished(self, outcome: Outcome) -> None:
        target = str(outcome.job.target)
        self._lines[target] = describe_outcome(outcome)
        self._ended[target] = self._clock.seconds()

    def note(self, words: str) -> None:
        """A last line under the targets' lines, drawn at once."""
        self._note = words
        self._draw()

    def summary(self, outcomes: Sequence[Outcome]) -> None:
        if self._loop.running:
            self._loop.stop()
        self._draw()
        rows = [("TARGET", "TEST CASE", "SCORE", "THRESHOLD", "RESULT", "DETAIL")]
        for outcome in outcomes:
            result = outcome.result
            rows.append((str(outcome.job.target), outcome.job.test_case,
                         "-" if result is None else f"{result.score:g}",
                         f"{outcome.job.threshold:g}", _VERDICT_WORDS[outcome.verdict],
                         outcome.error or (_rules_failed(result) if result is not None else "")))
        details = "".join(f"{target} " + "".join(f"{line}\n" for line in lines)
                          for target, lines in _details(outcomes))
        self._stream.write("\n" + _table(rows) + "\n" + (details and "\n" + details)
                           + summary_line(outcomes) + "\n")
        self._stream.flush()

    def _draw(self) -> None:
        width, height = shutil.get_terminal_size((100, 24))
        items = list(self._lines.items())
        room = height - 1 if self._note is None else height - 2
        if len(items) <= room:
            lines = [self._line(target, words, width) for target, words in items]
        else:
            shown, rest = items[:room - 1], items[room - 1:]
            done = sum(1 for target, _ in rest if target in self._ended)
            lines = [self._line(target, words, width) for target, words in shown]
            lines.append(f"... and {len(rest)} more targets, {done} of them finished")
        if self._note is not None:
            lines.append(self._note[:width - 1])
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        self._stream.write(up + "".join(f"{_CLEAR_LINE}{line}\n" for line in lines) + _CLEAR_BELOW)
        self._stream.flush()
        self._drawn = len(lines)

    def _line(self, target: str, words: str, width: int) -> str:
        end = self._ended.get(target, self._clock.seconds())
        line = f"{target:<24} {end - self._started:>6.0f}s  {words}"
        return line[:width - 1]


Display = Union[PlainProgress, LiveProgress]


def for_stream(stream: IO[str], clock: Any) -> Display:
    """The display that suits ``stream``: live on a terminal, plain lines otherwise."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return LiveProgress(stream, clock)
    return PlainProgress(stream, clock)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)
