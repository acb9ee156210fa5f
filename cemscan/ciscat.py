"""What is specific to CIS-CAT Pro Assessor v4: its command line, console, exit codes.

CIS-CAT Pro is proprietary; everything here follows its published user
guide (github.com/CISecurity/CCPA-Docs, "User Guide - Assessor.md", served
at ccpa-docs.readthedocs.io) and console transcripts of real runs.  See
docs/ciscat.md for the sources and for what could not be confirmed.

- ``-rd DIR -rp PREFIX -nts`` names the reports ``PREFIX.<ext>``; the Asset
  Reporting Format (ARF) result is written by default as ``PREFIX-ARF.xml``.
- CIS-CAT resolves *relative* paths against its own install folder, not the
  working directory, so the benchmark and the report folder are passed as
  absolute paths.
- During an assessment it prints one line per benchmark rule, e.g.
  ``08/285: Ensure /tmp is a separate partition........ Fail``; rules the
  profile does not select are listed too, as ``Not Selected``.
- Exit code 0 means the assessment completed, whatever the results; every
  documented non-zero code means it stopped before completing its work.
"""

import os
import re
import shutil
from typing import Dict, List, Mapping, Optional, Tuple

import attr

from cemscan.process import ProcessOutcome, interrupted, scanner_environment

#: What ``-rp`` is set to: the seed's real runs left ``ciscat-results-ARF.xml``
#: and ``ciscat-results.json`` in their reports folder.
REPORT_PREFIX = "ciscat-results"
ARF_SUFFIX = "-ARF.xml"
JSON_SUFFIX = ".json"

#: CIS-CAT Pro Assessor's exit codes, from the user guide's "Exit Codes" table.
EXIT_CODES: Dict[int, str] = {
    0: "CIS-CAT Pro Assessor exited successfully",
    1: "CIS-CAT Pro Assessor exited unsuccessfully",
    100: "invalid starting directory",
    101: "no valid assessment content was found",
    102: "could not find the custom properties file",
    103: "could not parse the custom properties",
    104: "could not find the custom session properties file",
    105: "could not find the specified OVAL Definitions file",
    106: "could not find the specified OVAL Variables file",
    107: "invalid assessment content",
    108: "could not find the Benchmark content",
    109: "invalid data-stream",
    110: "invalid checklist",
    111: "invalid profile",
    112: "invalid interactive value",
    113: "could not parse an XML file required for the assessment",
    114: "could not find an XML file required for the assessment",
    115: "an XML file contained an invalid XML Signature",
    116: "not running with elevated privileges (a local assessment must run as root)",
    117: "could not encrypt a sessions or configuration file",
    118: "a command line option needed to encrypt a sessions or configuration file is missing",
    119: "could not decrypt a sessions or configuration file",
    120: "invalid license.xml file",
    121: "could not establish a remote session connection",
    122: "CIS-CAT Lite cannot assess this benchmark",
    123: "could not establish a session with elevated privileges",
    500: "an XML file failed XML Schema validation",
    600: "the OVAL definitions failed Schematron validation",
}
#: A process exit status keeps only the low 8 bits: Java's System.exit(500)
#: reaches us as 244, System.exit(600) as 88.
_TRUNCATED = {code & 0xFF: code for code in EXIT_CODES if code > 0xFF}

#: Rule results as the console prints them -> XCCDF results.
CONSOLE_RESULTS: Dict[str, str] = {
    "Pass": "pass",
    "Fail": "fail",
    "Error": "error",
    "Unknown": "unknown",
    "Not Applicable": "notapplicable",
    "Not Checked": "notchecked",
    "Informational": "informational",
    "Not Selected": "notselected",
}
# "01/285: <rule title><dots up to column 100> Pass"; a title too long for
# the dots is followed by a single space.
_PROGRESS = re.compile(r"^\s*\d+/\d+: (?P<title>.*?)\.* (?P<result>%s)\s*$"
                       % "|".join(re.escape(r) for r in CONSOLE_RESULTS))

JAVA_MISSING = "java (JRE 8-21) for CIS-CAT"


def describe_exit_code(code: int) -> Optional[str]:
    """The user guide's words for an exit code (also as truncated to 8 bits)."""
    if code in EXIT_CODES:
        return EXIT_CODES[code]
    if code in _TRUNCATED:
        return "%s (exit code %d, seen as %d)" % (EXIT_CODES[_TRUNCATED[code]], _TRUNCATED[code], code)
    return None


def score(summary: Mapping[str, object]) -> float:
    """CIS-CAT's own score for a ``scoring.summarize`` result, 0-100, 2 places.

    CIS-CAT scores passed / (passed + failed + error + unknown): its console
    prints "Score Earned" = passed and "Maximum Available" = the scored
    results, and its guide lists Error and Unknown as "included in scoring".
    cemscan's ``scoring.score`` leaves errors out; the two agree whenever no
    rule ended in error or unknown.  (cemscan counts unknown with errors.)
    """
    passed = int(summary["passed_count"])  # type: ignore[call-overload]
    scored = passed + int(summary["failed_count"]) + int(summary["error_count"])  # type: ignore[call-overload]
    return round(100.0 * passed / scored, 2) if scored else 0.0


