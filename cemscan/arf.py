"""Streaming reader for the XCCDF results inside an ARF report.

An ARF written by ``oscap xccdf eval --results-arf`` carries a full copy of
the scanned data stream and the OVAL results *before* the XCCDF
``TestResult``: several MB is normal, tens of MB happen.  So the file is read
with ``iterparse`` and every subtree is dropped as soon as it has been looked
at; only rule titles and the rule results are kept.  The parse is pure and
blocking: the daemon runs it in a worker thread.
"""

from typing import Dict, List, Optional, Tuple
from xml.etree.ElementTree import ParseError, iterparse

import attr

XCCDF_NS = "http://checklists.nist.gov/xccdf/1.2"
_RULE = "{%s}Rule" % XCCDF_NS
_TITLE = "{%s}title" % XCCDF_NS
_TEST_RESULT = "{%s}TestResult" % XCCDF_NS
_RULE_RESULT = "{%s}rule-result" % XCCDF_NS
_RESULT = "{%s}result" % XCCDF_NS
_SCORE = "{%s}score" % XCCDF_NS
_PROFILE = "{%s}profile" % XCCDF_NS
DEFAULT_SCORING = "urn:xccdf:scoring:default"


class ArfError(Exception):
    """The ARF is missing, is not XML, or holds no XCCDF TestResult."""


@attr.s(frozen=True, slots=True)
class RuleResult:
    id: str = attr.ib()
    result: str = attr.ib()
    severity: str = attr.ib(default="unknown")
    title: Optional[str] = attr.ib(default=None)

    def to_dict(self) -> Dict[str, Optional[str]]:
        return {"id": self.id, "title": self.title, "severity": self.severity, "result": self.result}


@attr.s(frozen=True, slots=True)
class TestResult:
    """The parts of an XCCDF TestResult that a scan result is built from."""

    __test__ = False  # not a pytest test class, whatever its name says

    id: str = attr.ib()
    profile: Optional[str] = attr.ib()
    rules: Tuple[RuleResult, ...] = attr.ib()
    native_score: Optional[float] = attr.ib()
    native_score_max: Optional[float] = attr.ib()


def parse_arf(path: str) -> TestResult:
    """Read the (first) XCCDF TestResult of the ARF at ``path``."""
    titles: Dict[str, str] = {}
    try:
        return _parse(path, titles)
    except ParseError as e:
        raise ArfError("%s is not well-formed XML: %s" % (path, e)) from e
    except OSError as e:
        raise ArfError("cannot read %s: %s" % (path, e.strerror or e)) from e


def _parse(path: str, titles: Dict[str, str]) -> TestResult:
    rule_id: Optional[str] = None
    in_test_result = False
    test_result_id = ""
    profile: Optional[str] = None
    score: Optional[float] = None
    score_max: Optional[float] = None
    raw: List[Tuple[str, str, str]] = []
    for event, elem in iterparse(path, events=("start", "end")):
        tag = elem.tag
        if event == "start":
            if tag == _RULE:
                rule_id = elem.get("id")
            elif tag == _TEST_RESULT:
                in_test_result = True
                test_result_id = elem.get("id", "")
            continue
        if tag == _TITLE:
            if rule_id is not None and rule_id not in titles:
                titles[rule_id] = (elem.text or "").strip()
        elif tag == _RULE:
            rule_id = None
            elem.clear()
        elif not in_test_result:
            if len(elem) > 64:
                # Large subtrees outside the TestResult (OVAL results, the
                # content copy) are never needed again: drop them early.
                elem.clear()
        elif tag == _RULE_RESULT:
            result = elem.findtext(_RESULT)
            if result is not None:
                raw.append((elem.get("idref", ""), result.strip(), elem.get("severity", "unknown")))
            elem.clear()
        elif tag == _PROFILE:
            profile = elem.get("idref")
        elif tag == _SCORE:
            if elem.get("system", DEFAULT_SCORING) == DEFAULT_SCORING:
                score = _float_or_none(elem.text)
                score_max = _float_or_none(elem.get("maximum"))
        elif tag == _TEST_RESULT:
            rules = tuple(RuleResult(i, r, s, titles.get(i)) for i, r, s in raw)
            return TestResult(test_result_id, profile, rules, score, score_max)
    raise ArfError("%s holds no XCCDF 1.2 TestResult" % (path,))


def _float_or_none(text: Optional[str]) -> Optional[float]:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
