"""The streaming ARF reader."""

import io
import os

import pytest

from cemscan.arf import ArfError, RuleResult, parse_arf
from tests import arfgen


def write(tmp_path, rules, **kw):
    path = tmp_path / "arf.xml"
    with open(path, "w") as f:
        arfgen.write_arf(f, rules, **kw)
    return str(path)


def test_rule_results_titles_severities_profile_and_score(tmp_path):
    path = write(tmp_path, [("xccdf_a_rule_1", "First & best", "high", "pass"),
                            ("xccdf_a_rule_2", "Second", "low", "fail")], score=50.0, filler=100)
    parsed = parse_arf(path)
    assert parsed.rules == (RuleResult("xccdf_a_rule_1", "pass", "high", "First & best"),
                            RuleResult("xccdf_a_rule_2", "fail", "low", "Second"))
    assert parsed.profile == "xccdf_io.cemscan_profile_gen"
    assert parsed.native_score == 50.0 and parsed.native_score_max == 100.0
    assert parsed.id == "xccdf_org.open-scap_testresult_gen"


def test_a_rule_missing_from_the_content_copy_has_no_title(tmp_path):
    path = tmp_path / "arf.xml"
    buf = io.StringIO()
    arfgen.write_arf(buf, [("xccdf_a_rule_1", "Title", "medium", "pass")])
    path.write_text(buf.getvalue().replace('<Rule id="xccdf_a_rule_1"', '<Rule id="xccdf_a_rule_other"'))
    assert parse_arf(str(path)).rules[0].title is None


def test_missing_score_and_profile_are_none(tmp_path):
    parsed = parse_arf(write(tmp_path, arfgen.rules_with(["pass"]), profile=None, score=None))
    assert parsed.native_score is None and parsed.profile is None


def test_no_test_result(tmp_path):
    path = tmp_path / "arf.xml"
    path.write_text('<arf:asset-report-collection xmlns:arf="http://scap.nist.gov/schema/asset-reporting-format/1.1"/>')
    with pytest.raises(ArfError, match="holds no XCCDF 1.2 TestResult"):
        parse_arf(str(path))


def test_truncated_file(tmp_path):
    path = tmp_path / "arf.xml"
    buf = io.StringIO()
    arfgen.write_arf(buf, arfgen.rules_with(["pass"] * 3))
    path.write_text(buf.getvalue()[:-200])
    with pytest.raises(ArfError, match="is not well-formed XML"):
        parse_arf(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(ArfError, match="cannot read .*nothing.xml: No such file or directory"):
        parse_arf(str(tmp_path / "nothing.xml"))


def test_a_real_oscap_arf():
    from tests.conftest import HERE
    from tests.expected import TEST, TEST_PROFILE

    parsed = parse_arf(HERE + "/content/test-arf.xml")
    got = {r.id: (r.title, r.severity, r.result) for r in parsed.rules if r.result != "notselected"}
    assert got == TEST
    assert parsed.profile == TEST_PROFILE and parsed.native_score == 60.0


# --- the fast region reader agrees with the whole-file reader ---
# bench/arfcheck.py's awkward variants, on a small ARF of the same shape as
# the big benchmark ones: each must take the expected way, and where the
# region reader answers, it must answer exactly as the whole-file reader.

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
# The Debian build runs this suite on a copy of tests/ without bench/: the
# main suite (make test) runs these on both stacks.
needs_bench = pytest.mark.skipif(not os.path.isdir(BENCH), reason="bench/ is not in this tree")


def _arfcheck():
    import sys

    if BENCH not in sys.path:
        sys.path.insert(0, BENCH)
    import arfcheck  # noqa: E402  (bench/ is not a package)

    return arfcheck


def _variant_names():
    return [name for name, _, _ in _arfcheck().variants()] if os.path.isdir(BENCH) else ["(no bench/)"]


@pytest.fixture(scope="module")
def small_arf_text(tmp_path_factory):
    arfcheck = _arfcheck()
    path = str(tmp_path_factory.mktemp("arf") / "small.xml")
    arfcheck.bigarf.write(path, 50, 2, True)
    with open(path, encoding="utf-8") as f:
        return f.read()


@needs_bench
@pytest.mark.parametrize("name", _variant_names())
def test_region_reader_matches_the_whole_file_reader(tmp_path, small_arf_text, name):
    arfcheck = _arfcheck()
    [(change, expected)] = [(c, e) for n, c, e in arfcheck.variants() if n == name]
    path = tmp_path / "variant.xml"
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(change(small_arf_text))
    way, answer = arfcheck.region_way(str(path))
    assert way == expected
    if way == "regions":
        assert answer == arfcheck.whole_way(str(path))


@needs_bench
def test_region_reader_on_a_real_oscap_arf():
    from tests.conftest import HERE

    arfcheck = _arfcheck()
    path = HERE + "/content/test-arf.xml"
    way, answer = arfcheck.region_way(path)
    assert way == "regions" and answer == arfcheck.whole_way(path)
