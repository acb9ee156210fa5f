"""``twistd cemscan``: options and the service they build.

Every option is checked before anything listens: a daemon that starts with a
missing content file or an unknown profile would only fail later, on the
first scan, far from whoever mistyped it.
"""

import os
import shutil
import sys
from typing import Any, Optional

from twisted.application import service, strports
from twisted.internet import endpoints, threads
from twisted.python import usage

from cemscan import arf, auth, content as scap_content
from cemscan.jsonweb import json_site
from cemscan.ciscat import CISCAT
from cemscan.openscap import OpenSCAP
from cemscan.process import scanner_environment
from cemscan.reports import ReportMaker
from cemscan.resources import build_root
from cemscan.state import ScanManager
from cemscan.store import StateStore

SCANNERS = ("openscap", "ciscat")


def _number(option: str, value: str, minimum: float, maximum: float, kind: type = float) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not minimum <= number <= maximum:
        what = "a whole number" if kind is int else "a number"
        raise usage.UsageError("--%s: %r is not %s from %g to %g" % (option, value, what, minimum, maximum))
    return number


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = ("Serve the cemscan API: POST /scan starts a compliance scan in the background, "
                "GET /status and GET /result report on it, GET /health says whether the node can scan.")

    optParameters = [
        ["port", "p", "8084", "TCP port to listen on."],
        ["interface", "i", "0.0.0.0", "Address to listen on."],
        ["listen", None, None, "Twisted endpoint description to listen on, e.g. tcp:8084:interface=127.0.0.1 "
                               "(overrides --port and --interface)."],
        ["scanner", None, "openscap", "Scanner to run: %s." % ", ".join(SCANNERS)],
        ["oscap", None, None, "Path of the oscap binary (default: found on PATH); with --scanner ciscat it only "
                              "makes HTML reports and fix scripts, if present."],
        ["assessor", None, None, "With --scanner ciscat: the CIS-CAT Pro Assessor v4 bundle's Assessor-CLI.sh."],
        ["benchmark", None, None, "With --scanner ciscat: the CIS benchmark (XCCDF) file to assess."],
        ["content", None, None, "SCAP source data stream or XCCDF file (default: the host's SCAP Security "
                                "Guide content if it has some for its OS, else cemscan's bundled benchmark)."],
        ["profile", None, None, "XCCDF profile id (default: the content's standard or first profile)."],
        ["state-dir", None, "/var/lib/cemscan", "Folder for reports and state."],
        ["scan-timeout", None, "3600", "Seconds a scan may run before it is killed."],
        ["keep", None, "10", "How many scan folders (ARF, output, result) to keep under the state dir."],
        ["token-file", None, None, "File holding a bearer token (mode 600): every endpoint but /health then "
                                   "requires 'Authorization: Bearer <token>'."],
    ]

    def parseOptions(self, options: Optional[list] = None) -> None:
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            if getattr(self, "parent", None) is None:
                raise
            # Parsed as twistd's subcommand: twistd 22.4 (Debian bookworm)
            # prints a usage error and then exits 0, which would tell
            # systemd and scripts that a misconfigured daemon started fine.
            sys.stderr.write("twistd cemscan: %s\nRun 'twistd cemscan --help' for the options.\n" % (e,))
            raise SystemExit(1) from e

    def postOptions(self) -> None:
        self["port"] = _number("port", self["port"], 1, 65535, int)
        self["scan-timeout"] = _number("scan-timeout", self["scan-timeout"], 1, 7 * 24 * 3600)
        self["keep"] = _number("keep", self["keep"], 1, 100000, int)
        if self["scanner"] not in SCANNERS:
            raise usage.UsageError("--scanner: %r is not one of %s" % (self["scanner"], ", ".join(SCANNERS)))
        if self["listen"] is not None:
            _check_endpoint(self["listen"])
        if self["scanner"] == "ciscat":
            option, path = "--benchmark", self._ciscat_benchmark()
        else:
            self["oscap"] = _find_oscap(self["oscap"])
            option, path = "--content", self["content"] or scap_content.find_default_content(
                scap_content.read_os_release())
        # Absolute: the scanner runs in its scan folder, not in our cwd.
        path = os.path.abspath(path)
        try:
            self["content"] = scap_content.load_content(path)
        except scap_content.ContentError as e:
            raise usage.UsageError("%s: %s" % (option, e)) from e
        profile = self["profile"] or self["content"].default_profile()
        if profile not in self["content"].profiles:
            raise usage.UsageError("--profile: unknown profile %r; %s accepts: %s" % (
                profile, path, ", ".join(sorted(self["content"].profiles))))
        self["profile"] = profile
        self["state-dir"] = _writable_dir(self["state-dir"])
        self["token"] = None
        if self["token-file"] is not None:
            try:
                self["token"] = auth.read_token_file(self["token-file"])
            except auth.TokenFileError as e:
                raise usage.UsageError("--token-file: %s" % (e,)) from e


    def _ciscat_benchmark(self) -> str:
        """CIS-CAT needs its assessor and a benchmark; oscap is optional (reports)."""
        for option in ("assessor", "benchmark"):
            if not self[option]:
                raise usage.UsageError("--%s: required with --scanner ciscat" % option)
        assessor = self["assessor"]
        if not (os.path.isfile(assessor) and os.access(assessor, os.X_OK)):
            raise usage.UsageError("--assessor: %s is not an executable file (the bundle's Assessor-CLI.sh)"
                                   % assessor)
        self["assessor"] = os.path.abspath(assessor)
        try:
            self["oscap"] = _find_oscap(self["oscap"])
        except usage.UsageError:
            self["oscap"] = None  # no HTML reports or fix scripts then: GET /report says so
        return self["benchmark"]


