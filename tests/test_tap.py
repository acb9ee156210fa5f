"""``twistd cemscan``: option checking, the service, the plugin."""

import os
import subprocess
import sys

import pytest
from twisted.application import internet
from twisted.python import usage

from cemscan import content as scap_content
from cemscan.tap import Options, ScanManagerService, makeService
from tests.fakes import FakeProcessReactor
from tests.test_content import XCCDF

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def files(tmp_path):
    oscap = tmp_path / "oscap"
    oscap.write_text("#!/bin/sh\n")
    oscap.chmod(0o755)
    xccdf = tmp_path / "xccdf.xml"
    xccdf.write_text(XCCDF.format(version="1.2"))
    return {"oscap": str(oscap), "content": str(xccdf), "state": str(tmp_path / "state")}


def parse(files, *extra):
    options = Options()
    options.parseOptions(["--oscap", files["oscap"], "--content", files["content"],
                          "--state-dir", files["state"]] + list(extra))
    return options


def test_defaults(files):
    options = parse(files)
    assert options["port"] == 8084 and options["interface"] == "0.0.0.0" and options["listen"] is None
    assert options["scanner"] == "openscap" and options["scan-timeout"] == 3600 and options["keep"] == 10
    assert options["profile"] == "xccdf_t_profile_base"
    assert os.path.isdir(files["state"])


def test_state_dir_default_is_var_lib():
    assert dict((o[0], o[2]) for o in Options.optParameters)["state-dir"] == "/var/lib/cemscan"


@pytest.mark.parametrize("extra, words", [
    (["--port", "http"], "--port: 'http' is not a whole number from 1 to 65535"),
    (["--port", "70000"], "--port: '70000' is not a whole number"),
    (["--scan-timeout", "-1"], "--scan-timeout: '-1' is not a number"),
    (["--scan-timeout", "soon"], "--scan-timeout: 'soon' is not a number"),
    (["--keep", "0"], "--keep: '0' is not a whole number from 1 to 100000"),
    (["--scanner", "nessus"], "--scanner: 'nessus' is not one of openscap"),
    (["--listen", "carrier-pigeon:12"], "--listen: 'carrier-pigeon:12' is not a usable endpoint"),
    (["--profile", "xccdf_nope"], "--profile: unknown profile 'xccdf_nope'"),
])
def test_bad_values_are_usage_errors_naming_the_option(files, extra, words):
    with pytest.raises(usage.UsageError) as raised:
        parse(files, *extra)
    assert words in str(raised.value)


def test_missing_content_file(files):
    files["content"] = "/nonexistent/ds.xml"
    with pytest.raises(usage.UsageError, match="--content: content file /nonexistent/ds.xml does not exist"):
        parse(files)


def test_oscap_not_executable(files):
    os.chmod(files["oscap"], 0o644)
    with pytest.raises(usage.UsageError, match="--oscap: .* is not an executable file"):
        parse(files)


def test_oscap_default_comes_from_path(files, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(files["oscap"]))
    options = Options()
    options.parseOptions(["--content", files["content"], "--state-dir", files["state"]])
    assert options["oscap"] == files["oscap"]
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(usage.UsageError, match="no oscap on PATH; install openscap-scanner"):
        Options().parseOptions(["--content", files["content"]])


def test_state_dir_that_cannot_be_created(files, tmp_path):
    (tmp_path / "blocker").write_text("")
    files["state"] = str(tmp_path / "blocker" / "state")
    with pytest.raises(usage.UsageError, match="--state-dir: cannot create"):
        parse(files)


def test_default_content_is_found_for_the_host(files, monkeypatch):
    monkeypatch.setattr(scap_content, "find_default_content", lambda os_release: files["content"])
    options = Options()
    options.parseOptions(["--oscap", files["oscap"], "--state-dir", files["state"]])
    assert options["content"].path == files["content"]


