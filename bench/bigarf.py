"""Write a big ARF laid out exactly as ``oscap xccdf eval --results-arf`` (1.3.7) writes one.

    python bench/bigarf.py --rules 20000 --out build/bench/big-arf.xml

Two layouts.  ``--layout oscap`` copies the layout, element shapes and
indentation of a real oscap 1.3.7 ARF of a generated 20,000-rule benchmark
(bench/bigcontent.py; running oscap for it takes ~45 s and 1.8 GB here): a
77 MB file in which the OVAL definitions of the content copy take the first
27 %, the XCCDF Benchmark copy the next 12 %, the TestResult runs from 39.5 %
to 50 %, and the OVAL results (a second copy of the definitions, the results
per definition and per test, the system characteristics) fill the other half.
``--layout issue`` (the default) is issue 6's worst case: the same content
copy, its descriptions padded to reach ``--size-mb`` (60), and the TestResult
last, so that a reader has to get past all of it.

Prints one JSON line: path, size, the byte offsets of the sections, and the
counts a parser must find (results by value, rules with titles).
"""

import argparse
import json
import os
import sys
from typing import Dict

NS = "io.cemscan.bench"
RESULTS = ("pass", "pass", "pass", "fail", "notapplicable", "pass", "pass", "fail", "notchecked", "pass",
           "informational", "pass", "error", "pass", "fail", "pass", "pass", "notselected", "pass", "unknown")
SEVERITIES = ("low", "medium", "high", "unknown")
STAMP = "2026-12-04T16:48:45"


def rule_id(n: int) -> str:
    return "xccdf_%s_rule_r%05d" % (NS, n)


def title(n: int) -> str:
    # Escapes and a non-ASCII character: the parser must decode them.
    return "Generated rule %d: /etc/passwd & friends \u2264 0644 <ok>" % n


def xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Writer:
    def __init__(self, f) -> None:
        self.f = f
        self.offsets: Dict[str, int] = {}
        self.pos = 0

    def w(self, text: str) -> None:
        data = text.encode("utf-8")
        self.f.write(data)
        self.pos += len(data)

    def mark(self, name: str) -> None:
        self.offsets[name] = self.pos


def oval_definition(n: int, indent: str, desc: str) -> str:
    i = indent
    return (f'{i}<definition id="oval:{NS}:def:{n + 1}" version="1" class="compliance">\n'
            f'{i}  <metadata>\n'
            f'{i}    <title>Generated check {n} on /etc/passwd</title>\n'
            f'{i}    <affected family="unix">\n'
            f'{i}      <platform>multi_platform_all</platform>\n'
            f'{i}    </affected>\n'
            f'{i}    <description>{desc}</description>\n'
            f'{i}  </metadata>\n'
            f'{i}  <criteria operator="AND">\n'
            f'{i}    <criterion test_ref="oval:{NS}:tst:{n + 1}" comment="check {n}"/>\n'
            f'{i}  </criteria>\n'
            f'{i}</definition>\n')


def oval_definitions(out: Writer, rules: int, indent: str, prefix: str, head: str, desc: str) -> None:
    i = indent
    out.w(head)
    out.w(f'{i}  <generator>\n'
          f'{i}    <oval:product_name>cemscan bench content (generated)</oval:product_name>\n'
          f'{i}    <oval:product_version>1.0</oval:product_version>\n'
          f'{i}    <oval:schema_version>5.11.2</oval:schema_version>\n'
          f'{i}    <oval:timestamp>2026-12-04T00:00:00</oval:timestamp>\n'
          f'{i}  </generator>\n'
          f'{i}  <definitions>\n')
    for n in range(rules):
        out.w(oval_definition(n, i + "    ", desc))
    out.w(f'{i}  </definitions>\n{i}  <tests>\n')
    for n in range(rules):
        out.w(f'{i}    <{prefix}textfilecontent54_test id="oval:{NS}:tst:{n + 1}" version="1" check="all" '
              f'comment="check {n}">\n'
              f'{i}      <{prefix}object object_ref="oval:{NS}:obj:{n + 1}"/>\n'
              f'{i}    </{prefix}textfilecontent54_test>\n')
    out.w(f'{i}  </tests>\n{i}  <objects>\n')
    for n in range(rules):
        pattern = "^root:" if n % 5 != 4 else "^cemscan-bench-no-user-%d:" % n
        out.w(f'{i}    <{prefix}textfilecontent54_object id="oval:{NS}:obj:{n + 1}" version="1" comment="check {n}">\n'
              f'{i}      <{prefix}filepath>/etc/passwd</{prefix}filepath>\n'
              f'{i}      <{prefix}pattern operation="pattern match">{pattern}</{prefix}pattern>\n'
              f'{i}      <{prefix}instance datatype="int">1</{prefix}instance>\n'
              f'{i}    </{prefix}textfilecontent54_object>\n')
    out.w(f'{i}  </objects>\n{i}</oval_definitions>\n')


