"""CIS-CAT Pro Assessor v4: command line, console progress, exit codes, results.

CIS-CAT is proprietary, so the runs here use tests/ciscat/Assessor-CLI.sh, a
fake built from CIS's published user guide and real console transcripts
(docs/ciscat.md).  The console lines in the progress tests are copied from
transcripts of real CIS-CAT runs.
"""

import os
import signal
import subprocess
import sys

import pytest
import pytest_twisted
from twisted.internet import defer

from cemscan import ciscat, scoring
from cemscan.arf import parse_arf
from cemscan.ciscat import CISCAT
from cemscan.content import load_content
from cemscan.process import DEFAULT_PATH, ProcessOutcome, ScannerProcess, scanner_environment
from cemscan.state import ScanManager, State

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "ciscat", "Assessor-CLI.sh")
BENCHMARK = os.path.join(HERE, "ciscat", "CIS_Cemscan_Test_Linux_Benchmark_v1.0.0-xccdf.xml")
L1 = "xccdf_org.cisecurity.benchmarks_profile_Level_1_-_Server"
L2 = "xccdf_org.cisecurity.benchmarks_profile_Level_2_-_Server"
RULE = "xccdf_org.cisecurity.benchmarks_rule_"

#: What the fake's RESULTS give for each profile of the test benchmark.
EXPECTED = {
    L1: dict(score=55.56, passed_count=5, failed_count=4, not_applicable_count=1, error_count=1,
             notchecked_count=1, informational_count=1),
    L2: dict(score=63.64, passed_count=7, failed_count=4, not_applicable_count=1, error_count=2,
             notchecked_count=1, informational_count=1),
}
#: CIS-CAT's own score, passed / (passed + failed + error + unknown), as its console prints it.
EXPECTED_CISCAT_SCORE = {L1: 50.0, L2: 53.85}


def small_env() -> dict:
    """The environment the daemon gives a scanner when its own says nothing."""
    return scanner_environment({})


def run_fake(scan_dir, profile=L1, *extra):
    """Run the fake as the daemon would (argv from CISCAT, small env); (rc, stdout lines)."""
    argv = CISCAT(FAKE, BENCHMARK).argv(profile, str(scan_dir)) + list(extra)
    done = subprocess.run(argv, env=small_env(), cwd=str(scan_dir), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)
    return done.returncode, done.stdout.decode().splitlines()


# -- the command line ------------------------------------------------------


def test_argv_is_the_documented_command_line_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scanner = CISCAT("/opt/Assessor/Assessor-CLI.sh", "benchmarks/CIS_X-xccdf.xml")
    assert scanner.argv(L1, "scans/1") == [
        "/opt/Assessor/Assessor-CLI.sh",
        "-b", str(tmp_path / "benchmarks" / "CIS_X-xccdf.xml"),
        "-p", L1,
        "-rd", str(tmp_path / "scans" / "1"),
        "-rp", "ciscat-results", "-nts", "-json",
    ]


def test_reports_are_named_after_the_prefix_without_timestamp():
    scanner = CISCAT("/a/Assessor-CLI.sh", "/b.xml")
    assert scanner.arf_path("/scan") == "/scan/ciscat-results-ARF.xml"
    assert scanner.json_path("/scan") == "/scan/ciscat-results.json"
    assert CISCAT("/a", "/b", report_prefix="x").arf_path("/s") == "/s/x-ARF.xml"
    assert CISCAT.name == "ciscat"


def test_a_relative_benchmark_is_resolved_by_cis_cat_against_its_own_folder(tmp_path):
    # Why argv() makes paths absolute: CIS-CAT (and the fake) read a relative
    # -b from the folder of Assessor-CLI.jar, not from the working directory.
    os.symlink(BENCHMARK, str(tmp_path / "bench.xml"))
    done = subprocess.run([FAKE, "-b", "bench.xml", "-p", L1, "-rd", str(tmp_path), "-nts"],
                          env=small_env(), cwd=str(tmp_path), stdout=subprocess.PIPE, timeout=60)
    assert done.returncode == 108
    assert ("Unable to find Benchmark content: %s/bench.xml" % os.path.dirname(FAKE)).encode() in done.stdout


# -- what it needs ---------------------------------------------------------


