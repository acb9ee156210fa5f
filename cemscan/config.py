"""The fleet configuration file (TOML), checked key by key.

    threshold = 80.0                  # default pass mark, 0-100
    scan_output = "scan-results"      # folder for one result JSON per test case

    [daemon]                          # how to talk to every node's daemon
    port = 8084
    ready_timeout = 60
    poll_interval = 10
    http_timeout = 1800               # deadline for a whole scan
    request_timeout = 60              # deadline for one request
    token_file = "cemscan.token"      # the daemons' bearer token (--token-file)
    ca_file = "cemscan-ca.pem"        # CA for https:// daemons (else the system's)

    [test_thresholds]                 # pass marks per test case
    cis-level1 = 90.0

    [[targets]]                       # one per node
    host = "node1.example.com"        # HOST, HOST:PORT, http:// or https://HOST:PORT
    port = 8084                       # optional; else [daemon] port
    test_case = "cis-level1"          # optional; else HOST:PORT
    profile = "xccdf_..._profile_cis" # optional; else the daemon's default
    threshold = 85.0                  # optional; else [test_thresholds], threshold

A file that is wrong fails as a whole, before any scan starts, with
``FILE:LINE: KEY: problem``. tomllib reports positions only for syntax
errors, so the line of a bad value is found in the text here. Unknown keys
are errors: a misspelt ``thresold`` would otherwise pass every node silently
at the default threshold. Relative paths (scan_output, token_file, ca_file)
are taken from the file's folder, so a config works from any directory.
"""

import difflib
import os
import re
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import attr

from cemscan.client import (
    DEFAULT_HTTP_TIMEOUT,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_READY_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT,
)
from cemscan.errors import ConfigError, TargetError
from cemscan.targets import DEFAULT_PORT, parse_target

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

DEFAULT_THRESHOLD = 80.0

Path = Tuple[Any, ...]  # keys, and 1-based positions in arrays of tables


@attr.s(frozen=True, auto_attribs=True, kw_only=True)
class TargetEntry:
    """One ``[[targets]]`` table; unset fields fall back to the wider settings."""

    host: str
    port: Optional[int] = None
    test_case: Optional[str] = None
    profile: Optional[str] = None
    threshold: Optional[float] = None


@attr.s(frozen=True, auto_attribs=True, kw_only=True)
class Config:
    """A checked configuration; the defaults are what an empty file means."""

    port: int = DEFAULT_PORT
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    poll_interval: float = DEFAULT_POLL_INTERVAL
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    threshold: float = DEFAULT_THRESHOLD
    test_thresholds: Mapping[str, float] = attr.Factory(dict)
    scan_output: Optional[str] = None
    token_file: Optional[str] = None
    ca_file: Optional[str] = None
    targets: Tuple[TargetEntry, ...] = ()


_PATHS = ("scan_output", "token_file", "ca_file")


def load_config(path: str) -> Config:
    """Read and check ``path``; relative paths in it are taken from the file's folder."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the configuration: {e}") from e
    config = parse_config(text, source=path)
    folder = os.path.dirname(os.path.abspath(path))
    return attr.evolve(config, **{key: os.path.join(folder, getattr(config, key))
                                  for key in _PATHS if getattr(config, key) is not None})


def read_token(path: str) -> str:
    """The bearer token in the file ``path`` (one line; surrounding white space dropped).

    Unlike the daemon, the runner does not insist on mode 600: its token
    often comes from a CI system's secret store, whose file modes it does
    not choose. Errors name the file, never its content.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read the token file {path}: {e.strerror or e}") from e
    return check_token(raw.decode("latin-1"), f"the token file {path}")


def check_token(text: str, source: str) -> str:
    """``text`` stripped, if it can be a bearer token; ``source`` names it in the error."""
    token = text.strip()
    if not token:
        raise ConfigError(f"{source} is empty; it must hold the daemon's token")
    if not all(33 <= ord(c) < 127 for c in token):
        raise ConfigError(f"{source} must hold one line of printable ASCII (no spaces): "
                          f"the token in the daemon's --token-file")
    return token


def parse_config(text: str, source: str = "<config>") -> Config:
    """Check TOML ``text``; ``source`` names it in messages."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"at line (\d+)", str(e))
        where = f"{source}:{line.group(1)}" if line else source
        raise ConfigError(f"{where}: invalid TOML: {e}") from e
    return _Checker(text, source).config(document)


class _Invalid(Exception):
    """A value's problem, in words, before the checker adds key and line."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _port(value: Any) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535):
        raise _Invalid(f"must be a port number from 1 to 65535, not {value!r}")
    return value