def write(path: str, rules: int, desc_words: int, oval_results: bool = True) -> Dict[str, object]:
    desc = " ".join(["Generated for the cemscan benchmarks."] + ["word"] * desc_words)
    counts: Dict[str, int] = {}
    with open(path, "wb") as f:
        out = Writer(f)
        out.w('<?xml version="1.0" encoding="UTF-8"?>\n'
              '<arf:asset-report-collection xmlns:arf="http://scap.nist.gov/schema/asset-reporting-format/1.1" '
              'xmlns:core="http://scap.nist.gov/schema/reporting-core/1.1" '
              'xmlns:ai="http://scap.nist.gov/schema/asset-identification/1.1">\n'
              '  <core:relationships xmlns:arfvocab="http://scap.nist.gov/specifications/arf/vocabulary/relationships/1.0#">\n'
              '    <core:relationship type="arfvocab:createdFor" subject="xccdf1">\n'
              '      <core:ref>collection1</core:ref>\n'
              '    </core:relationship>\n'
              '    <core:relationship type="arfvocab:isAbout" subject="xccdf1">\n'
              '      <core:ref>asset0</core:ref>\n'
              '    </core:relationship>\n'
              '  </core:relationships>\n'
              '  <arf:report-requests>\n'
              '    <arf:report-request id="collection1">\n'
              '      <arf:content>\n'
              '        <ds:data-stream-collection xmlns:ds="http://scap.nist.gov/schema/scap/source/1.2" '
              'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:cat="urn:oasis:names:tc:entity:xmlns:xml:catalog" '
              'id="scap_org.open-scap_collection_from_xccdf_xccdf.xml" schematron-version="1.2">\n'
              '          <ds:data-stream id="scap_org.open-scap_datastream_from_xccdf_xccdf.xml" scap-version="1.2" '
              'use-case="OTHER">\n'
              '            <ds:checklists>\n'
              '              <ds:component-ref id="scap_org.open-scap_cref_xccdf.xml" '
              'xlink:href="#scap_org.open-scap_comp_xccdf.xml">\n'
              '                <cat:catalog>\n'
              '                  <cat:uri name="oval.xml" uri="#scap_org.open-scap_cref_oval.xml"/>\n'
              '                </cat:catalog>\n'
              '              </ds:component-ref>\n'
              '            </ds:checklists>\n'
              '            <ds:checks>\n'
              '              <ds:component-ref id="scap_org.open-scap_cref_oval.xml" '
              'xlink:href="#scap_org.open-scap_comp_oval.xml"/>\n'
              '            </ds:checks>\n'
              '          </ds:data-stream>\n'
              '          <ds:component id="scap_org.open-scap_comp_oval.xml" timestamp="2026-12-04T16:48:37">\n')
        out.mark("oval_definitions")
        # The copy keeps the source file's own indentation (libxml2 copies the nodes).
        oval_definitions(out, rules, "", "ind:",
                         '            <oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5" '
                         'xmlns:oval="http://oval.mitre.org/XMLSchema/oval-common-5" '
                         'xmlns:ind="http://oval.mitre.org/XMLSchema/oval-definitions-5#independent" '
                         'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n', desc)
        out.w('          </ds:component>\n'
              '          <ds:component id="scap_org.open-scap_comp_xccdf.xml" timestamp="2026-12-04T16:48:37">\n')
        out.mark("benchmark")
        out.w('            <Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2" '
              'id="xccdf_%s_benchmark_big" resolved="1" xml:lang="en">\n'
              '  <status date="2026-12-04">draft</status>\n'
              '  <title>cemscan generated benchmark, %d rules</title>\n'
              '  <description>Generated for the cemscan benchmarks.</description>\n'
              '  <version>1.0</version>\n'
              '  <Profile id="xccdf_%s_profile_all">\n'
              '    <title>Every rule</title>\n'
              '    <description>All %d rules.</description>\n' % (NS, rules, NS, rules))
        for n in range(rules):
            out.w('    <select idref="%s" selected="true"/>\n' % rule_id(n))
        out.w('  </Profile>\n')
        for n in range(rules):
            out.w('  <Rule id="%s" selected="false" severity="%s">\n'
                  '    <title>%s</title>\n'
                  '    <description>%s</description>\n'
                  '    <check system="http://oval.mitre.org/XMLSchema/oval-definitions-5">\n'
                  '      <check-content-ref href="oval.xml" name="oval:%s:def:%d"/>\n'
                  '    </check>\n'
                  '  </Rule>\n' % (rule_id(n), SEVERITIES[n % 4], xml_text(title(n)), desc, NS, n + 1))
        out.w('</Benchmark>\n'
              '          </ds:component>\n'
              '        </ds:data-stream-collection>\n'
              '      </arf:content>\n'
              '    </arf:report-request>\n'
              '  </arf:report-requests>\n'
              '  <arf:assets>\n'
              '    <arf:asset id="asset0">\n'
              '      <ai:computing-device>\n'
              '        <ai:connections>\n')
        for address in ("127.0.0.1", "192.0.2.2"):
            out.w('          <ai:connection>\n            <ai:ip-address>\n'
                  '              <ai:ip-v4>%s</ai:ip-v4>\n'
                  '            </ai:ip-address>\n          </ai:connection>\n' % address)
        out.w('        </ai:connections>\n'
              '        <ai:fqdn>vm</ai:fqdn>\n'
              '        <ai:hostname>vm</ai:hostname>\n'
              '      </ai:computing-device>\n'
              '    </arf:asset>\n'
              '  </arf:assets>\n'
              '  <arf:reports>\n'
              '    <arf:report id="xccdf1">\n'
              '      <arf:content>\n')
        out.mark("test_result")
        out.w('        <TestResult xmlns="http://checklists.nist.gov/xccdf/1.2" '
              'id="xccdf_org.open-scap_testresult_xccdf_%s_profile_all" start-time="%s+00:00" '
              'end-time="%s+00:00" version="1.0" test-system="cpe:/a:redhat:openscap:1.3.7">\n'
              '          <benchmark href="#scap_org.open-scap_comp_xccdf.xml" id="xccdf_%s_benchmark_big"/>\n'
              '          <title>OSCAP Scan Result</title>\n'
              '          <identity authenticated="false" privileged="false">root</identity>\n'
              '          <profile idref="xccdf_%s_profile_all"/>\n'
              '          <target>vm</target>\n'
              '          <target-address>127.0.0.1</target-address>\n'
              '          <target-facts>\n'
              '            <fact name="urn:xccdf:fact:scanner:name" type="string">OpenSCAP</fact>\n'
              '            <fact name="urn:xccdf:fact:scanner:version" type="string">1.3.7</fact>\n'
              '          </target-facts>\n'
              '          <target-id-ref system="http://scap.nist.gov/schema/asset-identification/1.1" '
              'name="asset0" href=""/>\n' % (NS, STAMP, STAMP, NS, NS))
        passed = failed = 0
        for n in range(rules):
            result = RESULTS[n % len(RESULTS)]
            counts[result] = counts.get(result, 0) + 1
            passed += result == "pass"
            failed += result == "fail"
            out.w('          <rule-result idref="%s" role="full" time="%s+00:00" severity="%s" weight="1.000000">\n'
                  '            <result>%s</result>\n'
                  '            <check system="http://oval.mitre.org/XMLSchema/oval-definitions-5">\n'
                  '              <check-content-ref name="oval:%s:def:%d" href="#oval0"/>\n'
                  '            </check>\n'
                  '          </rule-result>\n' % (rule_id(n), STAMP, SEVERITIES[n % 4], result, NS, n + 1))
        score = 100.0 * passed / (passed + failed)
        out.w('          <score system="urn:xccdf:scoring:default" maximum="100.000000">%f</score>\n'
              '        </TestResult>\n' % score)
        out.mark("test_result_end")
        out.w('      </arf:content>\n'
              '    </arf:report>\n')
        if oval_results:
            write_oval_results(out, rules, desc)
        out.w('  </arf:reports>\n'
              '</arf:asset-report-collection>\n')
        size = out.pos
        offsets = out.offsets
    return {"path": path, "size": size, "rules": rules, "offsets": offsets,
            "results": counts, "score": round(score, 6), "desc_words": desc_words}


