"""The daemon's memory on disk, so that a restart loses nothing.

``state.json`` in the state folder says which scan is current and in what
state; each scan folder holds its own ``result.json``.  Every file is written
whole or not at all (temp file, fsync, rename, fsync of the folder), and in a
worker thread: an fsync of a few MB on the reactor thread would stall every
request for the better part of a second.
"""

import json
import os
import shutil
from typing import Any, Callable, Dict, List, Optional, Tuple

import attr
from twisted.internet import defer
from twisted.logger import Logger

STATE_FILE = "state.json"
RESULT_FILE = "result.json"
SCANS_DIR = "scans"
FORMAT_VERSION = 1

RunInThread = Callable[..., defer.Deferred]


def write_json_atomic(path: str, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON; readers see the old or the new file."""
    tmp = path + ".tmp"
    text = json.dumps(data)  # one write: json.dump writes in many small pieces
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@attr.s
class StateStore:
    log = Logger()

    directory: str = attr.ib()
    run_in_thread: RunInThread = attr.ib()
    _lock: defer.DeferredLock = attr.ib(init=False, factory=defer.DeferredLock)

    @property
    def state_path(self) -> str:
        return os.path.join(self.directory, STATE_FILE)

    def scans_dir(self) -> str:
        return os.path.join(self.directory, SCANS_DIR)

    def load(self) -> Optional[Dict[str, Any]]:
        """The saved state with its scan's result, or None (first start, or unreadable).

        Called once at start-up, before the reactor runs, so it may block.
        """
        try:
            state = read_json(self.state_path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            self.log.error("ignoring unreadable {path}: {error}", path=self.state_path, error=e)
            return None
        if not isinstance(state, dict) or state.get("version") != FORMAT_VERSION:
            self.log.error("ignoring {path}: not a state file of this version", path=self.state_path)
            return None
        scan = state.get("scan") or {}
        if scan.get("directory") and state.get("state") in ("done", "error"):
            try:
                state["result"] = read_json(os.path.join(scan["directory"], RESULT_FILE))
            except (OSError, ValueError) as e:
                state["result"] = {"error": "the result of scan %s was lost: %s" % (scan.get("id"), e)}
        return state

    def save_state(self, state: str, scan: Optional[Dict[str, Any]]) -> defer.Deferred:
        """Record which scan is current and its state."""
        data = {"version": FORMAT_VERSION, "state": state, "scan": scan}
        return self._write(self.state_path, data)

    def save_result(self, scan_dir: str, result: Dict[str, Any]) -> defer.Deferred:
        return self._write(os.path.join(scan_dir, RESULT_FILE), result)

    def _write(self, path: str, data: Any) -> defer.Deferred:
        # One write at a time, in the order asked: a late "running" must
        # never overwrite an earlier-asked "done".
        return self._lock.run(self.run_in_thread, write_json_atomic, path, data)

    def previous_result(self, profile: str, current: str) -> defer.Deferred:
        """The newest completed result of ``profile`` before the scan in ``current`` (or None)."""
        return self.run_in_thread(find_previous_result, self.scans_dir(), profile, current)

    def prune(self, keep: int, current: str) -> defer.Deferred:
        """Delete all but the newest ``keep`` scan folders (never ``current``)."""
        return self._lock.run(self.run_in_thread, prune_scans, self.scans_dir(), keep, current)


def scan_order(name: str) -> Tuple[str, int]:
    """Sort key of a scan folder: its start second, then its number within that second.

    Scan ids are ``20261204T173734Z``, then ``20261204T173734Z.1``, ``.2``...
    for more scans in the same second; plain name order would put ``.10``
    before ``.2``.
    """
    base, _, n = name.partition(".")
    return base, int(n) if n.isdigit() else 0


def _scans_in_order(scans_dir: str) -> List[str]:
    return sorted(os.listdir(scans_dir), key=scan_order)


def prune_scans(scans_dir: str, keep: int, current: str) -> List[str]:
    """Delete the folders older than ``current`` but the newest ``keep - 1`` of them.

    Only older ones: by the time a finished scan is pruned after, the next
    scan may already be running in a newer folder, which must stay.
    """
    try:
        names = _scans_in_order(scans_dir)
    except FileNotFoundError:
        return []
    mine = os.path.basename(os.path.normpath(current))
    older = [name for name in names if scan_order(name) < scan_order(mine)]
    removed = []
    for name in older[:max(len(older) - (keep - 1), 0)]:
        shutil.rmtree(os.path.join(scans_dir, name), ignore_errors=True)
        removed.append(name)
    return removed


def find_previous_result(scans_dir: str, profile: str, current: str) -> Optional[Dict[str, Any]]:
    """Walk the scan folders newest first; at most ``--keep`` of them exist."""
    try:
        names = _scans_in_order(scans_dir)[::-1]
    except OSError:
        return None  # no history (yet, or readable): no drift, the scan itself is fine
    for name in names:
        path = os.path.join(scans_dir, name)
        if os.path.abspath(path) == os.path.abspath(current):
            continue
        try:
            result = read_json(os.path.join(path, RESULT_FILE))
        except (OSError, ValueError):
            continue  # an interrupted or pruned scan: no result to compare with
        if isinstance(result, dict) and result.get("profile") == profile and "error" not in result:
            return result
    return None
