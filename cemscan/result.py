"""A scan's outcome, typed and judged against a threshold.

The daemon's result body is JSON from another process (possibly another
version of it); `Result.from_body` is the one place that checks it, so the
rest of cemscan can trust the fields. An error body (the scanner failed, the
daemon restarted) never becomes a Result: it raises ScannerInvocationError
with the daemon's own words.
"""

from typing import Any, Dict, Mapping, Optional, Tuple

import attr

from cemscan.errors import ScannerInvocationError

_COUNTS = (
    "passed_count",
    "failed_count",
    "not_applicable_count",
    "error_count",
    "notchecked_count",
    "informational_count",
)


@attr.s(frozen=True, auto_attribs=True)
class Rule:
    """One rule's outcome as the daemon reported it."""

    id: str
    result: str
    title: str = ""
    severity: str = "unknown"

    def __str__(self) -> str:
        """How reports list a rule someone has to fix."""
        return f"{self.result}: {self.id} ({self.severity}) {self.title}".rstrip()


@attr.s(frozen=True, auto_attribs=True, kw_only=True)
class Result:
    """A finished scan of one test case, with the threshold it is judged by."""

    test_case: str
    scanner: Optional[str]
    profile: Optional[str]
    threshold: float
    score: float
    passed_count: int = 0
    failed_count: int = 0
    not_applicable_count: int = 0
    error_count: int = 0
    notchecked_count: int = 0
    informational_count: int = 0
    rules: Tuple[Rule, ...] = ()
    scan_id: Optional[str] = None
    native_score: Optional[float] = None
    content: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    duration_s: Optional[float] = None
    #: What changed since the previous scan of the profile on the node (None for a first scan).
    drift: Optional[Dict[str, Any]] = attr.ib(default=None, hash=False)

    @property
    def passed(self) -> bool:
        """Whether the score meets the threshold (a score equal to it passes)."""
        return self.score >= self.threshold

    @property
    def failed_rules(self) -> Tuple[Rule, ...]:
        """The rules a reader fixes first: those that failed or errored."""
        return tuple(rule for rule in self.rules if rule.result in ("fail", "error"))

    @property
    def newly_failing(self) -> Tuple[str, ...]:
        """Rules that failed now and did not in the previous scan: the first to look at."""
        return tuple((self.drift or {}).get("newly_failing") or ())

    @classmethod
    def from_body(
        cls,
        body: Any,
        *,
        test_case: str,
        scanner: Optional[str] = None,
        profile: Optional[str] = None,
        threshold: float = 80.0,
    ) -> "Result":
        """Check the daemon's ``GET /result`` body and build a Result from it.

        ``scanner`` and ``profile`` default to what the daemon reports, since
        a caller that let the daemon pick its default profile only learns it
        here.
        """
        if not isinstance(body, Mapping):
            raise ScannerInvocationError(
                f"result is not a JSON object but {type(body).__name__}", body=body)
        if "error" in body:
            raise ScannerInvocationError(_describe_error(body), body=body)
        return cls(
            test_case=test_case,
            scanner=scanner or _optional(body, "scanner", str),
            profile=profile or _optional(body, "profile", str),
            threshold=float(threshold),
            score=float(_required_number(body, "score")),
            rules=tuple(_rule(entry) for entry in _rule_list(body)),
            scan_id=_optional(body, "scan_id", str),
            native_score=_optional(body, "native_score", (int, float)),
            content=_optional(body, "content", str),
            started_at=_optional(body, "started_at", str),
            finished_at=_optional(body, "finished_at", str),
            duration_s=_optional(body, "duration_s", (int, float)),
            drift=_optional(body, "drift", dict),
            **{name: _count(body, name) for name in _COUNTS},
        )

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON-ready data: what ``--json`` and ``--output`` write."""
        data = attr.asdict(self)
        data["passed"] = self.passed
        return data


def _describe_error(body: Mapping[str, Any]) -> str:
    """The daemon's error message plus the exit code and stderr it gathered."""
    message = str(body["error"])
    if body.get("exit_code") is not None:
        message += f" (scanner exit code {body['exit_code']})"
    if body.get("signal") is not None:
        message += f" (scanner killed by signal {body['signal']})"
    stderr = str(body.get("stderr") or "").strip()
    if stderr:
        message += f"; scanner stderr ends: {stderr.splitlines()[-1]}"
    return message


def _is_number(value: Any) -> bool:
    # JSON true/false arrive as bool, which Python counts as int.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _required_number(body: Mapping[str, Any], key: str) -> float:
    value = body.get(key)
    if not _is_number(value):
        raise ScannerInvocationError(
            f"result has no numeric {key!r} (got {value!r})", body=body)
    return value


def _count(body: Mapping[str, Any], key: str) -> int:
    value = body.get(key, 0)
    if not _is_number(value) or value < 0 or value != int(value):
        raise ScannerInvocationError(
            f"result field {key!r} must be a count, got {value!r}", body=body)
    return int(value)


def _optional(body: Mapping[str, Any], key: str, kind: Any) -> Any:
    value = body.get(key)
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise ScannerInvocationError(f"result field {key!r} has the wrong type: {value!r}", body=body)


def _rule_list(body: Mapping[str, Any]) -> list:
    rules = body.get("rules", [])
    if not isinstance(rules, list):
        raise ScannerInvocationError(f"result field 'rules' must be a list, got {rules!r}", body=body)
    return rules


def _rule(entry: Any) -> Rule:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str) \
            or not isinstance(entry.get("result"), str):
        raise ScannerInvocationError(f"result has a rule without string 'id' and 'result': {entry!r}")
    return Rule(
        id=entry["id"],
        result=entry["result"],
        title=str(entry.get("title") or ""),
        severity=str(entry.get("severity") or "unknown"),
    )