def write_oval_results(out: Writer, rules: int, desc: str) -> None:
    out.w('    <arf:report id="oval0">\n'
          '      <arf:content>\n')
    out.mark("oval_results")
    out.w('        <oval_results xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
          'xmlns:oval="http://oval.mitre.org/XMLSchema/oval-common-5" '
          'xmlns="http://oval.mitre.org/XMLSchema/oval-results-5">\n'
          '          <generator>\n'
          '            <oval:product_name>cpe:/a:open-scap:oscap</oval:product_name>\n'
          '            <oval:product_version>1.3.7</oval:product_version>\n'
          '            <oval:schema_version>5.11.2</oval:schema_version>\n'
          '            <oval:timestamp>%s</oval:timestamp>\n'
          '          </generator>\n'
          '          <directives>\n'
          '            <definition_true reported="true" content="full"/>\n'
          '            <definition_false reported="true" content="full"/>\n'
          '          </directives>\n' % STAMP)
    oval_definitions(out, rules, "          ", "ind-def:",
                     '          <oval_definitions xmlns:oval="http://oval.mitre.org/XMLSchema/oval-common-5" '
                     'xmlns:ind-def="http://oval.mitre.org/XMLSchema/oval-definitions-5#independent" '
                     'xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5">\n', desc)
    out.w('          <results>\n            <system>\n              <definitions>\n')
    i = "                "
    for n in range(rules):
        r = "true" if n % 5 != 4 else "false"
        out.w(f'{i}<definition definition_id="oval:{NS}:def:{n + 1}" result="{r}" version="1">\n'
              f'{i}  <criteria operator="AND" result="{r}">\n'
              f'{i}    <criterion test_ref="oval:{NS}:tst:{n + 1}" version="1" result="{r}"/>\n'
              f'{i}  </criteria>\n'
              f'{i}</definition>\n')
    out.w('              </definitions>\n              <tests>\n')
    for n in range(rules):
        if n % 5 != 4:
            out.w(f'{i}<test test_id="oval:{NS}:tst:{n + 1}" version="1" check="all" result="true">\n'
                  f'{i}  <tested_item item_id="1319262" result="not evaluated"/>\n'
                  f'{i}</test>\n')
        else:
            out.w(f'{i}<test test_id="oval:{NS}:tst:{n + 1}" version="1" check="all" result="false"/>\n')
    out.w('              </tests>\n'
          '              <oval_system_characteristics xmlns:oval="http://oval.mitre.org/XMLSchema/oval-common-5" '
          'xmlns:ind-sys="http://oval.mitre.org/XMLSchema/oval-system-characteristics-5#independent" '
          'xmlns="http://oval.mitre.org/XMLSchema/oval-system-characteristics-5">\n'
          '                <generator>\n'
          '                  <oval:product_name>cpe:/a:open-scap:oscap</oval:product_name>\n'
          '                  <oval:schema_version>5.11.2</oval:schema_version>\n'
          '                  <oval:timestamp>%s</oval:timestamp>\n'
          '                </generator>\n'
          '                <system_info>\n'
          '                  <os_name>Debian GNU/Linux</os_name>\n'
          '                  <os_version>12 (bookworm)</os_version>\n'
          '                  <architecture>x86_64</architecture>\n'
          '                  <primary_host_name>vm</primary_host_name>\n'
          '                  <interfaces/>\n'
          '                </system_info>\n'
          '                <collected_objects>\n' % STAMP)
    i = "                  "
    for n in range(rules):
        if n % 5 != 4:
            out.w(f'{i}<object id="oval:{NS}:obj:{n + 1}" version="1" flag="complete">\n'
                  f'{i}  <reference item_ref="1319262"/>\n'
                  f'{i}</object>\n')
        else:
            out.w(f'{i}<object id="oval:{NS}:obj:{n + 1}" version="1" flag="does not exist"/>\n')
    out.w('                </collected_objects>\n'
          '                <system_data>\n'
          '                  <ind-sys:textfilecontent_item id="1319262" status="exists">\n'
          '                    <ind-sys:filepath>/etc/passwd</ind-sys:filepath>\n'
          '                    <ind-sys:text>root:</ind-sys:text>\n'
          '                  </ind-sys:textfilecontent_item>\n'
          '                </system_data>\n'
          '              </oval_system_characteristics>\n'
          '            </system>\n'
          '          </results>\n'
          '        </oval_results>\n'
          '      </arf:content>\n'
          '    </arf:report>\n')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=20000)
    parser.add_argument("--layout", choices=("issue", "oscap"), default="issue",
                        help="issue: TestResult last, padded to --size-mb; oscap: OVAL results after it, natural size")
    parser.add_argument("--size-mb", type=float, default=60.0, help="with --layout issue: aim for about this size")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    meta_path = args.out + ".json"
    wanted = {"rules": args.rules, "layout": args.layout, "size_mb": args.size_mb if args.layout == "issue" else None}
    try:
        with open(meta_path) as f:
            meta = json.load(f)
        if all(meta.get(k) == v for k, v in wanted.items()) and os.path.getsize(args.out) == meta["size"]:
            print(json.dumps(meta))
            return 0
    except (OSError, ValueError, KeyError):
        pass
    oval_results = args.layout == "oscap"
    words = 0
    if not oval_results:
        # Two small probes give bytes per rule and per description word.
        tmp = args.out + ".probe"
        a = write(tmp, 200, 0, False)["size"]
        b = write(tmp, 200, 10, False)["size"]
        os.unlink(tmp)
        scale = args.rules / 200.0
        words = max(0, int((args.size_mb * 1e6 - a * scale) / ((b - a) / 10.0 * scale)))
    meta = write(args.out + ".tmp", args.rules, words, oval_results)
    os.replace(args.out + ".tmp", args.out)
    meta.update(wanted, path=args.out)
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
