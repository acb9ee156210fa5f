"""Test doubles for the daemon: a process reactor on a Clock, a content stub."""

from typing import Any, List, Optional

import attr
from twisted.internet import error
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from cemscan.content import Content, Profile


@attr.s
class FakeProcessTransport:
    pid: int = attr.ib()


@attr.s
class Spawned:
    """One spawnProcess call, with ways to make the process say and do things."""

    protocol: Any = attr.ib()
    executable: str = attr.ib()
    args: List[str] = attr.ib()
    env: dict = attr.ib()
    path: Optional[str] = attr.ib()
    pid: int = attr.ib()

    def stdout(self, data: bytes) -> None:
        self.protocol.outReceived(data)

    def stderr(self, data: bytes) -> None:
        self.protocol.errReceived(data)

    def end(self, exit_code: Optional[int] = 0, signal: Optional[int] = None) -> None:
        """The scanner exits, then its pipes close: what Twisted reports, in order."""
        if exit_code == 0 and signal is None:
            reason = Failure(error.ProcessDone(0))
        else:
            reason = Failure(error.ProcessTerminated(exitCode=exit_code, signal=signal))
        self.protocol.processExited(reason)
        self.protocol.processEnded(reason)


class FakeProcessReactor(Clock):
    """A Clock that also records spawnProcess calls (MemoryReactor has none)."""

    def __init__(self, spawn_error: Optional[Exception] = None) -> None:
        super().__init__()
        self.spawned: List[Spawned] = []
        self.spawn_error = spawn_error

    def spawnProcess(self, protocol: Any, executable: str, args: List[str] = (), env: Optional[dict] = None,
                     path: Optional[str] = None, uid: Any = None, gid: Any = None, usePTY: Any = 0,
                     childFDs: Any = None) -> FakeProcessTransport:
        if self.spawn_error is not None:
            raise self.spawn_error
        pid = 4000 + len(self.spawned)
        transport = FakeProcessTransport(pid)
        protocol.makeConnection(transport)
        self.spawned.append(Spawned(protocol, executable, list(args), dict(env or {}), path, pid))
        return transport


class KillRecorder:
    """Stands in for os.killpg; can pretend the group is already gone."""

    def __init__(self) -> None:
        self.calls: List[tuple] = []
        self.gone = False

    def __call__(self, pgid: int, sig: int) -> None:
        self.calls.append((pgid, sig))
        if self.gone:
            raise ProcessLookupError(pgid)


def content(path: str = "/content/ds.xml", **rule_counts: int) -> Content:
    """A Content with the named profiles and rule counts (default: two profiles)."""
    counts = rule_counts or {"xccdf_t_profile_a": 3, "xccdf_t_profile_b": 2}
    return Content(path, {pid: Profile(pid, pid.title(), n) for pid, n in counts.items()})
