"""JUnit XML for CI systems: one testcase per target.

Jenkins, GitLab and GitHub reporters all read the same small subset: a
``<failure>`` for a node below its threshold (with the failed rules as its
text, since that is what someone fixes next) and an ``<error>`` for a node
that could not be scanned at all.
"""

import xml.etree.ElementTree as ET
from typing import Sequence

from cemscan.fleet import ERROR, FAIL, Outcome


def junit_xml(outcomes: Sequence[Outcome]) -> bytes:
    """The report as UTF-8 bytes."""
    failures = sum(1 for outcome in outcomes if outcome.verdict == FAIL)
    errors = sum(1 for outcome in outcomes if outcome.verdict == ERROR)
    total_time = sum(_seconds(outcome) for outcome in outcomes)
    counts = {"tests": str(len(outcomes)), "failures": str(failures), "errors": str(errors),
              "skipped": "0", "time": f"{total_time:.3f}"}
    suites = ET.Element("testsuites", counts)
    suite = ET.SubElement(suites, "testsuite", dict(counts, name="cemscan"))
    for outcome in outcomes:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"cemscan.{outcome.job.test_case}",
            "name": str(outcome.job.target),
            "time": f"{_seconds(outcome):.3f}",
        })
        result = outcome.result
        if result is None:
            ET.SubElement(case, "error", {"type": "ScanError", "message": outcome.error or ""}).text = \
                outcome.error
        elif not result.passed:
            failure = ET.SubElement(case, "failure", {
                "type": "BelowThreshold",
                "message": f"score {result.score:g} is below the threshold {result.threshold:g}",
            })
            failure.text = "\n".join(str(rule) for rule in result.failed_rules)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def write_junit(path: str, outcomes: Sequence[Outcome]) -> None:
    with open(path, "wb") as f:
        f.write(junit_xml(outcomes))


def _seconds(outcome: Outcome) -> float:
    if outcome.result is None or outcome.result.duration_s is None:
        return 0.0
    return float(outcome.result.duration_s)
