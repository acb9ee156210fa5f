"""The scan state machine, on a fake process reactor and a Clock."""

import os
import signal

import pytest
from twisted.internet import defer

from cemscan.store import write_json_atomic
from cemscan.state import NothingRunning, ScanAlreadyRunning, State, UnknownProfile, isoformat
from tests.conftest import finish_with_arf


def test_idle_until_started(make_manager):
    manager = make_manager()
    assert manager.state is State.IDLE
    assert manager.status() == {"state": "idle"}
    assert manager.result() is None


def test_scan_runs_oscap_with_profile_and_arf_in_its_own_folder(make_manager, reactor, scanner):
    manager = make_manager()
    scan = manager.start()
    assert manager.state is State.RUNNING
    [spawned] = reactor.spawned
    assert spawned.args[0] == "setsid"
    assert spawned.args[1:] == [scanner.binary, "xccdf", "eval", "--progress", "--profile", "xccdf_t_profile_a",
                                "--results-arf", os.path.join(scan.directory, "arf.xml"), scanner.content]
    assert spawned.path == scan.directory and os.path.isdir(scan.directory)
    assert os.path.dirname(scan.directory) == os.path.join(manager.state_dir, "scans")


def test_child_environment_is_small_and_sane(make_manager, reactor):
    make_manager().start()
    env = reactor.spawned[0].env
    assert env == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/", "OSCAP_PROBE_ROOT": "/mnt"}


def test_second_start_while_running_is_refused_and_spawns_nothing(make_manager, reactor):
    manager = make_manager()
    first = manager.start()
    with pytest.raises(ScanAlreadyRunning) as raised:
        manager.start()
    assert raised.value.scan_id == first.id
    assert len(reactor.spawned) == 1


def test_unknown_profile_lists_accepted(make_manager, reactor):
    with pytest.raises(UnknownProfile) as raised:
        make_manager().start("nope")
    assert "xccdf_t_profile_a, xccdf_t_profile_b" in str(raised.value)
    assert reactor.spawned == []


def test_progress_counts_rule_lines_only(make_manager, reactor):
    manager = make_manager()
    manager.start("xccdf_t_profile_b")
    reactor.advance(7.5)
    reactor.spawned[0].stdout(b"xccdf_r_one:pass\nnoise line\nxccdf_r_t")
    reactor.spawned[0].stdout(b"wo:fail\n")
    status = manager.status()
    assert status["state"] == "running"
    assert status["progress"] == {"rules_done": 2, "rules_total": 2}
    assert status["elapsed_s"] == 7.5
    assert status["profile"] == "xccdf_t_profile_b"
    assert "finished_at" not in status


def test_done_result_counts_and_meta(make_manager, reactor):
    manager = make_manager()
    scan = manager.start()
    reactor.advance(30)
    finish_with_arf(reactor.spawned[0], ["pass", "fail", "notapplicable", "pass", "notselected"], exit_code=2)
    assert manager.state is State.DONE
    result = manager.result()
    assert result["passed_count"] == 2 and result["failed_count"] == 1 and result["not_applicable_count"] == 1
    assert result["score"] == 66.67 and result["native_score"] == 50.0
    assert len(result["rules"]) == 4
    assert result["scan_id"] == scan.id and result["profile"] == "xccdf_t_profile_a"
    assert result["scanner"] == "openscap" and result["duration_s"] == 30
    assert result["started_at"] == isoformat(0) and result["finished_at"] == isoformat(30)
    assert manager.status()["finished_at"] == isoformat(30)


def test_exit_zero_is_done_too(make_manager, reactor):
    manager = make_manager()
    manager.start()
    finish_with_arf(reactor.spawned[0], ["pass"], exit_code=0)
    assert manager.state is State.DONE


@pytest.mark.parametrize("exit_code, sig, words", [
    (1, None, "oscap failed with exit code 1"),
    (3, None, "unexpected exit code 3"),
    (None, signal.SIGSEGV, "killed by signal %d" % signal.SIGSEGV),
])
def test_failed_scanner_is_an_error_with_exit_code_and_stderr(make_manager, reactor, exit_code, sig, words):
    manager = make_manager()
    manager.start()
    reactor.spawned[0].stderr(b"OpenSCAP Error: something broke\n")
    reactor.spawned[0].end(exit_code, sig)
    assert manager.state is State.ERROR
    result = manager.result()
    assert words in result["error"]
    assert result["exit_code"] == exit_code and result["signal"] == sig
    assert "something broke" in result["stderr"]
    assert result["scan_id"] == manager.current.id


