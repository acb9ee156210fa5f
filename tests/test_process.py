"""Scanner process supervision: output, bounds, TERM-then-KILL, process groups."""

import os
import select
import signal
import sys
import textwrap

import pytest_twisted

from cemscan import process
from cemscan.process import ScannerProcess, scanner_environment
from tests.fakes import FakeProcessReactor, KillRecorder


def make(reactor, tmp_path, killpg, lines=None, **kw):
    return ScannerProcess(reactor=reactor, argv=["/bin/scanner", "--flag"], env={"PATH": "/bin"},
                          workdir=str(tmp_path), on_line=(lines.append if lines is not None else lambda l: None),
                          killpg=killpg, **kw)


def test_environment_keeps_only_what_a_scanner_needs():
    env = scanner_environment({"PATH": "/x", "HOME": "/root", "AWS_SECRET": "s", "OSCAP_FULL_VALIDATION": "1",
                               "TMPDIR": "/var/tmp"})
    assert env == {"PATH": "/x", "LANG": "C.UTF-8", "HOME": "/root", "OSCAP_FULL_VALIDATION": "1",
                   "TMPDIR": "/var/tmp"}
    assert scanner_environment({})["PATH"] == process.DEFAULT_PATH


def test_lines_are_split_across_chunks_and_logged_to_disk(tmp_path):
    reactor, lines = FakeProcessReactor(), []
    ended = make(reactor, tmp_path, KillRecorder(), lines).start()
    spawned = reactor.spawned[0]
    spawned.stdout(b"a:pass\nb:f")
    spawned.stdout(b"ail\r\nc:pa")
    spawned.end(0)
    assert lines == ["a:pass", "b:fail", "c:pa"]
    assert (tmp_path / "stdout.log").read_bytes() == b"a:pass\nb:fail\r\nc:pa"
    assert ended.result.exit_code == 0


def test_overlong_line_is_cut_not_kept_whole(tmp_path):
    reactor, lines = FakeProcessReactor(), []
    make(reactor, tmp_path, KillRecorder(), lines).start()
    for _ in range(4):
        reactor.spawned[0].stdout(b"x" * process.MAX_LINE_BYTES)
    reactor.spawned[0].stdout(b"\n")
    assert len(lines) == 1 and len(lines[0]) == process.MAX_LINE_BYTES


def test_stderr_tail_is_bounded_but_whole_on_disk(tmp_path):
    reactor = FakeProcessReactor()
    ended = make(reactor, tmp_path, KillRecorder()).start()
    chunk = b"e" * 1000 + b"\n"
    for _ in range(100):
        reactor.spawned[0].stderr(chunk)
    reactor.spawned[0].stderr(b"the last words\n")
    reactor.spawned[0].end(1)
    tail = ended.result.stderr_tail
    assert len(tail) == process.STDERR_TAIL_BYTES and tail.endswith("the last words\n")
    assert (tmp_path / "stderr.log").stat().st_size == 100 * len(chunk) + len(b"the last words\n")
    assert ended.result.exit_code == 1


def test_scanner_runs_in_its_own_session(tmp_path):
    reactor = FakeProcessReactor()
    make(reactor, tmp_path, KillRecorder(), setsid="/usr/bin/setsid").start()
    assert reactor.spawned[0].args == ["/usr/bin/setsid", "/bin/scanner", "--flag"]
    assert reactor.spawned[0].executable == "/usr/bin/setsid"


def test_leftovers_in_the_group_are_killed_when_the_scanner_exits(tmp_path):
    reactor, killpg = FakeProcessReactor(), KillRecorder()
    make(reactor, tmp_path, killpg).start()
    reactor.spawned[0].end(2)
    assert killpg.calls == [(reactor.spawned[0].pid, signal.SIGKILL)]


def test_timeout_sends_term_then_kill_and_says_why(tmp_path):
    reactor, killpg = FakeProcessReactor(), KillRecorder()
    ended = make(reactor, tmp_path, killpg, timeout=60, kill_grace=10).start()
    pid = reactor.spawned[0].pid
    reactor.advance(60)
    assert killpg.calls == [(pid, signal.SIGTERM)]
    reactor.advance(9.9)
    assert len(killpg.calls) == 1
    reactor.advance(0.1)
    assert killpg.calls[-1] == (pid, signal.SIGKILL)
    reactor.spawned[0].end(None, signal.SIGKILL)
    assert ended.result.stopped_because == "timed out after 60s"
    assert ended.result.signal == signal.SIGKILL


