"""Many nodes at once: one Outcome each, in order, whatever happens to the others."""

import pytest
from twisted.internet import defer, task

from cemscan.fleet import Job, Outcome, exit_code, scan_all
from cemscan.result import Result
from cemscan.targets import Target
from tests.fake_daemon import FakeDaemon, drive, harness


def outcome(verdict):
    job = Job(Target("n", 1), "case", None, 80.0)
    if verdict == "error":
        return Outcome(job, error="unreachable")
    score = 90.0 if verdict == "pass" else 10.0
    return Outcome(job, result=Result(test_case="case", scanner="openscap", profile="p",
                                      threshold=80.0, score=score))


@pytest.mark.parametrize("verdicts, code", [
    (["pass", "pass"], 0), (["pass", "fail"], 1), (["fail", "error", "pass"], 2), ([], 0),
])
def test_exit_code_is_the_worst_verdict(verdicts, code):
    assert exit_code([outcome(v) for v in verdicts]) == code


def test_outcome_dicts_carry_target_and_verdict():
    passed = outcome("pass").to_dict()
    assert (passed["target"], passed["test_case"], passed["score"], passed["passed"], passed["error"]) == (
        "n:1", "case", 90.0, True, None)
    failed = outcome("error").to_dict()
    assert failed == {"target": "n:1", "test_case": "case", "profile": None, "threshold": 80.0,
                      "passed": False, "error": "unreachable"}


def test_scan_all_reports_every_node_in_job_order():
    clock = task.Clock()
    nodes = {
        "good": harness(FakeDaemon(score=95.0), clock, host="good"),
        "low": harness(FakeDaemon(score=40.0), clock, host="low"),
        "down": harness(FakeDaemon(), clock, host="down", ready_timeout=5),
    }
    nodes["down"].network.fail("/health", *["refused"] * 10)
    jobs = [Job(Target(name, 8084), name, None, 80.0) for name in nodes]
    ended = []
    outcomes = drive(clock, scan_all(jobs, lambda job: nodes[job.test_case].client,
                                     lambda o: ended.append((o.job.test_case, clock.seconds()))))
    assert [o.verdict for o in outcomes] == ["pass", "fail", "error"]
    assert "was not ready within 5s" in outcomes[2].error
    assert ended == [("down", 5), ("good", 10), ("low", 10)]  # concurrently, not one after another


def test_a_bug_is_not_swallowed_as_an_outcome():
    class Broken:
        def wait_until_ready(self):
            return defer.fail(TypeError("bug"))

    d = scan_all([Job(Target("n", 1), "case")], lambda job: Broken(), lambda o: None)
    with pytest.raises(defer.FirstError) as caught:
        drive(task.Clock(), d)
    assert caught.value.subFailure.check(TypeError)
