"""Write a big but cheap SCAP benchmark (XCCDF 1.2 + OVAL 5.11) and compose it.

    python bench/bigcontent.py --rules 2000 --out build/bench/content-2000

writes ``xccdf.xml``, ``oval.xml`` and the composed data stream ``ds.xml``
(``oscap ds sds-compose``) in the folder, and prints the data stream's path.
Every rule is one textfilecontent54 check on /etc/passwd (a line that is
there: pass, or one that is not: fail), so oscap's time goes into its own
per-rule machinery, not into probing the host.  Profile id:
``xccdf_io.cemscan.bench_profile_all``.

Every XML element is on its own line: oscap 1.3.7 silently drops an element
that follows its sibling with no text in between.
"""

import argparse
import os
import subprocess
import sys

PROFILE = "xccdf_io.cemscan.bench_profile_all"
NS = "io.cemscan.bench"


def rule_id(n: int) -> str:
    return "xccdf_%s_rule_r%05d" % (NS, n)


def passes(n: int) -> bool:
    return n % 5 != 4  # four in five pass


def write_oval(path: str, rules: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        w = f.write
        w('<?xml version="1.0" encoding="UTF-8"?>\n'
          '<oval_definitions\n'
          '  xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5"\n'
          '  xmlns:oval="http://oval.mitre.org/XMLSchema/oval-common-5"\n'
          '  xmlns:ind="http://oval.mitre.org/XMLSchema/oval-definitions-5#independent"\n'
          '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
          '  <generator>\n'
          '    <oval:product_name>cemscan bench content (generated)</oval:product_name>\n'
          '    <oval:product_version>1.0</oval:product_version>\n'
          '    <oval:schema_version>5.11.2</oval:schema_version>\n'
          '    <oval:timestamp>2026-12-04T00:00:00</oval:timestamp>\n'
          '  </generator>\n'
          '  <definitions>\n')
        for n in range(rules):
            w('    <definition id="oval:%s:def:%d" version="1" class="compliance">\n'
              '      <metadata>\n'
              '        <title>Generated check %d on /etc/passwd</title>\n'
              '        <affected family="unix">\n'
              '          <platform>multi_platform_all</platform>\n'
              '        </affected>\n'
              '        <description>Generated for the cemscan benchmarks.</description>\n'
              '      </metadata>\n'
              '      <criteria operator="AND">\n'
              '        <criterion test_ref="oval:%s:tst:%d" comment="check %d"/>\n'
              '      </criteria>\n'
              '    </definition>\n' % (NS, n + 1, n, NS, n + 1, n))
        w('  </definitions>\n  <tests>\n')
        for n in range(rules):
            w('    <ind:textfilecontent54_test id="oval:%s:tst:%d" version="1" check="all" comment="check %d">\n'
              '      <ind:object object_ref="oval:%s:obj:%d"/>\n'
              '    </ind:textfilecontent54_test>\n' % (NS, n + 1, n, NS, n + 1))
        w('  </tests>\n  <objects>\n')
        for n in range(rules):
            pattern = "^root:" if passes(n) else "^cemscan-bench-no-user-%d:" % n
            w('    <ind:textfilecontent54_object id="oval:%s:obj:%d" version="1" comment="check %d">\n'
              '      <ind:filepath>/etc/passwd</ind:filepath>\n'
              '      <ind:pattern operation="pattern match">%s</ind:pattern>\n'
              '      <ind:instance datatype="int">1</ind:instance>\n'
              '    </ind:textfilecontent54_object>\n' % (NS, n + 1, n, pattern))
        w('  </objects>\n</oval_definitions>\n')


def write_xccdf(path: str, rules: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        w = f.write
        w('<?xml version="1.0" encoding="UTF-8"?>\n'
          '<Benchmark\n'
          '  xmlns="http://checklists.nist.gov/xccdf/1.2"\n'
          '  id="xccdf_%s_benchmark_big"\n'
          '  resolved="1"\n'
          '  xml:lang="en">\n'
          '  <status date="2026-12-04">draft</status>\n'
          '  <title>cemscan generated benchmark, %d rules</title>\n'
          '  <description>Generated for the cemscan benchmarks.</description>\n'
          '  <version>1.0</version>\n'
          '  <Profile id="%s">\n'
          '    <title>Every rule</title>\n'
          '    <description>All %d rules.</description>\n' % (NS, rules, PROFILE, rules))
        for n in range(rules):
            w('    <select idref="%s" selected="true"/>\n' % rule_id(n))
        w('  </Profile>\n')
        for n in range(rules):
            w('  <Rule id="%s" selected="false" severity="%s">\n'
              '    <title>Generated rule %d: /etc/passwd %s</title>\n'
              '    <description>Generated rule %d of the cemscan benchmark content.</description>\n'
              '    <check system="http://oval.mitre.org/XMLSchema/oval-definitions-5">\n'
              '      <check-content-ref href="oval.xml" name="oval:%s:def:%d"/>\n'
              '    </check>\n'
              '  </Rule>\n' % (rule_id(n), ("low", "medium", "high")[n % 3], n,
                               "has root" if passes(n) else "has no such user", n, NS, n + 1))
        w('</Benchmark>\n')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=2000)
    parser.add_argument("--out", required=True, help="folder to write into")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ds = os.path.join(args.out, "ds.xml")
    stamp = os.path.join(args.out, "rules")
    if os.path.exists(ds) and os.path.exists(stamp) and open(stamp).read().strip() == str(args.rules):
        print(ds)
        return 0
    write_oval(os.path.join(args.out, "oval.xml"), args.rules)
    write_xccdf(os.path.join(args.out, "xccdf.xml"), args.rules)
    tmp = ds + ".tmp"
    subprocess.run(["oscap", "ds", "sds-compose", "xccdf.xml", os.path.basename(tmp)], cwd=args.out, check=True)
    os.replace(tmp, ds)
    with open(stamp, "w") as f:
        f.write("%d\n" % args.rules)
    print(ds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
