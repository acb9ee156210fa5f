"""Writing the daemon's state so that a restart loses nothing."""

import json
import os

import pytest

from cemscan import store
from cemscan.store import StateStore, prune_scans, write_json_atomic
from tests.conftest import in_this_thread


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = str(tmp_path / "x.json")
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"b": 2})
    assert json.loads((tmp_path / "x.json").read_text()) == {"b": 2}
    assert os.listdir(tmp_path) == ["x.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "x.json")
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"not json": object()})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}


def test_state_and_result_round_trip(tmp_path):
    s = StateStore(str(tmp_path), in_this_thread)
    scan_dir = tmp_path / "scans" / "s1"
    scan_dir.mkdir(parents=True)
    s.save_result(str(scan_dir), {"score": 50.0})
    s.save_state("done", {"id": "s1", "directory": str(scan_dir)})
    assert s.load() == {"version": store.FORMAT_VERSION, "state": "done",
                        "scan": {"id": "s1", "directory": str(scan_dir)}, "result": {"score": 50.0}}


def test_running_state_has_no_result(tmp_path):
    s = StateStore(str(tmp_path), in_this_thread)
    s.save_state("running", {"id": "s1", "directory": str(tmp_path / "gone")})
    assert "result" not in s.load()


def test_lost_result_file_is_said_not_hidden(tmp_path):
    s = StateStore(str(tmp_path), in_this_thread)
    s.save_state("done", {"id": "s1", "directory": str(tmp_path / "gone")})
    assert s.load()["result"]["error"].startswith("the result of scan s1 was lost")


@pytest.mark.parametrize("text", ["{broken", '{"version": 99}', "[]"])
def test_unreadable_or_foreign_state_is_ignored(tmp_path, text):
    (tmp_path / store.STATE_FILE).write_text(text)
    assert StateStore(str(tmp_path), in_this_thread).load() is None


def test_no_state_file_is_a_first_start(tmp_path):
    assert StateStore(str(tmp_path), in_this_thread).load() is None


def test_write_errors_reach_the_caller(tmp_path):
    s = StateStore(str(tmp_path / "missing"), in_this_thread)
    failures = []
    s.save_state("done", {}).addErrback(failures.append)
    assert failures and failures[0].check(FileNotFoundError)


def test_prune_keeps_the_newest_and_the_current(tmp_path):
    for name in ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z", "20260104T000000Z"]:
        (tmp_path / name).mkdir()
    removed = prune_scans(str(tmp_path), keep=2, current=str(tmp_path / "20260104T000000Z"))
    assert removed == ["20260101T000000Z", "20260102T000000Z"]
    assert sorted(os.listdir(tmp_path)) == ["20260103T000000Z", "20260104T000000Z"]


def test_prune_never_touches_a_newer_scan_and_counts_past_nine(tmp_path):
    # Many scans in one second: .10 is newer than .9. Found by make soak: a
    # prune after scan .11 used to delete the running scan .12's folder.
    names = ["20261204T173734Z"] + ["20261204T173734Z.%d" % n for n in range(1, 13)]
    for name in names:
        (tmp_path / name).mkdir()
    removed = prune_scans(str(tmp_path), keep=3, current=str(tmp_path / "20261204T173734Z.11"))
    assert sorted(os.listdir(tmp_path), key=store.scan_order) == [
        "20261204T173734Z.9", "20261204T173734Z.10", "20261204T173734Z.11", "20261204T173734Z.12"]
    assert "20261204T173734Z.12" not in removed


def test_prune_without_scans_folder(tmp_path):
    assert prune_scans(str(tmp_path / "none"), keep=1, current="") == []
