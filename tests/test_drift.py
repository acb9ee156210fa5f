"""Drift between two scans of a profile."""

from cemscan.drift import compare


def rules(**results):
    return [{"id": rule, "result": result} for rule, result in results.items()]


def test_first_scan_has_no_drift():
    assert compare(None, rules(a="pass")) is None


def test_what_moved():
    previous = {"scan_id": "s1", "rules": rules(a="pass", b="fail", c="fail", d="notapplicable", gone="pass")}
    now = rules(a="fail", b="pass", c="fail", d="fail", new="fail")
    assert compare(previous, now) == {
        "previous_scan_id": "s1",
        "newly_failing": ["a", "d"],
        "newly_passing": ["b"],
        "appeared": ["new"],
        "disappeared": ["gone"],
    }


def test_nothing_moved():
    previous = {"scan_id": "s1", "rules": rules(a="pass", b="fail")}
    assert compare(previous, rules(a="pass", b="fail")) == {
        "previous_scan_id": "s1", "newly_failing": [], "newly_passing": [], "appeared": [], "disappeared": []}