def _check_endpoint(description: str) -> None:
    try:
        # Building the endpoint parses the description without touching a
        # reactor (none is passed), so nothing listens before makeService.
        endpoints.serverFromString(None, description)
    except (ValueError, TypeError, KeyError) as e:
        raise usage.UsageError("--listen: %r is not a usable endpoint description: %s" % (description, e)) from e


def _find_oscap(path: Optional[str]) -> str:
    if path is None:
        found = shutil.which("oscap")
        if found is None:
            raise usage.UsageError("--oscap: no oscap on PATH; install openscap-scanner or pass --oscap PATH")
        return found
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise usage.UsageError("--oscap: %s is not an executable file" % path)
    return os.path.abspath(path)


def _writable_dir(path: str) -> str:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise usage.UsageError("--state-dir: cannot create %s: %s" % (path, e.strerror or e)) from e
    if not os.access(path, os.W_OK | os.X_OK):
        raise usage.UsageError("--state-dir: %s is not writable" % path)
    return os.path.abspath(path)


class ScanManagerService(service.Service):
    """Takes up the saved state when the daemon starts; stops a running scan when it stops."""

    def __init__(self, manager: ScanManager) -> None:
        self.manager = manager

    def startService(self) -> None:
        service.Service.startService(self)
        self.manager.restore()

    def stopService(self) -> Any:
        service.Service.stopService(self)
        return self.manager.shutdown()


def _scanner(config: Options) -> Any:
    if config["scanner"] == "ciscat":
        return CISCAT(config["assessor"], config["content"].path)
    return OpenSCAP(config["oscap"], config["content"].path)


def makeService(config: Options, reactor: Any = None) -> service.MultiService:
    if reactor is None:
        from twisted.internet import reactor

    def in_thread(f: Any, *args: Any) -> Any:
        return threads.deferToThreadPool(reactor, reactor.getThreadPool(), f, *args)

    manager = ScanManager(
        reactor=reactor,
        scanner=_scanner(config),
        content=config["content"],
        default_profile=config["profile"],
        state_dir=config["state-dir"],
        parse_arf=lambda path: in_thread(arf.parse_arf, path),
        scan_timeout=config["scan-timeout"],
        store=StateStore(config["state-dir"], run_in_thread=in_thread),
        keep=config["keep"],
    )
    listen = config["listen"] or "tcp:%d:interface=%s" % (config["port"], config["interface"].replace(":", "\\:"))
    top = service.MultiService()
    ScanManagerService(manager).setServiceParent(top)
    guard = auth.TokenGuard(config["token"]) if config["token"] else None
    reports = ReportMaker(reactor, config["oscap"], scanner_environment(os.environ))
    site = json_site(build_root(manager, guard, reports), reactor=reactor)
    strports.service(listen, site, reactor=reactor).setServiceParent(top)
    return top