@pytest.mark.parametrize("extra, description", [
    ([], "tcp:8084:interface=0.0.0.0"),
    (["--port", "9000", "--interface", "::1"], "tcp:9000:interface=\\:\\:1"),
    (["--listen", "tcp:0:interface=127.0.0.1"], "tcp:0:interface=127.0.0.1"),
])
def test_service_listens_where_asked(files, extra, description, monkeypatch):
    seen = []
    from twisted.application import strports
    real = strports.service
    monkeypatch.setattr(strports, "service", lambda d, f, reactor: seen.append(d) or real(d, f, reactor=reactor))
    top = makeService(parse(files, *extra), reactor=FakeProcessReactor())
    assert seen == [description]
    kinds = sorted(type(s).__name__ for s in top)
    assert "ScanManagerService" in kinds and any(isinstance(s, internet.StreamServerEndpointService) for s in top)


def test_stopping_the_service_stops_the_scan(files):
    top = makeService(parse(files), reactor=FakeProcessReactor())
    [manager_service] = [s for s in top if isinstance(s, ScanManagerService)]
    manager_service.startService()
    assert manager_service.stopService().called  # idle: nothing to wait for
    assert not manager_service.running


def twistd(*args, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", "from twisted.scripts.twistd import run; run()"] + list(args),
                          cwd=str(kw.pop("cwd")), env=env, capture_output=True, text=True, timeout=60, **kw)


def test_twistd_finds_the_plugin_and_lists_the_options(tmp_path):
    done = twistd("cemscan", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for option in ("--port=", "--interface=", "--listen=", "--scanner=", "--oscap=", "--content=", "--profile=",
                   "--state-dir=", "--scan-timeout=", "--keep="):
        assert option in done.stdout


def test_twistd_refuses_bad_options_before_listening(tmp_path, files):
    done = twistd("-n", "--pidfile=", "cemscan", "--port", "nope", "--oscap", files["oscap"],
                  "--content", files["content"], cwd=tmp_path)
    assert done.returncode != 0
    assert "--port: 'nope' is not a whole number" in done.stdout + done.stderr


def test_a_relative_content_path_is_made_absolute(files, monkeypatch):
    # The scanner runs in its scan folder: a relative path would not be found there.
    monkeypatch.chdir(os.path.dirname(files["content"]))
    files["content"] = os.path.basename(files["content"])
    assert parse(files)["content"].path == os.path.join(os.getcwd(), files["content"])


def test_token_file_is_read_and_checked(files, tmp_path):
    path = tmp_path / "token"
    path.write_text("tok\n")
    path.chmod(0o600)
    assert parse(files, "--token-file", str(path))["token"] == b"tok"
    path.chmod(0o644)
    with pytest.raises(usage.UsageError, match="--token-file: .* can be read or written by others"):
        parse(files, "--token-file", str(path))


CISCAT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ciscat")
ASSESSOR = os.path.join(CISCAT_DIR, "Assessor-CLI.sh")
CIS_BENCHMARK = os.path.join(CISCAT_DIR, "CIS_Cemscan_Test_Linux_Benchmark_v1.0.0-xccdf.xml")


def test_ciscat_options(tmp_path):
    options = Options()
    options.parseOptions(["--scanner", "ciscat", "--assessor", ASSESSOR, "--benchmark", CIS_BENCHMARK,
                          "--state-dir", str(tmp_path / "state")])
    assert options["content"].path == CIS_BENCHMARK
    assert options["profile"] in options["content"].profiles
    top = makeService(options, reactor=FakeProcessReactor())
    [manager_service] = [s for s in top if isinstance(s, ScanManagerService)]
    assert manager_service.manager.scanner.name == "ciscat"


@pytest.mark.parametrize("extra, words", [
    (["--benchmark", CIS_BENCHMARK], "--assessor: required with --scanner ciscat"),
    (["--assessor", ASSESSOR], "--benchmark: required with --scanner ciscat"),
    (["--assessor", CIS_BENCHMARK, "--benchmark", CIS_BENCHMARK], "--assessor: .* is not an executable file"),
    (["--assessor", ASSESSOR, "--benchmark", "/nonexistent.xml"], "--benchmark: content file /nonexistent.xml"),
])
def test_ciscat_bad_options(tmp_path, extra, words):
    with pytest.raises(usage.UsageError, match=words):
        Options().parseOptions(["--scanner", "ciscat", "--state-dir", str(tmp_path)] + extra)
