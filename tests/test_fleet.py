"""Many nodes at once: one Outcome each, in order, whatever happens to the others."""

import pytest
from twisted.internet import defer, task

from cemscan.fleet import FleetScan, Interruption, Job, Outcome, exit_code
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


def test_fleet_scan_reports_every_node_in_job_order():
    clock = task.Clock()
    nodes = {
        "good": harness(FakeDaemon(score=95.0), clock, host="good"),
        "low": harness(FakeDaemon(score=40.0), clock, host="low"),
        "down": harness(FakeDaemon(), clock, host="down", ready_timeout=5),
    }
    nodes["down"].network.fail("/health", *["refused"] * 10)
    jobs = [Job(Target(name, 8084), name, None, 80.0) for name in nodes]
    ended = []
    scans = FleetScan(jobs, lambda job: nodes[job.test_case].client,
                      lambda o: ended.append((o.job.test_case, clock.seconds())))
    outcomes = drive(clock, scans.outcomes)
    assert [o.verdict for o in outcomes] == ["pass", "fail", "error"]
    assert "was not ready within 5s" in outcomes[2].error
    assert ended == [("down", 5), ("good", 10), ("low", 10)]  # concurrently, not one after another


def test_a_bug_is_not_swallowed_as_an_outcome():
    class Broken:
        def wait_until_ready(self):
            return defer.fail(TypeError("bug"))

    scans = FleetScan([Job(Target("n", 1), "case")], lambda job: Broken(), lambda o: None)
    with pytest.raises(defer.FirstError) as caught:
        drive(task.Clock(), scans.outcomes)
    assert caught.value.subFailure.check(TypeError)


# Interrupts ----------------------------------------------------------------------------------

def interrupted_fleet(cancel_on_interrupt):
    """Three nodes on one clock: one scanned already, one scanning, one still waiting to be ready."""
    clock = task.Clock()
    nodes = {
        "done": harness(FakeDaemon(polls_to_finish=1), clock, host="done"),
        "busy": harness(FakeDaemon(polls_to_finish=10 ** 6), clock, host="busy"),
        "booting": harness(FakeDaemon(), clock, host="booting"),
    }
    nodes["booting"].network.fail("/health", *["refused"] * 100)
    jobs = [Job(Target(name, 8084, tls=name == "busy"), name) for name in nodes]
    scans = FleetScan(jobs, lambda job: nodes[job.test_case].client, lambda o: None, cancel_on_interrupt)
    clock.advance(5)
    assert scans.running
    scans.interrupt("SIGINT")
    return nodes, scans, drive(clock, scans.outcomes)


def test_an_interrupt_cancels_the_scans_started_when_asked():
    nodes, scans, outcomes = interrupted_fleet(cancel_on_interrupt=True)
    assert outcomes[0].result is not None and outcomes[0].error is None  # it had ended: kept
    assert outcomes[1].error == "interrupted (SIGINT); scan scan-1 cancelled on the node"
    assert outcomes[2].error == "interrupted (SIGINT); no scan of ours is running on the node"
    assert nodes["busy"].daemon.state == "error" and nodes["booting"].daemon.requests == []
    assert exit_code(outcomes) == 2 and not scans.running
    assert scans.interruption == Interruption("SIGINT", cancelled=1)
    assert scans.interruption.describe() == "interrupted by SIGINT: 1 scan cancelled on the nodes"


def test_an_interrupt_leaves_the_scans_running_by_default():
    nodes, scans, outcomes = interrupted_fleet(cancel_on_interrupt=False)
    assert outcomes[1].error == ("interrupted (SIGINT); the scan keeps running on the node: "
                                 "cemscan cancel https://busy:8084 stops it")
    assert nodes["busy"].daemon.state == "running"
    assert ("DELETE", "/scan", b"") not in nodes["busy"].daemon.requests
    assert scans.interruption.describe() == (
        "interrupted by SIGINT: scans keep running on the nodes; cemscan cancel TARGET to stop them")


def test_a_cancel_that_fails_says_so_and_only_the_first_interrupt_counts():
    clock = task.Clock()
    node = harness(FakeDaemon(polls_to_finish=10 ** 6), clock, host="busy")
    scans = FleetScan([Job(Target("busy", 8084), "busy")], lambda job: node.client, lambda o: None, True)
    clock.advance(5)
    node.network.fail("/scan", "refused")
    scans.interrupt("SIGTERM")
    scans.interrupt("SIGINT")
    [outcome] = drive(clock, scans.outcomes)
    assert outcome.error.startswith("interrupted (SIGTERM); cancelling its scan failed: Cannot send "
                                    "DELETE /scan to scan daemon at busy:8084: Connection was refused")
    assert scans.interruption.describe() == (
        "interrupted by SIGTERM: 1 scan could not be cancelled (see each target); cemscan cancel TARGET "
        "to stop them")


def test_an_interrupt_after_the_end_changes_nothing():
    clock = task.Clock()
    node = harness(FakeDaemon(), clock)
    scans = FleetScan([Job(Target("node1", 8084), "cis")], lambda job: node.client, lambda o: None, True)
    [outcome] = drive(clock, scans.outcomes)
    scans.interrupt("SIGINT")
    assert scans.interruption is None and not scans.running and outcome.result is not None
