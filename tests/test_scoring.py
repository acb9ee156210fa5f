"""Counting and scoring rule results."""

from cemscan.arf import RuleResult
from cemscan.scoring import score, summarize


def rules(*results):
    return [RuleResult("r%d" % n, result) for n, result in enumerate(results)]


def test_the_seeds_example():
    assert score(187, 27) == 87.38


def test_nothing_judged_scores_zero():
    assert score(0, 0) == 0.0


def test_every_xccdf_result_lands_in_its_count_and_notselected_is_dropped():
    summary = summarize(rules("pass", "fixed", "fail", "notapplicable", "error", "unknown",
                              "notchecked", "informational", "notselected"))
    assert {k: v for k, v in summary.items() if k.endswith("_count")} == {
        "passed_count": 2, "failed_count": 1, "not_applicable_count": 1, "error_count": 2,
        "notchecked_count": 1, "informational_count": 1}
    assert summary["score"] == 66.67
    assert [r["result"] for r in summary["rules"]] == [
        "pass", "fixed", "fail", "notapplicable", "error", "unknown", "notchecked", "informational"]
    assert summary["rules"][0] == {"id": "r0", "title": None, "severity": "unknown", "result": "pass"}
