"""Running one scanner process, supervised: its output, its end, its timeout.

The scanner runs in a process group of its own (``setsid``), so that a
timeout or a shutdown can kill it *and everything it started*: Twisted's
``processEnded`` only fires once every holder of the child's pipes is gone,
and a grandchild that inherited them would otherwise keep a scan "running"
for ever.  Termination follows ``twisted.runner.procmon``: SIGTERM, then
SIGKILL after a grace period, both on ``callLater``.
"""

import collections
import os
import signal
from typing import IO, Callable, Deque, List, Mapping, Optional

import attr
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

#: The child's environment when the daemon's own says nothing better:
#: ``spawnProcess(env={})`` would give the scanner an empty one.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Bytes of stderr kept in memory for the error result; the rest is on disk.
STDERR_TAIL_BYTES = 8192
#: Longest stdout line handed on; a longer one is cut (it is still on disk).
MAX_LINE_BYTES = 65536


def scanner_environment(parent: Mapping[str, str]) -> dict:
    """A sane, small environment: PATH, a UTF-8 locale, HOME, and OSCAP_* knobs."""
    env = {
        "PATH": parent.get("PATH") or DEFAULT_PATH,
        "LANG": "C.UTF-8",
        "HOME": parent.get("HOME") or "/",
    }
    for key, value in parent.items():
        if key.startswith("OSCAP_") or key == "TMPDIR":
            env[key] = value
    return env


@attr.s(frozen=True)
class ProcessOutcome:
    """How a scanner process ended."""

    exit_code: Optional[int] = attr.ib()
    signal: Optional[int] = attr.ib()
    stderr_tail: str = attr.ib()
    #: Why the daemon stopped it ("timed out after 3600s", "cancelled"), if it did.
    stopped_because: Optional[str] = attr.ib(default=None)


def interrupted(outcome: ProcessOutcome, scanner: str) -> Optional[str]:
    """Why a run ended before its own end (stopped by the daemon, or killed), in words."""
    if outcome.stopped_because:
        return "scan %s" % outcome.stopped_because
    if outcome.signal is not None:
        return "%s was killed by signal %d" % (scanner, outcome.signal)
    return None