def _seconds(value: Any) -> float:
    if not (_is_number(value) and value > 0):
        raise _Invalid(f"must be a positive number of seconds, not {value!r}")
    return float(value)


def _threshold(value: Any) -> float:
    if not (_is_number(value) and 0 <= value <= 100):
        raise _Invalid(f"must be a score from 0 to 100, not {value!r}")
    return float(value)


def _text(value: Any) -> str:
    if not (isinstance(value, str) and value.strip()):
        raise _Invalid(f"must be a non-empty string, not {value!r}")
    return value


def _host(value: Any) -> str:
    try:
        parse_target(_text(value))
    except TargetError as e:
        raise _Invalid(str(e)) from e
    return value


def _as_is(value: Any) -> Any:
    return value


Fields = Mapping[str, Callable[[Any], Any]]

_TOP: Fields = {"threshold": _threshold, "scan_output": _text, "daemon": _as_is,
                "test_thresholds": _as_is, "targets": _as_is}
_DAEMON: Fields = {"port": _port, "ready_timeout": _seconds, "poll_interval": _seconds,
                   "http_timeout": _seconds, "request_timeout": _seconds, "token_file": _text,
                   "ca_file": _text}
_TARGET: Fields = {"host": _host, "port": _port, "test_case": _text, "profile": _text,
                   "threshold": _threshold}


@attr.s(auto_attribs=True)
class _Checker:
    text: str
    source: str

    def config(self, document: Dict[str, Any]) -> Config:
        top = self.table(document, (), _TOP)
        daemon = self.table(top.pop("daemon", {}), ("daemon",), _DAEMON)
        thresholds = self.table(top.pop("test_thresholds", {}), ("test_thresholds",), {},
                                any_key=_threshold)
        targets = tuple(TargetEntry(**entry) for entry in self.targets(top.pop("targets", [])))
        return Config(test_thresholds=thresholds, targets=targets, **daemon, **top)

    def targets(self, value: Any) -> list:
        if not isinstance(value, list):
            raise self.error(("targets",), "must be an array of tables: write each as [[targets]]")
        entries = []
        for position, entry in enumerate(value, 1):
            checked = self.table(entry, ("targets", position), _TARGET)
            if "host" not in checked:
                raise self.error(("targets", position), "this target has no host")
            entries.append(checked)
        return entries

    def table(self, value: Any, path: Path, fields: Fields,
              any_key: Optional[Callable[[Any], Any]] = None) -> Dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, f"must be a table, not {value!r}")
        checked = {}
        for key, item in value.items():
            check = fields.get(key, any_key)
            if check is None:
                raise self.error(path + (key,), _unknown(key, fields))
            try:
                checked[key] = check(item)
            except _Invalid as e:
                raise self.error(path + (key,), str(e)) from None
        return checked

    def error(self, path: Path, problem: str) -> ConfigError:
        line = _line_of(self.text, path)
        where = f"{self.source}:{line}" if line else self.source
        return ConfigError(f"{where}: {_dotted(path)}: {problem}")


def _unknown(key: str, fields: Fields) -> str:
    guess = difflib.get_close_matches(key, list(fields), n=1)
    hint = f"did you mean {guess[0]!r}? " if guess else ""
    return f"unknown key; {hint}known keys here: {', '.join(sorted(fields))}"


def _dotted(path: Path) -> str:
    if not path:
        return "(top level)"
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else ("." if name else "") + part
    return name


_PART = r'(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')'
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]")
_KEY = re.compile(rf"^\s*({_DOTTED})\s*=")


def _split(dotted: str) -> Tuple[str, ...]:
    return tuple(part.strip('"\'') for part in re.findall(_PART, dotted))


def _line_of(text: str, path: Path) -> Optional[int]:
    """The line that defines ``path``, or failing that its nearest enclosing table or key.

    Tables and arrays of tables are followed as TOML defines them; a value
    inside an inline table or array reports the line of the key holding it.
    """
    table: Path = ()
    counts: Dict[Path, int] = {}
    best_line, best_depth = None, -1
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        key = None if header else _KEY.match(line)
        if header:
            table = _split(header.group(2))
            if header.group(1) == "[[":
                counts[table] = counts.get(table, 0) + 1
                table += (counts[table],)
            defined = table
        elif key:
            defined = table + _split(key.group(1))
        else:
            continue
        if path[:len(defined)] == defined and len(defined) > best_depth:
            best_line, best_depth = number, len(defined)
    return best_line