def test_no_kill_when_the_scanner_ends_during_the_grace_period(tmp_path):
    reactor, killpg = FakeProcessReactor(), KillRecorder()
    make(reactor, tmp_path, killpg, timeout=60, kill_grace=10).start()
    reactor.advance(60)
    killpg.gone = True
    reactor.spawned[0].end(None, signal.SIGTERM)
    reactor.advance(100)
    assert [sig for _, sig in killpg.calls] == [signal.SIGTERM, signal.SIGKILL]  # the exit-time sweep only
    assert reactor.getDelayedCalls() == []


def test_timers_are_cancelled_when_the_scan_ends_in_time(tmp_path):
    reactor = FakeProcessReactor()
    make(reactor, tmp_path, KillRecorder(), timeout=60).start()
    reactor.spawned[0].end(0)
    assert reactor.getDelayedCalls() == []


def test_stop_twice_signals_once(tmp_path):
    reactor, killpg = FakeProcessReactor(), KillRecorder()
    proc = make(reactor, tmp_path, killpg)
    proc.start()
    proc.stop("cancelled")
    proc.stop("cancelled again")
    assert killpg.calls == [(reactor.spawned[0].pid, signal.SIGTERM)]


def test_stop_after_the_end_signals_nothing(tmp_path):
    reactor, killpg = FakeProcessReactor(), KillRecorder()
    proc = make(reactor, tmp_path, killpg)
    proc.start()
    reactor.spawned[0].end(0)
    del killpg.calls[:]
    proc.stop("too late")
    assert killpg.calls == []


def test_spawn_error_fails_the_deferred(tmp_path):
    reactor = FakeProcessReactor(spawn_error=OSError(2, "No such file"))
    ended = make(reactor, tmp_path, KillRecorder()).start()
    failure = []
    ended.addErrback(failure.append)
    assert failure and failure[0].check(OSError)


def test_unwritable_workdir_fails_the_deferred(tmp_path):
    ended = make(FakeProcessReactor(), tmp_path / "missing", KillRecorder()).start()
    failure = []
    ended.addErrback(failure.append)
    assert failure and failure[0].check(OSError)


# --- the real thing: a scanner that forks a child which would outlive it ---

def _exits_soon(pid: int, within: float = 5.0) -> bool:
    """True once pid has exited (a zombie counts: nobody reaps orphans here).

    A killed process closes its pipes before it turns into a zombie, so
    right after processEnded it may still be on its way out: wait for the
    kernel's word (a pidfd turns readable at exit) rather than sleeping.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(within * 1000))
    finally:
        os.close(fd)


FORKING_SCANNER = textwrap.dedent("""
    import os, sys, time
    child = os.fork()
    if child == 0:
        time.sleep(600)
        os._exit(0)
    with open(sys.argv[1], "w") as f:
        f.write(str(child))
    print("xccdf_started:pass", flush=True)
    if sys.argv[2] == "hang":
        time.sleep(600)
""")


def _forking_scanner(tmp_path, mode, timeout):
    from twisted.internet import reactor

    script = tmp_path / "scanner.py"
    script.write_text(FORKING_SCANNER)
    pidfile = tmp_path / "child.pid"
    lines = []
    proc = ScannerProcess(reactor=reactor, argv=[sys.executable, str(script), str(pidfile), mode],
                          env=scanner_environment(os.environ), workdir=str(tmp_path), on_line=lines.append,
                          timeout=timeout, kill_grace=0.5)
    return proc, pidfile, lines


@pytest_twisted.inlineCallbacks
def test_real_timeout_kills_scanner_and_grandchild(tmp_path):
    proc, pidfile, lines = _forking_scanner(tmp_path, "hang", timeout=1.0)
    outcome = yield proc.start()
    assert outcome.stopped_because == "timed out after 1s"
    assert outcome.signal == signal.SIGTERM
    assert lines == ["xccdf_started:pass"]
    child = int(pidfile.read_text())
    assert _exits_soon(child), "the scanner's child outlived the timeout"


@pytest_twisted.inlineCallbacks
def test_real_scanner_exit_does_not_wait_for_its_grandchild(tmp_path):
    # Without the group sweep at exit, the sleeping child holds the pipes
    # and processEnded (so the scan) would wait 600 s for it.
    proc, pidfile, _ = _forking_scanner(tmp_path, "exit", timeout=30.0)
    outcome = yield proc.start()
    assert outcome.exit_code == 0 and outcome.stopped_because is None
    assert _exits_soon(int(pidfile.read_text())), "the scanner's child outlived it"
