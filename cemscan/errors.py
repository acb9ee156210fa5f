"""The errors cemscan raises for a person to read.

Every error here ends up as a one-line message on a terminal or in a CI log,
so each one is raised with a message that names what failed (the daemon's
host:port, the config key and line, the target as typed) and what to do next.
They share `CemscanError` so the command can tell a user's problem, which it
reports in one line, from a bug, which keeps its traceback.
"""

from typing import Any, Optional


class CemscanError(Exception):
    """Base class: a problem the user can act on, not a bug."""


class DaemonNotReadyError(CemscanError):
    """The daemon did not answer ``GET /health`` with 200 within ready_timeout."""


class DaemonUnreachableError(CemscanError):
    """A single request (``cemscan status``/``result``) could not reach the daemon."""


class ScannerInvocationError(CemscanError):
    """The daemon answered, but the scan cannot go on or failed.

    ``status`` and ``body`` keep the daemon's answer (when there was one) for
    callers that want more than the message, e.g. to tell a 409 from a 404.
    """

    def __init__(self, message: str, *, status: Optional[int] = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class UnauthorizedError(ScannerInvocationError):
    """The daemon answered 401: its token is missing or wrong. Never retried."""


class TLSError(CemscanError):
    """A daemon's certificate is not trusted or does not fit, or a CA file is unusable.

    Retrying cannot help (the certificate will not change by itself), so a
    target fails at once with what to do instead of waiting out its timeouts.
    """


class ConfigError(CemscanError):
    """The configuration file cannot be used; the message names key and line."""


class TargetError(CemscanError, ValueError):
    """A TARGET argument or config ``host`` is not HOST, HOST:PORT, http:// or https://HOST:PORT."""