class _ScannerProtocol(ProcessProtocol):
    """Streams stdout lines to a callback, keeps a stderr tail, logs both to disk."""

    def __init__(self, on_line: Callable[[str], None], stdout_log: IO[bytes], stderr_log: IO[bytes],
                 on_exit: Callable[[], None], ended: defer.Deferred) -> None:
        self._on_line = on_line
        self._stdout_log = stdout_log
        self._stderr_log = stderr_log
        self._on_exit = on_exit
        self._ended = ended
        self._partial = b""
        self._stderr: Deque[bytes] = collections.deque()
        self._stderr_size = 0

    def outReceived(self, data: bytes) -> None:
        self._stdout_log.write(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()[-MAX_LINE_BYTES:]
        for line in lines:
            self._on_line(line[:MAX_LINE_BYTES].decode("utf-8", "replace").rstrip("\r"))

    def errReceived(self, data: bytes) -> None:
        self._stderr_log.write(data)
        self._stderr.append(data)
        self._stderr_size += len(data)
        while self._stderr_size - len(self._stderr[0]) >= STDERR_TAIL_BYTES:
            self._stderr_size -= len(self._stderr.popleft())

    def stderr_tail(self) -> str:
        return b"".join(self._stderr)[-STDERR_TAIL_BYTES:].decode("utf-8", "replace")

    def processExited(self, reason: Failure) -> None:
        # The scanner itself is gone; whatever it left in its group would
        # hold our pipes open and keep processEnded from ever firing.
        self._on_exit()

    def processEnded(self, reason: Failure) -> None:
        if self._partial:
            self._on_line(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        for log in (self._stdout_log, self._stderr_log):
            log.close()
        exit_code = getattr(reason.value, "exitCode", None)
        sig = getattr(reason.value, "signal", None)
        self._ended.callback((exit_code, sig))


@attr.s
class ScannerProcess:
    """One supervised scanner run; ``start()`` once, then ``ended`` fires."""

    log = Logger()

    reactor: IReactorProcess = attr.ib()
    argv: List[str] = attr.ib()
    env: Mapping[str, str] = attr.ib()
    workdir: str = attr.ib()
    on_line: Callable[[str], None] = attr.ib()
    timeout: Optional[float] = attr.ib(default=None)
    kill_grace: float = attr.ib(default=10.0)
    killpg: Callable[[int, int], None] = attr.ib(default=os.killpg)
    setsid: str = attr.ib(default="setsid")

    pid: Optional[int] = attr.ib(init=False, default=None)
    _protocol: Optional[_ScannerProtocol] = attr.ib(init=False, default=None)
    _timers: List[IDelayedCall] = attr.ib(init=False, factory=list)
    _stopped_because: Optional[str] = attr.ib(init=False, default=None)
    _running: bool = attr.ib(init=False, default=False)

    def start(self) -> "defer.Deferred[ProcessOutcome]":
        """Spawn the scanner; the Deferred fires with its ProcessOutcome.

        Spawning errors (an unwritable scan folder, a missing ``setsid``)
        fail the Deferred rather than raise, so the caller has one path.
        """
        ended: defer.Deferred = defer.Deferred()
        try:
            stdout_log = open(os.path.join(self.workdir, "stdout.log"), "wb")
            stderr_log = open(os.path.join(self.workdir, "stderr.log"), "wb")
        except OSError as e:
            return defer.fail(e)
        self._protocol = _ScannerProtocol(self.on_line, stdout_log, stderr_log, self._reap_group, ended)
        argv = [self.setsid] + list(self.argv)
        try:
            transport = self.reactor.spawnProcess(self._protocol, argv[0], argv, env=dict(self.env), path=self.workdir)
        except OSError as e:
            stdout_log.close()
            stderr_log.close()
            return defer.fail(e)
        self.pid = transport.pid
        self._running = True
        self.log.info("scanner started: pid {pid} argv {argv}", pid=self.pid, argv=self.argv)
        if self.timeout is not None:
            self._timers.append(self._clock.callLater(
                self.timeout, self.stop, "timed out after %gs" % self.timeout))
        return ended.addCallback(self._finish)

    @property
    def _clock(self) -> IReactorTime:
        return self.reactor  # type: ignore[return-value]

    def stop(self, why: str) -> None:
        """TERM the whole process group now, KILL it after the grace period."""
        if not self._running or self._stopped_because is not None:
            return
        self._stopped_because = why
        self.log.warn("stopping scanner pid {pid}: {why}", pid=self.pid, why=why)
        self._signal_group(signal.SIGTERM)
        self._timers.append(self._clock.callLater(self.kill_grace, self._signal_group, signal.SIGKILL))

    def _reap_group(self) -> None:
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: int) -> None:
        if self.pid is None:
            return
        try:
            self.killpg(self.pid, sig)
        except ProcessLookupError:
            pass  # the group is empty: nothing left to stop
        except PermissionError as e:
            self.log.error("cannot signal scanner group {pid}: {error}", pid=self.pid, error=e)

    def _finish(self, codes: tuple) -> ProcessOutcome:
        self._running = False
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        del self._timers[:]
        exit_code, sig = codes
        assert self._protocol is not None
        return ProcessOutcome(exit_code, sig, self._protocol.stderr_tail(), self._stopped_because)


def _stat_fields(pid: int, proc: str) -> Optional[List[str]]:
    """Fields of /proc/PID/stat after the command name (field 3 onwards)."""
    try:
        with open(os.path.join(proc, str(pid), "stat"), "rb") as f:
            return f.read().rsplit(b")", 1)[1].decode("ascii", "replace").split()
    except (OSError, IndexError):
        return None


def start_time(pid: int, proc: str = "/proc") -> Optional[int]:
    """When ``pid`` started (clock ticks since boot): tells a reused pid from ours."""
    fields = _stat_fields(pid, proc)
    return int(fields[19]) if fields else None


def group_is_ours(pgid: int, started: Optional[int], proc: str = "/proc") -> bool:
    """Does process group ``pgid`` still hold processes of the scanner we started?

    While its leader lives, the leader's start time must match.  Once the
    leader is gone, any member left is ours: the kernel gives no new process
    a pid that is still in use as a process group id.
    """
    leader = _stat_fields(pgid, proc)
    if leader is not None and leader[0] != "Z":
        return started is not None and int(leader[19]) == started
    for entry in os.listdir(proc):
        if entry.isdigit() and entry != str(pgid):
            fields = _stat_fields(int(entry), proc)
            if fields and fields[0] != "Z" and fields[2] == str(pgid):
                return True
    return False
