"""Reports of the last scan: its ARF, an HTML report, remediation scripts.

HTML reports and fix scripts are made on demand from the scan's ARF with
``oscap xccdf generate`` (never during the scan: ``--report`` in eval costs a
lot of memory on big content), once per scan and format, then served from
the scan folder.  oscap writes to a temporary name that is renamed when it
succeeds, so a half-written report is never served, even after a restart.
"""

import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

import attr
from twisted.internet import defer, utils
from twisted.logger import Logger



@attr.s(frozen=True)
class Format:
    #: Where it is made in the scan folder (None: the scanner's own ARF).
    filename: Optional[str] = attr.ib()
    content_type: bytes = attr.ib()
    #: ``oscap`` arguments before ``--output``, None for the ARF itself.
    generate: Optional[Tuple[str, ...]] = attr.ib()


FORMATS: Dict[str, Format] = {
    "arf": Format(None, b"application/xml", None),
    "html": Format("report.html", b"text/html; charset=utf-8", ("xccdf", "generate", "report")),
    "bash": Format("fix.sh", b"text/x-shellscript; charset=utf-8",
                   ("xccdf", "generate", "fix", "--fix-type", "bash")),
    "ansible": Format("fix.yml", b"application/yaml; charset=utf-8",
                      ("xccdf", "generate", "fix", "--fix-type", "ansible")),
}
#: Bytes of oscap's stderr quoted in an error.
STDERR_QUOTE = 2000


class ReportError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@attr.s
class ReportMaker:
    log = Logger()

    reactor: Any = attr.ib()
    #: None where oscap is not installed (a CIS-CAT node): only the ARF then.
    oscap: Optional[str] = attr.ib()
    env: Mapping[str, str] = attr.ib()
    _making: Dict[str, List[defer.Deferred]] = attr.ib(init=False, factory=dict)

    def report(self, arf: str, fmt: str, test_result_id: Optional[str]) -> defer.Deferred:
        """Fires with the path of the report on the scan whose ARF is ``arf``, made first if need be."""
        spec = FORMATS[fmt]
        scan_dir = os.path.dirname(arf)
        if not os.path.isfile(arf):
            return defer.fail(ReportError(404, "scan folder %s holds no ARF to report on" % scan_dir))
        if spec.filename is None:
            return defer.succeed(arf)
        if self.oscap is None:
            return defer.fail(ReportError(501, "%s reports are made by oscap, which this node lacks: install "
                                               "openscap-scanner, or fetch format=arf" % fmt))
        path = os.path.join(scan_dir, spec.filename)
        if os.path.isfile(path):
            return defer.succeed(path)
        waiter: defer.Deferred = defer.Deferred(lambda d: self._making.get(path, []).remove(d))
        if path not in self._making:
            self._making[path] = []
            self._generate(spec, path, arf, scan_dir, test_result_id)
        self._making[path].append(waiter)
        return waiter

    def _generate(self, spec: Format, path: str, arf: str, scan_dir: str, test_result_id: Optional[str]) -> None:
        assert spec.generate is not None and self.oscap is not None
        args = list(spec.generate)
        if test_result_id and "fix" in args:
            # Fixes for the rules that failed in this scan, not the whole profile.
            args += ["--result-id", test_result_id]
        tmp = path + ".tmp"
        args += ["--output", tmp, arf]
        self.log.info("making {path}: oscap {args}", path=path, args=args)
        d = utils.getProcessOutputAndValue(self.oscap, args, env=dict(self.env), path=scan_dir, reactor=self.reactor)
        d.addCallback(self._check, path, tmp)
        d.addBoth(self._deliver, path)

    def _check(self, output: Tuple[bytes, bytes, int], path: str, tmp: str) -> str:
        _, err, code = output
        if code != 0 or not os.path.isfile(tmp):
            raise ReportError(500, "oscap could not make %s (exit code %s): %s" % (
                os.path.basename(path), code, err.decode("utf-8", "replace")[-STDERR_QUOTE:].strip()))
        os.replace(tmp, path)
        return path

    def _deliver(self, outcome: Any, path: str) -> None:
        for waiter in self._making.pop(path, []):
            if isinstance(outcome, str):
                waiter.callback(outcome)
            elif outcome.check(ReportError):
                waiter.errback(outcome)
            else:  # the process could not run, or died of a signal
                waiter.errback(ReportError(500, "oscap could not make %s: %s" % (
                    os.path.basename(path), outcome.getErrorMessage())))
