"""The JUnit report, read back as a CI system reads it."""

import xml.etree.ElementTree as ET

from cemscan.fleet import Job, Outcome
from cemscan.junit import junit_xml, write_junit
from cemscan.result import Result, Rule
from cemscan.targets import Target


def result(score, duration=2.5):
    return Result(test_case="cis", scanner="openscap", profile="p", threshold=80.0, score=score,
                  duration_s=duration,
                  rules=(Rule("r_root", "fail", "No root login", "high"), Rule("r_ok", "pass"),
                         Rule("r_audit", "error", "auditd & <rules>", "low")))


OUTCOMES = [
    Outcome(Job(Target("good", 8084), "cis"), result=result(90.0)),
    Outcome(Job(Target("low", 8084), "cis"), result=result(50.0, duration=1.0)),
    Outcome(Job(Target("down", 9000), "stig"), error="Scan daemon at down:9000 was not ready within 60s"),
]


def test_one_testcase_per_target_with_failures_and_errors(tmp_path):
    path = tmp_path / "report.xml"
    write_junit(str(path), OUTCOMES)
    root = ET.parse(str(path)).getroot()
    suite = root.find("testsuite")
    assert root.tag == "testsuites"
    assert {key: suite.get(key) for key in ("name", "tests", "failures", "errors", "time")} == {
        "name": "cemscan", "tests": "3", "failures": "1", "errors": "1", "time": "3.500"}
    good, low, down = suite.findall("testcase")
    assert (good.get("name"), good.get("classname"), good.get("time"), list(good)) == (
        "good:8084", "cemscan.cis", "2.500", [])
    failure = low.find("failure")
    assert failure.get("message") == "score 50 is below the threshold 80"
    assert failure.text.splitlines() == ["fail: r_root (high) No root login",
                                         "error: r_audit (low) auditd & <rules>"]
    error = down.find("error")
    assert (down.get("classname"), error.get("message")) == (
        "cemscan.stig", "Scan daemon at down:9000 was not ready within 60s")


def test_report_is_utf8_xml():
    assert junit_xml([]).startswith(b"<?xml version='1.0' encoding='utf-8'?>")
