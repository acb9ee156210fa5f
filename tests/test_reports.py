"""Making reports from a scan's ARF: once, atomically, with clear errors."""

import os
import sys

import pytest
import pytest_twisted
from treq.testing import StubTreq
from twisted.internet import defer

from cemscan.reports import ReportError, ReportMaker
from cemscan.resources import build_root

# Stands in for oscap: records each run, writes the file named after --output.
STUB = """#!%s
import sys
with open(sys.argv[0] + ".runs", "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
if "%s" == "fail":
    sys.stderr.write("OpenSCAP Error: no way\\n")
    sys.exit(1)
out = sys.argv[sys.argv.index("--output") + 1]
with open(out, "w") as f:
    f.write("<html>report</html>")
"""


def stub_oscap(tmp_path, mode="ok"):
    path = tmp_path / "oscap"
    path.write_text(STUB % (sys.executable, mode))
    path.chmod(0o755)
    return str(path)


def scan_dir(tmp_path):
    folder = tmp_path / "scan"
    folder.mkdir()
    (folder / "arf.xml").write_text("<arf/>")
    return str(folder)


def maker(oscap):
    from twisted.internet import reactor

    return ReportMaker(reactor, oscap, {"PATH": "/usr/bin:/bin"})


@pytest_twisted.ensureDeferred
async def test_made_once_even_when_asked_twice_at_once(tmp_path):
    oscap, folder = stub_oscap(tmp_path), scan_dir(tmp_path)
    reports = maker(oscap)
    arf = os.path.join(folder, "arf.xml")
    paths = await defer.gatherResults([reports.report(arf, "html", None), reports.report(arf, "html", None)])
    assert paths == [os.path.join(folder, "report.html")] * 2
    assert open(paths[0]).read() == "<html>report</html>"
    again = await reports.report(arf, "html", None)
    assert again == paths[0]
    runs = open(oscap + ".runs").read().splitlines()
    assert runs == ["xccdf generate report --output %s/report.html.tmp %s/arf.xml" % (folder, folder)]
    assert not os.path.exists(paths[0] + ".tmp")


@pytest_twisted.ensureDeferred
async def test_fix_scripts_are_for_this_scans_failures(tmp_path):
    oscap, folder = stub_oscap(tmp_path), scan_dir(tmp_path)
    path = await maker(oscap).report(folder + "/arf.xml", "bash", "xccdf_org.open-scap_testresult_p")
    assert path.endswith("fix.sh")
    assert "--fix-type bash --result-id xccdf_org.open-scap_testresult_p" in open(oscap + ".runs").read()


@pytest_twisted.ensureDeferred
async def test_oscap_failure_is_a_500_with_its_words(tmp_path):
    oscap, folder = stub_oscap(tmp_path, "fail"), scan_dir(tmp_path)
    with pytest.raises(ReportError) as raised:
        await maker(oscap).report(folder + "/arf.xml", "ansible", None)
    assert raised.value.code == 500
    assert str(raised.value) == "oscap could not make fix.yml (exit code 1): OpenSCAP Error: no way"
    assert not os.path.exists(os.path.join(folder, "fix.yml"))


@pytest_twisted.ensureDeferred
async def test_oscap_that_cannot_run_is_a_500(tmp_path):
    folder = scan_dir(tmp_path)
    with pytest.raises(ReportError) as raised:
        await maker(str(tmp_path / "missing-oscap")).report(folder + "/arf.xml", "html", None)
    assert raised.value.code == 500 and "could not make report.html" in str(raised.value)


def test_without_oscap_only_the_arf_is_served(tmp_path):
    folder = scan_dir(tmp_path)
    arf = folder + "/arf.xml"
    assert maker(None).report(arf, "arf", None).result == arf
    failures = []
    maker(None).report(arf, "html", None).addErrback(failures.append)
    assert failures[0].value.code == 501 and "install openscap-scanner" in str(failures[0].value)


def test_no_arf_is_a_404(tmp_path):
    failures = []
    maker("/bin/true").report(str(tmp_path / "arf.xml"), "html", None).addErrback(failures.append)
    assert failures[0].value.code == 404 and "holds no ARF" in str(failures[0].value)


# --- GET /report through the resource tree ---

def call(http, path):
    d = http.get("http://node:8084" + path)
    http.flush()
    response = d.result
    body = response.content()
    http.flush()
    return response.code, response.headers.getRawHeaders("content-type"), body.result


@pytest.fixture
def api(make_manager, tmp_path):
    manager = make_manager()
    return manager, StubTreq(build_root(manager, None, maker("/bin/false")))


@pytest.mark.parametrize("query", ["", "?format=pdf", "?format="])
def test_unknown_format_is_400(api, query):
    _, http = api
    code, _, body = call(http, "/report" + query)
    assert code == 400 and b"format must be one of arf, html, bash, ansible" in body


def test_no_scan_yet_is_404(api):
    _, http = api
    code, _, body = call(http, "/report?format=html")
    assert code == 404 and b"no scan to report on yet (state: idle)" in body


def test_while_running_is_409(api, reactor):
    manager, http = api
    manager.start()
    code, _, body = call(http, "/report?format=arf")
    assert code == 409 and b"a scan is running" in body


def test_a_failed_scan_without_arf_is_404(api, reactor):
    manager, http = api
    manager.start()
    reactor.spawned[0].end(1)
    code, _, body = call(http, "/report?format=arf")
    assert code == 404 and b"holds no ARF" in body