def executable(path, text="#!/bin/sh\nexit 0\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def bundle(tmp_path):
    """An Assessor folder with its script and a benchmark, no JRE; an empty PATH folder."""
    (tmp_path / "empty").mkdir()
    return dict(assessor=executable(tmp_path / "Assessor" / "Assessor-CLI.sh"),
                benchmark=executable(tmp_path / "Assessor" / "benchmarks" / "b-xccdf.xml", "<x/>"),
                environ={"PATH": str(tmp_path / "empty")}, root=tmp_path)


def test_missing_names_script_and_benchmark(tmp_path):
    scanner = CISCAT(str(tmp_path / "Assessor-CLI.sh"), str(tmp_path / "b.xml"), environ={})
    assert scanner.missing() == [
        "CIS-CAT assessor script %s (not an executable file)" % scanner.assessor,
        "CIS-CAT benchmark %s" % scanner.benchmark,
    ]


def test_missing_a_script_that_is_not_executable(bundle):
    os.chmod(bundle["assessor"], 0o644)
    scanner = CISCAT(bundle["assessor"], bundle["benchmark"], environ=bundle["environ"])
    assert scanner.missing() == ["CIS-CAT assessor script %s (not an executable file)" % bundle["assessor"]]


def test_missing_java_when_no_jre_folder_and_none_on_path(bundle):
    scanner = CISCAT(bundle["assessor"], bundle["benchmark"], environ=bundle["environ"])
    assert scanner.missing() == ["java (JRE 8-21) for CIS-CAT"]


def test_the_bundled_jre_is_enough(bundle):
    executable(bundle["root"] / "Assessor" / "jre" / "bin" / "java")
    assert CISCAT(bundle["assessor"], bundle["benchmark"], environ=bundle["environ"]).missing() == []


def test_the_bundled_jre_is_found_through_a_symlinked_script(bundle):
    executable(bundle["root"] / "Assessor" / "jre" / "bin" / "java")
    link = bundle["root"] / "bin" / "Assessor-CLI.sh"
    link.parent.mkdir()
    os.symlink(bundle["assessor"], str(link))
    assert CISCAT(str(link), bundle["benchmark"], environ=bundle["environ"]).missing() == []


def test_java_on_the_scanners_path_is_enough(bundle):
    java_bin = bundle["root"] / "jdk" / "bin"
    executable(java_bin / "java")
    scanner = CISCAT(bundle["assessor"], bundle["benchmark"], environ={"PATH": str(java_bin)})
    assert scanner.missing() == []


def test_java_home_is_passed_on_and_put_first_on_path(bundle):
    # Assessor-CLI.sh never reads JAVA_HOME: only PATH makes it find that java.
    java_home = bundle["root"] / "jdk"
    executable(java_home / "bin" / "java")
    environ = dict(bundle["environ"], JAVA_HOME=str(java_home), SECRET="x")
    scanner = CISCAT(bundle["assessor"], bundle["benchmark"], environ=environ)
    assert scanner.missing() == []
    env = scanner.environment()
    assert env["JAVA_HOME"] == str(java_home)
    assert env["PATH"] == "%s:%s" % (java_home / "bin", bundle["environ"]["PATH"])
    assert "SECRET" not in env


def test_environment_is_the_usual_one_without_a_usable_java_home(tmp_path):
    scanner = CISCAT("/a", "/b", environ={})
    parent = {"PATH": "/x", "JAVA_HOME": str(tmp_path / "nowhere"), "TMPDIR": "/t"}
    assert scanner.environment(parent) == scanner_environment(parent)
    assert scanner.environment() == {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", "HOME": "/"}


# -- progress --------------------------------------------------------------


@pytest.mark.parametrize("line, parsed", [
    # Lines from transcripts of real CIS-CAT Pro Assessor v4 runs (v4.3.1 and later).
    ("01/285: Ensure mounting of cramfs filesystems is disabled........................................... Pass",
     ("Ensure mounting of cramfs filesystems is disabled", "pass")),
    ("08/285: Ensure /tmp is a separate partition......................................................... Fail",
     ("Ensure /tmp is a separate partition", "fail")),
    ("229/241: Ensure users' home directories permissions are 750 or more restrictive..................... Fail",
     ("Ensure users' home directories permissions are 750 or more restrictive", "fail")),
    ("100/285: Ensure  RPC is not installed............................................................... Pass",
     ("Ensure  RPC is not installed", "pass")),
    ("37/285: Ensure updates, patches, and additional security software are installed..................... Not Checked",
     ("Ensure updates, patches, and additional security software are installed", "notchecked")),
    ("69/285: Ensure chrony is configured with authorized timeserver...................................... Informational",
     ("Ensure chrony is configured with authorized timeserver", "informational")),
    # Results the transcripts summarise but do not show on a rule line.
    ("12/16: Ensure permissions on /etc/ssh/sshd_config are configured.................................... Error",
     ("Ensure permissions on /etc/ssh/sshd_config are configured", "error")),
    ("14/16: Ensure no unowned files or directories exist................................................. Unknown",
     ("Ensure no unowned files or directories exist", "unknown")),
    ("06/16: Ensure GDM login banner is configured........................................................ Not Applicable",
     ("Ensure GDM login banner is configured", "notapplicable")),
    # Dots inside a title stay; a title too long for dots is followed by one space.
    ("03/09: Ensure sshd_config.d files are configured........................................ Pass",
     ("Ensure sshd_config.d files are configured", "pass")),
    ("04/09: Ensure 'Network security: Minimum session security for NTLM SSP based (including secure RPC) "
     "servers' is set to 'Require NTLMv2 session security, Require 128-bit encryption' Fail",
     ("Ensure 'Network security: Minimum session security for NTLM SSP based (including secure RPC) "
      "servers' is set to 'Require NTLMv2 session security, Require 128-bit encryption'", "fail")),
])
def test_rule_lines_are_progress(line, parsed):
    assert CISCAT.parse_progress(line) == parsed


@pytest.mark.parametrize("line", [
    # A rule outside the profile is listed, but not evaluated.
    "06/285: Ensure mounting of squashfs filesystems is disabled......................................... Not Selected",
    "- Resolving Values.................................................................................. <1 second: Done",
    "- Evaluating Checklist Rules",
    "Started Assessment 1/1",
    "Finished Assessment 1/1",
    "           Total Pass: 103",
    "                Total: 57.22%",
    "Selected Profile 'Level 1 - Server'",
    "Exiting; Exit Code: 0",
    "Exit Description: CIS-CAT Pro Assessor Exited Successfully.",
    "01/285: Ensure mounting of cramfs filesystems is disabled.......... Passed",
    "",
])
def test_other_console_lines_are_not_progress(line):
    assert CISCAT.parse_progress(line) is None


# -- exit codes ------------------------------------------------------------


@pytest.mark.parametrize("outcome, message", [
    (ProcessOutcome(0, None, ""), None),
    (ProcessOutcome(1, None, ""), "CIS-CAT exited unsuccessfully (exit code 1: an error, or Assessor-CLI.sh "
                                  "found no usable java; see stdout.log and stderr)"),
    (ProcessOutcome(108, None, ""), "CIS-CAT stopped before completing the assessment (exit code 108): "
                                    "could not find the Benchmark content"),
    (ProcessOutcome(111, None, ""), "CIS-CAT stopped before completing the assessment (exit code 111): "
                                    "invalid profile"),
    (ProcessOutcome(116, None, ""), "CIS-CAT stopped before completing the assessment (exit code 116): "
                                    "not running with elevated privileges (a local assessment must run as root)"),
    (ProcessOutcome(244, None, ""), "CIS-CAT stopped before completing the assessment (exit code 244): "
                                    "an XML file failed XML Schema validation (exit code 500, seen as 244)"),
    (ProcessOutcome(88, None, ""), "CIS-CAT stopped before completing the assessment (exit code 88): "
                                   "the OVAL definitions failed Schematron validation (exit code 600, seen as 88)"),
    (ProcessOutcome(2, None, ""), "CIS-CAT ended with unexpected exit code 2"),
    (ProcessOutcome(None, signal.SIGKILL, ""), "CIS-CAT was killed by signal 9"),
    (ProcessOutcome(None, signal.SIGTERM, "", "timed out after 5s"), "scan timed out after 5s"),
    (ProcessOutcome(0, None, "", "cancelled by request"), "scan cancelled by request"),
])
def test_failure_in_words(outcome, message):
    assert CISCAT.failure(outcome) == message


def test_every_documented_exit_code_but_0_is_a_failure():
    for code in ciscat.EXIT_CODES:
        status = code & 0xFF  # what a process exit status can carry
        assert (CISCAT.failure(ProcessOutcome(status, None, "")) is None) == (code == 0), code
        assert ciscat.describe_exit_code(status) is not None


# -- scoring ---------------------------------------------------------------


def test_ciscat_score_counts_errors_and_unknowns_as_scored():
    summary = dict(passed_count=103, failed_count=76, error_count=1)  # a real run: "Total: 57.22%"
    assert ciscat.score(summary) == 57.22
    assert scoring.score(103, 76) == 57.54
    assert ciscat.score(dict(passed_count=121, failed_count=85, error_count=0)) == 58.74 == scoring.score(121, 85)
    assert ciscat.score(dict(passed_count=0, failed_count=0, error_count=0)) == 0.0


# -- the fake's outputs through the real parser ----------------------------


def test_the_test_benchmark_reads_like_cis_content():
    content = load_content(BENCHMARK)
    assert {p.id: (p.title, p.rule_count) for p in content.profiles.values()} == {
        L1: ("Level 1 - Server", 13), L2: ("Level 2 - Server", 16)}


@pytest.mark.parametrize("profile", [L1, L2])
def test_fake_arf_parses_to_the_expected_counts_and_score(tmp_path, profile):
    rc, lines = run_fake(tmp_path, profile)
    assert rc == 0, lines
    assert sorted(os.listdir(str(tmp_path))) == ["ciscat-results-ARF.xml", "ciscat-results.json"]
    parsed = parse_arf(CISCAT(FAKE, BENCHMARK).arf_path(str(tmp_path)))
    assert parsed.profile == profile
    assert parsed.id.startswith("xccdf_org.cisecurity.benchmarks_testresult_")
    assert len(parsed.rules) == 16  # every rule of the benchmark, notselected ones too
    summary = scoring.summarize(parsed.rules)
    assert {k: v for k, v in summary.items() if k != "rules"} == EXPECTED[profile]
    assert ciscat.score(summary) == EXPECTED_CISCAT_SCORE[profile]
    # The rules of the profile, no more: what the content promised as "rules total".
    assert len(summary["rules"]) == load_content(BENCHMARK).profiles[profile].rule_count
    # Titles come from the benchmark copy inside the ARF.
    first = summary["rules"][0]
    assert first == {"id": RULE + "1.1.1_Ensure_mounting_of_cramfs_filesystems_is_disabled",
                     "title": "Ensure mounting of cramfs filesystems is disabled",
                     "severity": "unknown", "result": "pass"}
    assert {r["title"] for r in summary["rules"]} >= {
        "Ensure users' home directories permissions are 750 or more restrictive"}
    # The console said the same, rule by rule, and in its summary.
    progress = [p for p in map(CISCAT.parse_progress, lines) if p is not None]
    assert [(r["title"], r["result"]) for r in summary["rules"]] == progress
    assert "                Total: %.2f%%" % EXPECTED_CISCAT_SCORE[profile] in lines


def test_the_default_model_score_is_read_and_the_flat_one_ignored(tmp_path):
    # The fake writes urn:xccdf:scoring:flat (CIS-CAT's console "Score Earned /
    # Maximum Available") first, then urn:xccdf:scoring:default.
    assert run_fake(tmp_path, L2)[0] == 0
    parsed = parse_arf(str(tmp_path / "ciscat-results-ARF.xml"))
    assert (parsed.native_score, parsed.native_score_max) == (50.0, 100.0)


def test_with_only_a_flat_score_there_is_no_native_score(tmp_path):
    # What cemscan.arf does today if CIS-CAT writes no default-model score.
    assert run_fake(tmp_path, L1, "-D", "fake.score.systems=flat")[0] == 0
    parsed = parse_arf(str(tmp_path / "ciscat-results-ARF.xml"))
    assert parsed.native_score is None
    assert scoring.summarize(parsed.rules)["score"] == EXPECTED[L1]["score"]


def test_fake_json_report(tmp_path):
    import json

    assert run_fake(tmp_path, L1)[0] == 0
    with open(CISCAT(FAKE, BENCHMARK).json_path(str(tmp_path))) as f:
        report = json.load(f)
    assert report["profile-id"] == L1 and report["profile-title"] == "Level 1 - Server"
    assert report["score"] == "50.00"
    assert len(report["rules"]) == 16
    assert report["rules"][15] == {
        "rule-id": RULE + "6.2.2_Ensure_users_home_directories_permissions_are_750_or_more_restrictive",
        "rule-title": "Ensure users' home directories permissions are 750 or more restrictive",
        "result": "fail"}


@pytest.mark.parametrize("extra, exit_code", [
    (("-D", "fake.exit.code=116"), 116),
    (("-D", "fake.exit.code=500"), 244),
    (("-D", "fake.exit.code=1", "-D", "fake.stop.after=3"), 1),
])
def test_fake_stops_without_reports(tmp_path, extra, exit_code):
    rc, lines = run_fake(tmp_path, L1, *extra)
    assert rc == exit_code
    assert os.listdir(str(tmp_path)) == []
    assert CISCAT.failure(ProcessOutcome(rc, None, "")) is not None


def test_fake_rejects_an_unknown_profile(tmp_path):
    rc, lines = run_fake(tmp_path, "xccdf_org.cisecurity.benchmarks_profile_Level_3")
    assert rc == 111 and lines[-1] == "Exiting; Exit Code: 111"


# -- end to end, on the real reactor --------------------------------------


def supervised(scan_dir, profile=L1, *extra):
    from twisted.internet import reactor

    scanner = CISCAT(FAKE, BENCHMARK, environ={})
    lines = []
    proc = ScannerProcess(reactor=reactor, argv=scanner.argv(profile, str(scan_dir)) + list(extra),
                          env=scanner.environment(), workdir=str(scan_dir), on_line=lines.append,
                          timeout=60, kill_grace=1)
    return scanner, proc, lines


@pytest_twisted.inlineCallbacks
def test_real_run_through_scanner_process(tmp_path):
    scanner, proc, lines = supervised(tmp_path)
    outcome = yield proc.start()
    assert scanner.failure(outcome) is None, (outcome, lines)
    progress = [p for p in map(scanner.parse_progress, lines) if p is not None]
    assert len(progress) == 13
    parsed = parse_arf(scanner.arf_path(str(tmp_path)))
    summary = scoring.summarize(parsed.rules)
    assert summary["score"] == 55.56 and summary["failed_count"] == 4
    log = (tmp_path / "stdout.log").read_text()
    assert "Exiting; Exit Code: 0" in log and "ciscat-results-ARF.xml" in log


@pytest_twisted.inlineCallbacks
def test_real_run_that_stops_is_an_error_in_words(tmp_path):
    scanner, proc, lines = supervised(tmp_path, L1, "-D", "fake.exit.code=116")
    outcome = yield proc.start()
    assert outcome.exit_code == 116
    assert "elevated privileges" in scanner.failure(outcome)
    assert not os.path.exists(scanner.arf_path(str(tmp_path)))


@pytest_twisted.inlineCallbacks
def test_real_scan_through_the_scan_manager(tmp_path):
    # state.py drives a CISCAT as it is today (OpenSCAP's slot, duck-typed).
    from twisted.internet import reactor

    executable(tmp_path / "bin" / "java")  # the fake needs none; missing() wants one
    scanner = CISCAT(FAKE, BENCHMARK, environ={"PATH": "%s:%s" % (tmp_path / "bin", DEFAULT_PATH)})
    assert scanner.missing() == []
    manager = ScanManager(reactor=reactor, scanner=scanner, content=load_content(BENCHMARK),
                          default_profile=L1, state_dir=str(tmp_path / "state"),
                          parse_arf=lambda path: defer.maybeDeferred(parse_arf, path),
                          environ=scanner.environ, store=None)
    scan = manager.start(L2)
    assert scan.rules_total == 16
    while manager.state is State.RUNNING:
        yield manager.wait_for_change(30)
    result = manager.result()
    assert manager.state is State.DONE, result
    assert result["scanner"] == "ciscat" and result["profile"] == L2
    # The daemon scores a CIS-CAT scan as CIS-CAT does (errors count against it).
    assert {k: result[k] for k in EXPECTED[L2]} == dict(EXPECTED[L2], score=EXPECTED_CISCAT_SCORE[L2])
    assert result["native_score"] == 50.0
    assert scan.rules_done == 16
    assert os.path.isfile(scanner.arf_path(scan.directory))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