def test_missing_arf_after_success_is_an_error(make_manager, reactor):
    manager = make_manager()
    manager.start()
    reactor.spawned[0].end(0)
    result = manager.result()
    assert manager.state is State.ERROR
    assert "results cannot be read" in result["error"] and "arf.xml" in result["error"]
    assert result["exit_code"] == 0


def test_unparseable_arf_is_an_error(make_manager, reactor):
    manager = make_manager()
    scan = manager.start()
    with open(os.path.join(scan.directory, "arf.xml"), "w") as f:
        f.write("<truncated")
    reactor.spawned[0].end(2)
    assert manager.state is State.ERROR
    assert "not well-formed" in manager.result()["error"]


def test_parse_failure_of_another_kind_still_ends_the_scan(make_manager, reactor):
    manager = make_manager(parse_arf=lambda path: defer.fail(RuntimeError("boom")))
    manager.start()
    reactor.spawned[0].end(2)
    assert manager.state is State.ERROR
    assert manager.result()["error"] == "internal error during the scan: boom"


def test_missing_binary_is_an_error_without_spawning(make_manager, reactor, scanner):
    os.unlink(scanner.binary)
    manager = make_manager()
    manager.start()
    assert manager.state is State.ERROR
    assert manager.result()["error"] == "cannot scan: missing scanner binary %s" % scanner.binary
    assert reactor.spawned == []