@attr.s(frozen=True)
class CISCAT:
    """``Assessor-CLI.sh -b BENCHMARK -p PROFILE`` of a CIS-CAT Pro Assessor v4 bundle."""

    name = "ciscat"

    #: The bundle's ``Assessor-CLI.sh``.
    assessor: str = attr.ib()
    #: The benchmark XCCDF (or SCAP data-stream collection) file to assess.
    benchmark: str = attr.ib()
    report_prefix: str = attr.ib(default=REPORT_PREFIX)
    #: The daemon's environment: where java is looked for (see ``environment``).
    environ: Mapping[str, str] = attr.ib(factory=lambda: dict(os.environ), repr=False, eq=False)

    def argv(self, profile: str, scan_dir: str) -> List[str]:
        # No -html (the HTML report can be made from the ARF later) and no -q
        # (it silences the per-rule lines that progress is counted from).
        return [self.assessor, "-b", os.path.abspath(self.benchmark), "-p", profile,
                "-rd", os.path.abspath(scan_dir), "-rp", self.report_prefix, "-nts", "-json"]

    def arf_path(self, scan_dir: str) -> str:
        return os.path.join(scan_dir, self.report_prefix + ARF_SUFFIX)

    @staticmethod
    def score(summary: Mapping[str, object]) -> float:
        """CIS-CAT's own definition (see the module's ``score``)."""
        return score(summary)

    def json_path(self, scan_dir: str) -> str:
        """CIS-CAT's own JSON report (``-json``), next to the ARF."""
        return os.path.join(scan_dir, self.report_prefix + JSON_SUFFIX)

    def environment(self, parent: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """The scanner's environment: ``scanner_environment``, plus JAVA_HOME.

        ``Assessor-CLI.sh`` runs the bundle's own ``jre/bin/java`` or, in the
        bundles without one, the first ``java`` on PATH; it never reads
        JAVA_HOME.  So a JAVA_HOME set for the daemon is passed on *and* its
        ``bin`` put first on PATH, which is what makes the script use it.
        """
        parent = self.environ if parent is None else parent
        env = scanner_environment(parent)
        java_home = parent.get("JAVA_HOME")
        if java_home and os.path.isdir(os.path.join(java_home, "bin")):
            env["JAVA_HOME"] = java_home
            env["PATH"] = os.path.join(java_home, "bin") + os.pathsep + env["PATH"]
        return env

    def bundled_java(self) -> str:
        """Where the bundles with an embedded JRE keep it."""
        return os.path.join(os.path.dirname(os.path.realpath(self.assessor)), "jre", "bin", "java")

    def missing(self) -> List[str]:
        """What the scanner needs and cannot find, in words (empty when ready)."""
        problems = []
        if not (os.path.isfile(self.assessor) and os.access(self.assessor, os.X_OK)):
            problems.append("CIS-CAT assessor script %s (not an executable file)" % self.assessor)
        elif not (os.access(self.bundled_java(), os.X_OK)
                  or shutil.which("java", path=self.environment()["PATH"])):
            problems.append(JAVA_MISSING)
        if not os.path.isfile(self.benchmark):
            problems.append("CIS-CAT benchmark %s" % self.benchmark)
        return problems

    @staticmethod
    def parse_progress(line: str) -> Optional[Tuple[str, str]]:
        """``(rule title, XCCDF result)`` for a rule CIS-CAT just evaluated, else None.

        The console names rules by title, not by id, so the title stands in
        for the id.  ``Not Selected`` lines are rules outside the profile:
        not evaluated, so not progress.
        """
        match = _PROGRESS.match(line)
        if match is None:
            return None
        result = CONSOLE_RESULTS[match.group("result")]
        if result == "notselected":
            return None
        return match.group("title").strip(), result

    @staticmethod
    def failure(outcome: ProcessOutcome) -> Optional[str]:
        """Why the run did not complete, in words; None when it did."""
        stopped = interrupted(outcome, "CIS-CAT")
        if stopped:
            return stopped
        code = outcome.exit_code
        if code == 0:
            return None
        if code == 1:
            return ("CIS-CAT exited unsuccessfully (exit code 1: an error, or Assessor-CLI.sh "
                    "found no usable java; see stdout.log and stderr)")
        described = describe_exit_code(code) if code is not None else None
        if described is not None:
            return "CIS-CAT stopped before completing the assessment (exit code %d): %s" % (code, described)
        return "CIS-CAT ended with unexpected exit code %s" % code
