"""Result: the one place the daemon's result body is checked and judged."""

import json

import attr
import pytest

from cemscan.errors import ScannerInvocationError
from cemscan.result import Result, Rule

BODY = {
    "scan_id": "20260105T100000Z", "score": 87.4, "passed_count": 187, "failed_count": 27,
    "not_applicable_count": 14, "error_count": 0, "notchecked_count": 2, "informational_count": 1,
    "rules": [{"id": "r1", "title": "One", "severity": "high", "result": "fail"},
              {"id": "r2", "title": "Two", "severity": "low", "result": "pass"},
              {"id": "r3", "result": "error"}],
    "native_score": 81.2, "scanner": "openscap", "profile": "xccdf_p", "content": "/c/ds.xml",
    "started_at": "2026-01-05T10:00:00Z", "finished_at": "2026-01-05T10:20:00Z", "duration_s": 1200.5,
}


def build(body=BODY, **kwargs):
    kwargs.setdefault("test_case", "cis")
    return Result.from_body(body, **kwargs)


def test_from_body_keeps_every_field():
    result = build(threshold=85)
    assert (result.test_case, result.scanner, result.profile, result.threshold) == (
        "cis", "openscap", "xccdf_p", 85.0)
    assert (result.score, result.passed_count, result.failed_count, result.not_applicable_count,
            result.error_count, result.notchecked_count, result.informational_count) == (
        87.4, 187, 27, 14, 0, 2, 1)
    assert result.rules[0] == Rule(id="r1", title="One", severity="high", result="fail")
    assert result.rules[2] == Rule(id="r3", result="error", title="", severity="unknown")
    assert (str(result.rules[0]), str(result.rules[2])) == ("fail: r1 (high) One", "error: r3 (unknown)")
    assert [rule.id for rule in result.failed_rules] == ["r1", "r3"]
    assert (result.scan_id, result.native_score, result.duration_s) == ("20260105T100000Z", 81.2, 1200.5)


def test_callers_scanner_and_profile_win_over_the_body():
    result = build(scanner="ciscat", profile="xccdf_mine")
    assert (result.scanner, result.profile) == ("ciscat", "xccdf_mine")


@pytest.mark.parametrize("threshold, passed", [(87.4, True), (87.5, False), (0, True)])
def test_passed_means_score_at_least_threshold(threshold, passed):
    assert build(threshold=threshold).passed is passed


def test_result_is_frozen():
    with pytest.raises(attr.exceptions.FrozenInstanceError):
        build().score = 100


def test_to_dict_is_json_with_the_verdict():
    data = build(threshold=90).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["passed"] is False and data["score"] == 87.4 and data["threshold"] == 90.0
    assert data["rules"][0] == {"id": "r1", "title": "One", "severity": "high", "result": "fail"}
    assert {"passed_count", "failed_count", "not_applicable_count", "error_count"} <= set(data)


def test_error_body_raises_with_the_daemons_message():
    body = {"error": "oscap failed: no such profile", "exit_code": 1, "signal": None,
            "stderr": "first\nOpenSCAP Error: profile not found\n", "scan_id": "s"}
    with pytest.raises(ScannerInvocationError) as caught:
        build(body)
    assert str(caught.value) == ("oscap failed: no such profile (scanner exit code 1); "
                                 "scanner stderr ends: OpenSCAP Error: profile not found")
    assert caught.value.body is body


def test_error_body_names_a_killing_signal():
    with pytest.raises(ScannerInvocationError, match="scan timed out .*killed by signal 9"):
        build({"error": "scan timed out", "exit_code": None, "signal": 9, "stderr": ""})


@pytest.mark.parametrize("body, words", [
    ([1, 2], "not a JSON object but list"),
    ({"rules": []}, "no numeric 'score'"),
    (dict(BODY, score=True), "no numeric 'score'"),
    (dict(BODY, score="87"), "no numeric 'score'"),
    (dict(BODY, failed_count=-1), "'failed_count' must be a count"),
    (dict(BODY, passed_count=1.5), "'passed_count' must be a count"),
    (dict(BODY, rules={"r1": "pass"}), "'rules' must be a list"),
    (dict(BODY, rules=[{"title": "no id"}]), "rule without string 'id' and 'result'"),
    (dict(BODY, scan_id=7), "'scan_id' has the wrong type"),
    (dict(BODY, drift=["r1"]), "'drift' has the wrong type"),
])
def test_malformed_bodies_are_refused(body, words):
    with pytest.raises(ScannerInvocationError, match=words):
        build(body)


def test_drift_is_kept_and_names_the_newly_failing():
    drift = {"previous_scan_id": "s0", "newly_failing": ["r2"], "newly_passing": [], "appeared": [],
             "disappeared": []}
    result = build(dict(BODY, drift=drift))
    assert result.drift == drift and result.newly_failing == ("r2",)
    assert result.to_dict()["drift"] == drift
    assert build(BODY).newly_failing == ()
