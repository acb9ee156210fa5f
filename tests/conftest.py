"""Fixtures shared by the daemon's tests."""

import functools
import os
from typing import Any, Callable, Iterable, Optional

import pytest
from twisted.internet import defer

from cemscan.arf import parse_arf
from cemscan.openscap import OpenSCAP
from cemscan.process import ScannerProcess
from cemscan.state import ScanManager
from cemscan.store import StateStore
from tests import arfgen, fakes

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_CONTENT = os.path.join(HERE, "content", "test-ds.xml")


@pytest.fixture
def reactor() -> fakes.FakeProcessReactor:
    return fakes.FakeProcessReactor()


@pytest.fixture
def killpg() -> fakes.KillRecorder:
    return fakes.KillRecorder()


@pytest.fixture
def scanner(tmp_path: Any) -> OpenSCAP:
    """An OpenSCAP whose binary and content exist (the fake reactor never runs them)."""
    binary = tmp_path / "oscap"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    content = tmp_path / "ds.xml"
    content.write_text("<x/>")
    return OpenSCAP(str(binary), str(content))


@pytest.fixture
def make_manager(tmp_path: Any, reactor: fakes.FakeProcessReactor, killpg: fakes.KillRecorder,
                 scanner: OpenSCAP) -> Callable[..., ScanManager]:
    def make(**overrides: Any) -> ScanManager:
        args = dict(
            reactor=reactor,
            scanner=scanner,
            content=fakes.content(scanner.content),
            default_profile="xccdf_t_profile_a",
            state_dir=str(tmp_path / "state"),
            parse_arf=lambda path: defer.maybeDeferred(parse_arf, path),
            scan_timeout=100.0,
            environ={"PATH": "/usr/bin:/bin", "SECRET": "x", "OSCAP_PROBE_ROOT": "/mnt"},
            process_factory=functools.partial(ScannerProcess, killpg=killpg, kill_grace=5.0),
            store=StateStore(str(tmp_path / "state"), run_in_thread=in_this_thread),
            killpg=killpg,
            group_is_ours=lambda pgid, started: False,
        )
        args.update(overrides)
        return ScanManager(**args)

    return make


def in_this_thread(f: Callable, *args: Any) -> defer.Deferred:
    """What the store runs in a worker thread, run here: tests stay synchronous."""
    return defer.maybeDeferred(f, *args)


def finish_with_arf(spawned: fakes.Spawned, results: Iterable[str], exit_code: Optional[int] = 2,
                    score: Optional[float] = 50.0) -> None:
    """The fake oscap writes an ARF with these rule results and exits."""
    arf_path = spawned.args[spawned.args.index("--results-arf") + 1]
    with open(arf_path, "w") as f:
        arfgen.write_arf(f, arfgen.rules_with(results), score=score)
    spawned.end(exit_code)
