"""Both displays, on a Clock: plain lines for logs, redrawn lines on a terminal."""

import io
import os

import attr
import pytest
from twisted.internet import task

from cemscan import progress
from cemscan.client import ScanProgress
from cemscan.fleet import Job, Outcome
from cemscan.result import Result, Rule
from cemscan.targets import Target

START = 1767607200  # 2026-01-05T10:00:00Z
JOBS = [Job(Target("node1", 8084), "cis"), Job(Target("node2", 8084), "stig", None, 90.0)]


class Terminal(io.StringIO):
    def isatty(self):
        return True


def clock_at(seconds=START):
    clock = task.Clock()
    clock.advance(seconds)
    return clock


def outcomes():
    low = Result(test_case="stig", scanner="openscap", profile="p", threshold=90.0, score=70.0,
                 passed_count=3, failed_count=1, not_applicable_count=2,
                 rules=(Rule("r1", "fail", "Root login", "high"), Rule("r2", "pass")))
    return [Outcome(JOBS[0], error="Scan daemon at node1:8084 was not ready within 60s"),
            Outcome(JOBS[1], result=low)]


def event(target, phase, elapsed=0.0, done=None, total=None, detail=""):
    return ScanProgress(target, phase, elapsed, done, total, detail)


def test_stream_decides_the_display():
    assert isinstance(progress.for_stream(io.StringIO(), task.Clock()), progress.PlainProgress)
    assert isinstance(progress.for_stream(Terminal(), task.Clock()), progress.LiveProgress)


def test_plain_lines_are_timestamped_and_only_on_change():
    stream, clock = io.StringIO(), clock_at()
    display = progress.PlainProgress(stream, clock)
    display.begin(JOBS)
    display.update(event("node2:8084", "running", 0, 1, 14))
    clock.advance(10)
    display.update(event("node2:8084", "running", 10, 7, 14))  # rules moved: no new line
    display.update(event("node1:8084", "waiting", 10, detail="status 503; retrying in 1s"))
    for outcome in outcomes():
        display.finished(outcome)
    display.summary(outcomes())
    assert stream.getvalue().splitlines() == [
        "2026-01-05T10:00:00Z cemscan scanning 2 targets",
        "2026-01-05T10:00:00Z node2:8084 running 1/14 rules",
        "2026-01-05T10:00:10Z node1:8084 waiting (status 503; retrying in 1s)",
        "2026-01-05T10:00:10Z node1:8084 ERROR Scan daemon at node1:8084 was not ready within 60s",
        "2026-01-05T10:00:10Z node2:8084 FAIL score 70 < threshold 90, 1 rule failed",
        "2026-01-05T10:00:10Z node2:8084 FAIL score 70 < threshold 90: "
        "3 passed, 1 failed, 2 not applicable, 0 error",
        "2026-01-05T10:00:10Z node2:8084   fail: r1 (high) Root login",
        "2026-01-05T10:00:10Z cemscan 2 targets: 0 passed, 1 below threshold, 1 could not be scanned",
    ]
    assert "\x1b" not in stream.getvalue()


def test_live_lines_are_redrawn_in_place_then_summarised(monkeypatch):
    monkeypatch.setattr(progress.shutil, "get_terminal_size", lambda fallback: os.terminal_size((80, 24)))
    stream, clock = Terminal(), clock_at()
    display = progress.LiveProgress(stream, clock)
    display.begin(JOBS)
    first = stream.getvalue()
    assert first.count("\x1b[2K") == 2 and "node1:8084" in first and "waiting" in first
    display.update(event("node2:8084", "running", 3, 5, 14))
    clock.advance(3)
    redraw = stream.getvalue()[len(first):].split("\x1b[J")[-2]
    assert redraw.startswith("\x1b[2F")  # back up over the two lines drawn before
    assert "node2:8084" in redraw and "3s  running 5/14 rules" in redraw
    for outcome in outcomes():
        display.finished(outcome)
    display.summary(outcomes())
    assert clock.getDelayedCalls() == []  # no more redraws after the summary
    table = stream.getvalue().split("\x1b[J")[-1].strip().splitlines()
    assert table[0].split() == ["TARGET", "TEST", "CASE", "SCORE", "THRESHOLD", "RESULT", "DETAIL"]
    assert table[1].split()[:5] == ["node1:8084", "cis", "-", "80", "ERROR"]
    assert table[2].split() == ["node2:8084", "stig", "70", "90", "FAIL", "1", "rule", "failed"]
    assert table[3:] == [
        "",
        "node2:8084 FAIL score 70 < threshold 90: 3 passed, 1 failed, 2 not applicable, 0 error",
        "  fail: r1 (high) Root login",
        "2 targets: 0 passed, 1 below threshold, 1 could not be scanned"]


