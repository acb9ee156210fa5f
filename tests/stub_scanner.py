"""A stand-in for oscap whose running time is the test's to choose.

It sleeps (that sleep *is* the scan), copies the test benchmark's ARF
(tests/content/test-arf.xml) to the path after ``--results-arf``, notes the
time it exits and exits 2, as oscap does when rules failed. A real daemon
(``--oscap PATH``) then reports that ARF's result: score 60, 3 passed,
2 failed, 1 not applicable, 1 not checked.
"""

import os
import sys

import attr

ARF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "content", "test-arf.xml")

_SCRIPT = """#!{python}
import shutil, sys, time
time.sleep({seconds!r})
shutil.copy({arf!r}, sys.argv[sys.argv.index("--results-arf") + 1])
with open({stamp!r}, "w") as f:
    f.write(repr(time.time()))
sys.exit(2)
"""


@attr.s(frozen=True, auto_attribs=True)
class StubScanner:
    path: str
    stamp: str

    def exited_at(self) -> float:
        """When the last scan's scanner exited (``time.time()``, as the real reactor's clock)."""
        with open(self.stamp) as f:
            return float(f.read())


def write_stub_scanner(folder: str, seconds: float) -> StubScanner:
    """An executable stub scanner in ``folder`` whose scans take ``seconds``."""
    stub = StubScanner(os.path.join(folder, "oscap-stub"), os.path.join(folder, "oscap-stub.exited"))
    with open(stub.path, "w") as f:
        f.write(_SCRIPT.format(python=sys.executable, seconds=seconds, arf=ARF, stamp=stub.stamp))
    os.chmod(stub.path, 0o755)
    return stub
