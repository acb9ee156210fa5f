"""Write ARF files shaped like oscap's: content copy first, TestResult last.

Unit tests use small ones; benchmarks use the same writer for big ones, so
the parser is always measured on the layout oscap really produces.
"""

from typing import IO, Iterable, Optional, Sequence, Tuple
from xml.sax.saxutils import escape, quoteattr

Rule = Tuple[str, str, str, str]  # id, title, severity, result

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<arf:asset-report-collection xmlns:arf="http://scap.nist.gov/schema/asset-reporting-format/1.1" \
xmlns:core="http://scap.nist.gov/schema/reporting-core/1.1" \
xmlns:ds="http://scap.nist.gov/schema/scap/source/1.2">
<core:report-requests>
<core:report-request id="collection1">
<core:content>
<ds:data-stream-collection id="scap_io.cemscan_collection_test">
<ds:component id="scap_io.cemscan_comp_xccdf">
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2" id="xccdf_io.cemscan_benchmark_gen">
<title>Generated benchmark</title>
"""
MIDDLE = """</Benchmark>
</ds:component>
</ds:data-stream-collection>
</core:content>
</core:report-request>
</core:report-requests>
<arf:reports>
<arf:report id="xccdf1">
<arf:content>
<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2" id="xccdf_org.open-scap_testresult_gen" \
start-time="2026-12-04T10:00:00+00:00" end-time="2026-12-04T10:01:00+00:00">
<benchmark href="#scap_io.cemscan_comp_xccdf" id="xccdf_io.cemscan_benchmark_gen"/>
"""
TAIL = """</TestResult>
</arf:content>
</arf:report>
</arf:reports>
</arf:asset-report-collection>
"""


def write_arf(out: IO[str], rules: Sequence[Rule], profile: Optional[str] = "xccdf_io.cemscan_profile_gen",
              score: Optional[float] = None, filler: int = 0) -> None:
    """Write an ARF; ``filler`` adds that many untested rules to the content copy."""
    out.write(HEAD)
    for rule_id, title, severity, _ in rules:
        out.write(_rule(rule_id, title, severity))
    for n in range(filler):
        out.write(_rule("xccdf_io.cemscan_rule_filler_%d" % n, "Filler rule %d with a longer title" % n, "low"))
    out.write(MIDDLE)
    if profile is not None:
        out.write("<profile idref=%s/>\n" % quoteattr(profile))
    for rule_id, _, severity, result in rules:
        out.write('<rule-result idref=%s role="full" time="2026-12-04T10:00:30+00:00" severity=%s weight="1.000000">\n'
                  "<result>%s</result>\n</rule-result>\n" % (quoteattr(rule_id), quoteattr(severity), escape(result)))
    if score is not None:
        out.write('<score system="urn:xccdf:scoring:default" maximum="100.000000">%f</score>\n' % score)
    out.write(TAIL)


def _rule(rule_id: str, title: str, severity: str) -> str:
    return ('<Rule id=%s selected="true" severity=%s>\n<title>%s</title>\n'
            "<description>Checks something.</description>\n</Rule>\n"
            % (quoteattr(rule_id), quoteattr(severity), escape(title)))


def rules_with(results: Iterable[str]) -> list:
    """One rule per result value, ids and titles derived from the position."""
    return [("xccdf_io.cemscan_rule_r%d" % n, "Rule %d" % n, "medium", result) for n, result in enumerate(results)]