def test_live_display_never_draws_more_lines_than_the_terminal_has(monkeypatch):
    monkeypatch.setattr(progress.shutil, "get_terminal_size", lambda fallback: os.terminal_size((60, 5)))
    stream = Terminal()
    display = progress.LiveProgress(stream, clock_at())
    jobs = [Job(Target(f"node{n}", 8084), f"case{n}") for n in range(10)]
    display.begin(jobs)
    drawn = stream.getvalue().split("\x1b[2K")[1:]
    assert len(drawn) == 4
    assert drawn[-1].startswith("... and 7 more targets, 0 of them finished")
    assert all(len(line.rstrip("\n\x1b[J")) < 60 for line in drawn)
    display.summary([])


@pytest.mark.parametrize("body, line", [
    ({"state": "idle"}, "n:1: idle (no scan since the daemon started)"),
    ({"state": "running"}, "n:1: running"),
    ({"state": "running", "scan_id": "s1", "profile": "p", "elapsed_s": 12.5,
      "progress": {"rules_done": 3, "rules_total": None}},
     "n:1: running, scan s1, profile p, 3/? rules, 12.5s elapsed"),
    ({"state": "done", "scan_id": "s1", "profile": "p", "elapsed_s": 20,
      "progress": {"rules_done": 14, "rules_total": 14}, "finished_at": "2026-01-05T10:00:20Z"},
     "n:1: done, scan s1, profile p, 14/14 rules, 20s elapsed, finished at 2026-01-05T10:00:20Z"),
])
def test_describe_status(body, line):
    assert progress.describe_status("n:1", body) == line


def judged(score, rules=(), threshold=80.0):
    return Outcome(JOBS[0], result=Result(test_case="cis", scanner="openscap", profile="p", threshold=threshold,
                                          score=score, passed_count=7, failed_count=len(rules), rules=rules))


def test_details_list_the_worst_rules_first_and_stop_at_20():
    severities = ["low", "unknown", "high", "medium"] * 6
    rules = tuple(Rule(f"r{n}", "fail" if n % 2 else "error", f"Rule {n}", severity)
                  for n, severity in enumerate(severities))
    lines = progress.describe_details(judged(50.0, rules))
    assert lines[0] == "FAIL score 50 < threshold 80: 7 passed, 24 failed, 0 not applicable, 0 error"
    assert lines[1:4] == ["  error: r2 (high) Rule 2", "  error: r6 (high) Rule 6", "  error: r10 (high) Rule 10"]
    shown = [line.split()[2] for line in lines[1:21]]
    assert shown == ["(high)"] * 6 + ["(medium)"] * 6 + ["(low)"] * 6 + ["(unknown)"] * 2
    assert lines[21:] == ["  ... and 4 more (see --json)"]


def test_newly_failing_rules_come_first_and_are_marked():
    rules = (Rule("old-high", "fail", "Old", "high"), Rule("new-low", "fail", "New", "low"))
    outcome = judged(50.0, rules)
    drift = {"previous_scan_id": "s0", "newly_failing": ["new-low"], "newly_passing": ["x"]}
    outcome = Outcome(outcome.job, result=attr.evolve(outcome.result, drift=drift))
    lines = progress.describe_details(outcome)
    assert lines[1:] == ["  since scan s0: 1 newly failing, 1 newly passing",
                         "  NEW fail: new-low (low) New", "  fail: old-high (high) Old"]


def test_exactly_20_failing_rules_need_no_more_line():
    rules = tuple(Rule(f"r{n}", "fail", "", "high") for n in range(20))
    assert len(progress.describe_details(judged(50.0, rules))) == 21


@pytest.mark.parametrize("outcome, has_details", [
    (judged(95.0), False),  # a clean pass: nothing to act on
    (judged(95.0, (Rule("r1", "fail", "One", "low"),)), True),  # passed, but a rule failed
    (judged(50.0), True),  # below the threshold without a failed rule (errors, say)
    (Outcome(JOBS[0], error="unreachable"), False),  # its error line says it all
])
def test_which_targets_get_details(outcome, has_details):
    assert bool(progress.describe_details(outcome)) is has_details


def test_notes_reach_both_displays(monkeypatch):
    monkeypatch.setattr(progress.shutil, "get_terminal_size", lambda fallback: os.terminal_size((60, 4)))
    plain = io.StringIO()
    progress.PlainProgress(plain, clock_at()).note("SIGINT: cancelling")
    assert plain.getvalue() == "2026-01-05T10:00:00Z cemscan SIGINT: cancelling\n"
    live = Terminal()
    display = progress.LiveProgress(live, clock_at())
    display.begin([Job(Target(f"node{n}", 8084), f"case{n}") for n in range(5)])
    display.note("SIGINT: cancelling")
    drawn = live.getvalue().split("\x1b[J")[-2].split("\x1b[2K")[1:]
    assert [line.rstrip("\n") for line in drawn] == [
        drawn[0].rstrip("\n"), "... and 4 more targets, 0 of them finished", "SIGINT: cancelling"]
    display.summary([])
