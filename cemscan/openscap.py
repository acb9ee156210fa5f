"""What is specific to OpenSCAP: its command line, progress lines, exit codes."""

import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

import attr

from cemscan import scoring
from cemscan.process import ProcessOutcome, interrupted, scanner_environment

ARF_NAME = "arf.xml"
#: oscap's exit codes for a scan that ran to the end: 0 when every rule
#: passed (or did not apply), 2 when at least one failed or was unknown.
COMPLETED_EXIT_CODES = (0, 2)


@attr.s(frozen=True)
class OpenSCAP:
    """``oscap xccdf eval`` over one content file."""

    name = "openscap"

    binary: str = attr.ib()
    content: str = attr.ib()

    def argv(self, profile: str, scan_dir: str) -> List[str]:
        # No --report: HTML generation during eval is known to take a lot of
        # memory on big content; it can be generated from the ARF later.
        return [self.binary, "xccdf", "eval", "--progress", "--profile", profile,
                "--results-arf", self.arf_path(scan_dir), self.content]

    def arf_path(self, scan_dir: str) -> str:
        return os.path.join(scan_dir, ARF_NAME)

    def missing(self) -> List[str]:
        """What the scanner needs and cannot find, in words (empty when ready)."""
        problems = []
        if not os.access(self.binary, os.X_OK):
            problems.append("scanner binary %s" % self.binary)
        if not os.path.isfile(self.content):
            problems.append("content %s" % self.content)
        return problems

    @staticmethod
    def environment(parent: Mapping[str, str]) -> Dict[str, str]:
        return scanner_environment(parent)

    @staticmethod
    def score(summary: Mapping[str, Any]) -> float:
        """cemscan's score: 100 x passed / (passed + failed)."""
        return scoring.score(summary["passed_count"], summary["failed_count"])

    @staticmethod
    def parse_progress(line: str) -> Optional[Tuple[str, str]]:
        """``rule_id:result`` as printed by ``--progress``, or None for other output."""
        rule_id, sep, result = line.rpartition(":")
        if sep and rule_id.startswith("xccdf_") and result.isalpha():
            return rule_id, result
        return None

    @staticmethod
    def failure(outcome: ProcessOutcome) -> Optional[str]:
        """Why the run did not complete, in words; None when it did."""
        stopped = interrupted(outcome, "oscap")
        if stopped:
            return stopped
        if outcome.exit_code in COMPLETED_EXIT_CODES:
            return None
        if outcome.exit_code == 1:
            return "oscap failed with exit code 1 (an error: see stderr)"
        return "oscap ended with unexpected exit code %s" % outcome.exit_code
