"""What the test benchmark (tests/content/) gives on any Linux host, per profile.

Observed with oscap 1.3.7; see tests/content/EXPECTED.md for how each result
comes about.
"""

PREFIX = "xccdf_io.cemscan.test_rule_"
TEST_PROFILE = "xccdf_io.cemscan.test_profile_test"
ALT_PROFILE = "xccdf_io.cemscan.test_profile_alt"

TEST = {
    PREFIX + "pass_passwd_exists": ("PASS: /etc/passwd exists", "high", "pass"),
    PREFIX + "pass_root_is_directory": ("PASS: / is a directory", "medium", "pass"),
    PREFIX + "pass_passwd_has_root": ("PASS: /etc/passwd has a root entry", "low", "pass"),
    PREFIX + "fail_never_present_file": ("FAIL: /nonexistent/cemscan-test-never-present exists", "high", "fail"),
    PREFIX + "fail_passwd_has_never_user": (
        "FAIL: /etc/passwd has an entry for cemscan-never-such-user", "medium", "fail"),
    PREFIX + "notapplicable_never_platform": (
        "NOTAPPLICABLE: rule for a platform that never matches", "low", "notapplicable"),
    PREFIX + "notchecked_missing_oval": (
        "NOTCHECKED: rule whose OVAL definition does not exist", "medium", "notchecked"),
}
ALT = {rule: TEST[rule] for rule in (
    PREFIX + "pass_passwd_exists", PREFIX + "pass_root_is_directory", PREFIX + "fail_never_present_file")}


def as_rules(expected: dict) -> dict:
    """The expected rules keyed by id, as the result's ``rules`` entries."""
    return {rule: {"id": rule, "title": t, "severity": s, "result": r} for rule, (t, s, r) in expected.items()}