def test_unwritable_state_dir_is_an_error_naming_the_path(make_manager, reactor, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    manager = make_manager(state_dir=str(blocker))
    scan = manager.start()
    assert manager.state is State.ERROR
    assert manager.result()["error"].startswith("cannot create the scan folder %s" % scan.directory)


def test_spawn_failure_is_an_error(make_manager, reactor):
    reactor.spawn_error = OSError(7, "Argument list too long")
    manager = make_manager()
    manager.start()
    assert manager.state is State.ERROR
    assert "cannot start the scanner" in manager.result()["error"]


def test_timeout_terms_then_kills_the_group_and_ends_in_error(make_manager, reactor, killpg):
    manager = make_manager(scan_timeout=100.0)
    manager.start()
    pid = reactor.spawned[0].pid
    reactor.advance(99)
    assert killpg.calls == []
    reactor.advance(1)
    assert killpg.calls == [(pid, signal.SIGTERM)]
    reactor.advance(5)
    assert killpg.calls == [(pid, signal.SIGTERM), (pid, signal.SIGKILL)]
    reactor.spawned[0].end(None, signal.SIGKILL)
    assert manager.state is State.ERROR
    assert manager.result()["error"] == "scan timed out after 100s"


def test_a_new_scan_after_done_replaces_the_result(make_manager, reactor):
    manager = make_manager()
    first = manager.start()
    finish_with_arf(reactor.spawned[0], ["pass"])
    second = manager.start()
    assert second.id != first.id and second.id.startswith(first.id)
    assert manager.state is State.RUNNING and manager.result() is None
    finish_with_arf(reactor.spawned[1], ["fail"])
    assert manager.result()["scan_id"] == second.id and manager.result()["failed_count"] == 1


def test_shutdown_stops_the_running_scan_and_waits_for_it(make_manager, reactor, killpg):
    manager = make_manager()
    manager.start()
    stopped = manager.shutdown()
    assert killpg.calls == [(reactor.spawned[0].pid, signal.SIGTERM)]
    assert not stopped.called
    reactor.spawned[0].end(None, signal.SIGTERM)
    assert stopped.called
    assert manager.result()["error"] == "scan interrupted: the daemon stopped during the scan"


def test_shutdown_when_idle_is_immediate(make_manager):
    assert make_manager().shutdown().called



# --- persistence across restarts ---

def restarted(make_manager, **kw):
    """A new manager over the same state folder, as after a daemon restart."""
    manager = make_manager(**kw)
    manager.restore()
    return manager


def test_a_finished_scan_survives_a_restart_exactly(make_manager, reactor):
    first = make_manager()
    first.start()
    finish_with_arf(reactor.spawned[0], ["pass", "fail"])
    status, result = first.status(), first.result()
    again = restarted(make_manager)
    assert again.state is State.DONE
    assert again.status() == status and again.result() == result


def test_an_error_survives_a_restart(make_manager, reactor):
    first = make_manager()
    first.start()
    reactor.spawned[0].end(1)
    again = restarted(make_manager)
    assert again.state is State.ERROR and again.result() == first.result()


def test_a_scan_running_at_restart_ends_interrupted_and_its_scanner_is_killed(make_manager, reactor, killpg):
    first = make_manager()
    scan = first.start()
    pgid = reactor.spawned[0].pid
    reactor.advance(50)
    owned = []
    again = restarted(make_manager, group_is_ours=lambda g, started: owned.append(g) or True)
    assert owned == [pgid]
    assert killpg.calls == [(pgid, signal.SIGKILL)]
    assert again.state is State.ERROR
    result = again.result()
    assert result["error"] == "scan interrupted: the daemon restarted during the scan"
    assert result["scan_id"] == scan.id and result["finished_at"] == isoformat(50)
    # ...and that verdict is itself saved: a second restart says the same.
    assert restarted(make_manager).result() == result


def test_a_leftover_group_that_is_not_ours_is_left_alone(make_manager, reactor, killpg):
    make_manager().start()
    restarted(make_manager, group_is_ours=lambda g, started: False)
    assert killpg.calls == []


def test_first_start_is_idle(make_manager):
    assert restarted(make_manager).state is State.IDLE


def test_result_that_cannot_be_saved_is_an_error_naming_the_path_but_kept(make_manager, reactor):
    def disk_full(f, *args):
        if f is write_json_atomic and args[0].endswith("result.json"):
            return defer.fail(OSError(28, "No space left on device", args[0]))
        return defer.maybeDeferred(f, *args)

    manager = make_manager()
    manager.store.run_in_thread = disk_full
    scan = manager.start()
    finish_with_arf(reactor.spawned[0], ["pass"])
    result = manager.result()
    assert manager.state is State.ERROR
    assert result["error"] == "cannot save the result to %s: No space left on device" % os.path.join(
        scan.directory, "result.json")
    assert result["unsaved_result"]["passed_count"] == 1
    assert result["scan_id"] == scan.id


def test_old_scan_folders_are_pruned_to_keep(make_manager, reactor):
    manager = make_manager(keep=2)
    ids = []
    for n in range(4):
        reactor.advance(1)
        ids.append(manager.start().id)
        finish_with_arf(reactor.spawned[n], ["pass"])
    assert sorted(os.listdir(os.path.join(manager.state_dir, "scans"))) == ids[-2:]


# --- cancel ---

def test_cancel_stops_the_group_and_ends_in_error(make_manager, reactor, killpg):
    manager = make_manager()
    scan = manager.start()
    assert manager.cancel() is scan
    assert killpg.calls == [(reactor.spawned[0].pid, signal.SIGTERM)]
    reactor.spawned[0].end(None, signal.SIGTERM)
    assert manager.state is State.ERROR
    assert manager.result()["error"] == "scan cancelled by request"


def test_cancel_while_parsing_still_cancels(make_manager, reactor):
    parsing = defer.Deferred()
    manager = make_manager(parse_arf=lambda path: parsing)
    manager.start()
    reactor.spawned[0].end(0)
    manager.cancel()
    parsing.callback(None)
    assert manager.result()["error"] == "scan cancelled by request"


def test_cancel_with_nothing_running(make_manager, reactor):
    manager = make_manager()
    with pytest.raises(NothingRunning, match=r"no scan is running \(state: idle\)"):
        manager.cancel()
    manager.start()
    finish_with_arf(reactor.spawned[0], ["pass"])
    with pytest.raises(NothingRunning, match=r"state: done"):
        manager.cancel()


# --- drift ---

def test_drift_against_the_previous_scan_of_the_same_profile(make_manager, reactor):
    manager = make_manager()
    first = manager.start()
    finish_with_arf(reactor.spawned[0], ["pass", "pass", "fail"])
    assert manager.result()["drift"] is None
    reactor.advance(1)
    manager.start("xccdf_t_profile_b")  # another profile: not compared with
    finish_with_arf(reactor.spawned[1], ["fail", "fail", "fail"])
    assert manager.result()["drift"] is None
    reactor.advance(1)
    manager.start()
    finish_with_arf(reactor.spawned[2], ["pass", "fail", "pass"])
    drift = manager.result()["drift"]
    assert drift["previous_scan_id"] == first.id
    assert drift["newly_failing"] == ["xccdf_io.cemscan_rule_r1"]
    assert drift["newly_passing"] == ["xccdf_io.cemscan_rule_r2"]


def test_a_failed_scan_is_not_a_baseline(make_manager, reactor):
    manager = make_manager()
    manager.start()
    reactor.spawned[0].end(1)
    reactor.advance(1)
    manager.start()
    finish_with_arf(reactor.spawned[1], ["pass"])
    assert manager.result()["drift"] is None
