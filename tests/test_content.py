"""Finding default content and reading profiles from it."""

import pytest

from cemscan import content
from cemscan.content import ContentError, find_default_content, load_content, ssg_candidates

XCCDF = """<?xml version="1.0"?>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/{version}" id="xccdf_t_benchmark_b">
<title>T</title>
<Profile id="xccdf_t_profile_base">
<title>Base profile</title>
<select idref="xccdf_t_rule_off" selected="true"/>
<select idref="xccdf_t_rule_2" selected="false"/>
</Profile>
<Profile id="xccdf_t_profile_child" extends="xccdf_t_profile_base">
<title>Child</title>
<select idref="xccdf_t_group_g" selected="false"/>
</Profile>
<Profile id="xccdf_t_profile_loop" extends="xccdf_t_profile_loop">
<title>Extends itself</title>
</Profile>
<Rule id="xccdf_t_rule_1"><title>One</title></Rule>
<Rule id="xccdf_t_rule_2"><title>Two</title></Rule>
<Rule id="xccdf_t_rule_off" selected="false"><title>Off by default</title></Rule>
<Group id="xccdf_t_group_g">
<title>G</title>
<Rule id="xccdf_t_rule_g1"><title>G1</title></Rule>
<Group id="xccdf_t_group_inner" selected="false">
<Rule id="xccdf_t_rule_inner"><title>Inner</title></Rule>
</Group>
</Group>
</Benchmark>
"""


@pytest.mark.parametrize("version", ["1.2", "1.1"])
def test_profiles_titles_and_selected_rule_counts(tmp_path, version):
    path = tmp_path / "xccdf.xml"
    path.write_text(XCCDF.format(version=version))
    loaded = load_content(str(path))
    assert {p.id: (p.title, p.rule_count) for p in loaded.profiles.values()} == {
        # base: rule_1, rule_off (selected by the profile), g1; not rule_2, not the inner group
        "xccdf_t_profile_base": ("Base profile", 3),
        # child: what base selects, minus the whole group g
        "xccdf_t_profile_child": ("Child", 2),
        # a profile extending itself is read as extending nothing
        "xccdf_t_profile_loop": ("Extends itself", 3),
    }
    assert loaded.default_profile() == "xccdf_t_profile_base"


def test_preferred_profile_wins(tmp_path):
    path = tmp_path / "xccdf.xml"
    path.write_text(XCCDF.format(version="1.2").replace("xccdf_t_profile_child", content.BUNDLED_PROFILE))
    assert load_content(str(path)).default_profile() == content.BUNDLED_PROFILE


@pytest.mark.parametrize("text, words", [
    (None, "does not exist"),
    ("<Benchmark", "is not well-formed XML"),
    ("<other/>", "holds no XCCDF benchmark with profiles"),
])
def test_bad_content(tmp_path, text, words):
    path = tmp_path / "ds.xml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ContentError, match=words):
        load_content(str(path))


def test_unreadable_content(tmp_path):
    with pytest.raises(ContentError, match="cannot read content file"):
        load_content(str(tmp_path))  # a folder: exists, cannot be read as a file


@pytest.mark.parametrize("os_release, stems", [
    ({"ID": "debian", "VERSION_ID": "12"}, ["debian12"]),
    ({"ID": "ubuntu", "VERSION_ID": "22.04", "ID_LIKE": "debian"}, ["ubuntu2204", "ubuntu22", "debian22"]),
    ({"ID": "rhel", "VERSION_ID": "9.3", "ID_LIKE": "fedora"}, ["rhel9", "fedora", "fedora9"]),
    ({}, []),
])
def test_ssg_names_for_the_host(os_release, stems):
    assert ssg_candidates(os_release) == stems


def test_host_ssg_content_is_preferred_then_bundled(tmp_path):
    (tmp_path / "ssg-debian11-ds.xml").write_text("<x/>")
    assert find_default_content({"ID": "debian", "VERSION_ID": "11"}, [str(tmp_path)]) == str(
        tmp_path / "ssg-debian11-ds.xml")
    assert find_default_content({"ID": "debian", "VERSION_ID": "12"}, [str(tmp_path)]) == content.BUNDLED_CONTENT


def test_os_release_parsing(tmp_path):
    path = tmp_path / "os-release"
    path.write_text('NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n# comment\n\n')
    assert content.read_os_release(str(path)) == {"NAME": "Debian GNU/Linux", "VERSION_ID": "12", "ID": "debian"}
    assert content.read_os_release(str(tmp_path / "missing")) == {}
