"""What changed since the previous scan of the same profile on this node.

A score says how a node stands; drift says what moved: the rule that
started failing after last night's package upgrade is the one to look at.
"""

from typing import Any, Dict, List, Optional

PASSING = ("pass", "fixed")


def compare(previous: Optional[Dict[str, Any]], rules: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Drift from ``previous`` (a result, or None for a first scan) to ``rules``."""
    if previous is None:
        return None
    before = {r["id"]: r["result"] for r in previous.get("rules", [])}
    now = {r["id"]: r["result"] for r in rules}
    both = now.keys() & before.keys()
    return {
        "previous_scan_id": previous.get("scan_id"),
        "newly_failing": sorted(i for i in both if now[i] == "fail" and before[i] != "fail"),
        "newly_passing": sorted(i for i in both if now[i] in PASSING and before[i] not in PASSING),
        "appeared": sorted(now.keys() - before.keys()),
        "disappeared": sorted(before.keys() - now.keys()),
    }
