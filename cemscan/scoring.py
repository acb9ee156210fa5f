"""Counting rule results and the score, as the seed's clients expect them.

The seed's example (87.4 for 187 passed and 27 failed) implies
``score = 100 * passed / (passed + failed)``: not-applicable, errors and
unchecked rules neither help nor hurt.  Rules a profile did not select are
not part of the scan at all, so they are dropped before anything is counted.
"""

from typing import Dict, Iterable, List

from cemscan.arf import RuleResult

#: XCCDF result -> the count it feeds; ``notselected`` feeds none.
COUNTED = {
    "pass": "passed_count",
    "fixed": "passed_count",
    "fail": "failed_count",
    "notapplicable": "not_applicable_count",
    "error": "error_count",
    "unknown": "error_count",
    "notchecked": "notchecked_count",
    "informational": "informational_count",
}
COUNT_KEYS = ("passed_count", "failed_count", "not_applicable_count", "error_count",
              "notchecked_count", "informational_count")


def selected(rules: Iterable[RuleResult]) -> List[RuleResult]:
    """The rules that took part in the scan (everything but ``notselected``)."""
    return [r for r in rules if r.result in COUNTED]


def summarize(rules: Iterable[RuleResult]) -> Dict[str, object]:
    """Counts, score and rule list for the selected rules."""
    kept = selected(rules)
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for rule in kept:
        counts[COUNTED[rule.result]] += 1
    return dict(
        score=score(counts["passed_count"], counts["failed_count"]),
        **counts,
        rules=[r.to_dict() for r in kept],
    )


def score(passed: int, failed: int) -> float:
    """100 x passed / (passed + failed), 2 places; 0 when nothing was judged."""
    judged = passed + failed
    return round(100.0 * passed / judged, 2) if judged else 0.0
