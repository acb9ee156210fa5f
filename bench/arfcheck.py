"""The ARF reader's two ways must give the same answer: check it on real and awkward files.

    python bench/arfcheck.py [ARF...]

cemscan.arf.parse_arf finds the Benchmark and TestResult by byte search and
reads only those (cemscan.arf._RegionReader), falling back to reading the
whole file (cemscan.arf._parse) whenever it cannot be sure.  This compares
the two on every ARF named, on the big generated ones, on a real oscap ARF
of the bundled content and (when SSG content is installed) of a real SCAP
Security Guide data stream, and on variants made to be awkward: each must
give the same TestResult (or the same error) both ways.  It also says which
way each file took.  Exit status 1 on any difference.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Callable, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from cemscan import arf  # noqa: E402

sys.path.insert(0, HERE)
import bigarf  # noqa: E402


def region_way(path: str) -> Tuple[str, object]:
    """('regions', answer) or ('whole', answer) as parse_arf would give it."""
    try:
        with open(path, "rb") as f:
            return "regions", arf._RegionReader(f.fileno()).read()
    except arf._Fallback:
        return "whole", None
    except OSError as e:
        return "error", repr(e)


def whole_way(path: str) -> object:
    try:
        return arf._parse(path, {})
    except Exception as e:  # the same error both ways is a pass
        return "error: %s" % type(e).__name__


def public(path: str) -> object:
    try:
        return arf.parse_arf(path)
    except arf.ArfError as e:
        return "ArfError: %s" % str(e).split(":")[-1][:40]


# Awkward variants of a small oscap-layout ARF: what each should do.
def variants() -> List[Tuple[str, Callable[[str], str], str]]:
    return [
        ("as written", lambda s: s, "regions"),
        ("a comment in the content copy", lambda s: s.replace("<arf:report-requests>",
                                                              "<!-- <TestResult> -->\n<arf:report-requests>", 1),
         "whole"),
        ("CRLF line ends", lambda s: s.replace("\n", "\r\n"), "regions"),
        ("single-quoted attributes", lambda s: re.sub(r'idref="([^"]*)"', r"idref='\1'", s), "regions"),
        ("entities and char refs in a title", lambda s: s.replace("Generated rule 3:", "R&#233;gle &#x2264; &amp; 3:", 1),
         "regions"),
        ("a status before a title", lambda s: s.replace('severity="medium">\n    <title>Generated rule 1:',
                                                        'severity="medium">\n    <status>draft</status>\n'
                                                        '    <title>Generated rule 1:', 1), "regions"),
        ("markup inside a title", lambda s: s.replace("<title>Generated rule 2:", "<title>Generated <sub idref='x'/>"
                                                      " rule 2:", 1), "regions"),
        ("an override before a result", lambda s: s.replace(
            '<rule-result idref="xccdf_io.cemscan.bench_rule_r00005" role="full" time="2026-12-04T16:48:45+00:00" '
            'severity="medium" weight="1.000000">\n            <result>',
            '<rule-result idref="xccdf_io.cemscan.bench_rule_r00005" role="full" time="2026-12-04T16:48:45+00:00" '
            'severity="medium" weight="1.000000">\n            <override time="2026-12-04T16:48:45+00:00" '
            'authority="me">\n              <old-result>fail</old-result>\n              <new-result>pass'
            '</new-result>\n              <remark>ok</remark>\n            </override>\n            <result>', 1),
         "regions"),
        ("prefixed XCCDF declared on the root (as SSG)", lambda s: prefixed(s), "regions"),
        ("an XCCDF 1.1 TestResult first", lambda s: s.replace(
            "  <arf:reports>\n", '  <arf:reports>\n    <TestResult xmlns="http://checklists.nist.gov/xccdf/1.1" '
            'id="old"><rule-result idref="zz"><result>fail</result></rule-result></TestResult>\n', 1), "regions"),
        ("TestResult inheriting an ambiguous default namespace", lambda s: s.replace(
            '<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2"', "<TestResult", 1).replace(
            '<arf:report id="xccdf1">', '<arf:report id="xccdf1" xmlns="http://checklists.nist.gov/xccdf/1.2">', 1),
         "whole"),
        ("a duplicate rule id (first title wins)", lambda s: s.replace(
            "bench_rule_r00001\" selected", "bench_rule_r00000\" selected", 1), "regions"),
        ("truncated in the OVAL results, after the TestResult", lambda s: s[:len(s) * 9 // 10], "regions"),
        ("truncated in the TestResult", lambda s: s[:s.index("<score")], "whole"),
        ("no TestResult", lambda s: s[:s.index("<arf:reports>")] + "</arf:asset-report-collection>\n", "whole"),
        ("a stray ampersand in a title", lambda s: s.replace("Generated rule 4:", "Generated & rule 4:", 1), "whole"),
        ("empty", lambda s: "", "whole"),
    ]


def prefixed(s: str) -> str:
    """The XCCDF elements with an x: prefix declared on the root, as SSG declares xccdf-1.2:."""
    s = s.replace('xmlns:ai="http://scap.nist.gov/schema/asset-identification/1.1"',
                  'xmlns:ai="http://scap.nist.gov/schema/asset-identification/1.1" '
                  'xmlns:x="http://checklists.nist.gov/xccdf/1.2"', 1)
    start, end = s.index("<Benchmark "), s.index("</Benchmark>") + len("</Benchmark>")
    bench = s[start:end].replace(' xmlns="http://checklists.nist.gov/xccdf/1.2"', "", 1)
    bench = re.sub(r"<(/?)(?=[A-Za-z])", r"<\1x:", bench)
    return s[:start] + bench + s[end:]


def main() -> int:
    scratch = tempfile.mkdtemp(prefix="arfcheck-")
    failures = 0
    try:
        files = list(sys.argv[1:])
        small = os.path.join(scratch, "small.xml")
        bigarf.write(small, 50, 2, True)
        with open(small, encoding="utf-8") as f:
            text = f.read()
        for name, change, expected in variants():
            path = os.path.join(scratch, re.sub(r"\W+", "-", name) + ".xml")
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(change(text))
            way, answer = region_way(path)
            whole = whole_way(path)
            same = way != "regions" or answer == whole
            failures += not same
            print("%-55s %-8s %s%s" % (name, way, "same answer" if same else "DIFFERENT",
                                       "" if way == expected else " (expected %s)" % expected))
        oscap = shutil.which("oscap")
        if oscap:
            for content, profile in ((os.path.join(ROOT, "cemscan", "content", "cemscan-ds.xml"), None),
                                     ("/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml",
                                      "xccdf_org.ssgproject.content_profile_anssi_np_nt28_high")):
                if not os.path.exists(content):
                    continue
                out = os.path.join(scratch, "real-%s.xml" % os.path.basename(content))
                argv = [oscap, "xccdf", "eval", "--results-arf", out] + (["--profile", profile] if profile else [])
                subprocess.run(argv + [content], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if os.path.exists(out):
                    files.append(out)
        for path in files:
            way, answer = region_way(path)
            whole = whole_way(path)
            same = way != "regions" or answer == whole
            failures += not same
            n = len(whole.rules) if not isinstance(whole, str) else 0
            print("%-55s %-8s %s, %d rule-results" % (os.path.basename(path), way,
                                                      "same answer" if same else "DIFFERENT", n))
            if public(path) != (whole if not isinstance(whole, str) else public(path)):
                failures += 1
                print("  parse_arf differs from the whole-file reader")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("arfcheck: %s" % ("every file gives the same answer both ways" if not failures else
                            "%d DIFFERENCES" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
