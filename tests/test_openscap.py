"""OpenSCAP specifics: progress lines and what its exit codes mean."""

import signal

import pytest

from cemscan.openscap import OpenSCAP
from cemscan.process import ProcessOutcome


@pytest.mark.parametrize("line, parsed", [
    ("xccdf_org.ssgproject.content_rule_partition_for_home:notapplicable",
     ("xccdf_org.ssgproject.content_rule_partition_for_home", "notapplicable")),
    ("xccdf_io.cemscan_rule_x:pass", ("xccdf_io.cemscan_rule_x", "pass")),
    ("Title\tEnsure something", None),
    ("WARNING: Skipping ...: not found", None),
    ("", None),
])
def test_progress_lines(line, parsed):
    assert OpenSCAP.parse_progress(line) == parsed


@pytest.mark.parametrize("outcome, message", [
    (ProcessOutcome(0, None, ""), None),
    (ProcessOutcome(2, None, ""), None),
    (ProcessOutcome(1, None, ""), "oscap failed with exit code 1 (an error: see stderr)"),
    (ProcessOutcome(127, None, ""), "oscap ended with unexpected exit code 127"),
    (ProcessOutcome(None, signal.SIGKILL, ""), "oscap was killed by signal 9"),
    (ProcessOutcome(None, signal.SIGTERM, "", "timed out after 5s"), "scan timed out after 5s"),
    (ProcessOutcome(2, None, "", "cancelled"), "scan cancelled"),
])
def test_failure_in_words(outcome, message):
    assert OpenSCAP.failure(outcome) == message


def test_missing_lists_binary_and_content(tmp_path):
    scanner = OpenSCAP(str(tmp_path / "oscap"), str(tmp_path / "ds.xml"))
    assert scanner.missing() == ["scanner binary %s" % scanner.binary, "content %s" % scanner.content]
