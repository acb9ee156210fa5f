"""Bearer-token access to the daemon.

The token lives in a file only root can read: the daemon refuses to start
with a file that others can read, since anyone holding the token can start
root scans and read the node's weaknesses.  Comparison is constant-time and
the token is never logged (twisted.web's access log has no headers).
"""

import hmac
import os
import stat
from typing import Optional

import attr
from twisted.web import http, server

from cemscan.jsonweb import JSONEndpoint, write_json


class TokenFileError(Exception):
    """The token file is missing, empty, or readable by others."""


def read_token_file(path: str) -> bytes:
    try:
        info = os.stat(path)
        with open(path, "rb") as f:
            token = f.read().strip()
    except OSError as e:
        raise TokenFileError("cannot read %s: %s" % (path, e.strerror or e)) from e
    if not stat.S_ISREG(info.st_mode):
        raise TokenFileError("%s is not a regular file" % path)
    if info.st_mode & 0o077:
        raise TokenFileError("%s can be read or written by others (mode %04o); run: chmod 600 %s"
                             % (path, stat.S_IMODE(info.st_mode), path))
    if not token:
        raise TokenFileError("%s is empty; put the token in it (e.g. openssl rand -hex 32 > %s)" % (path, path))
    if b"\n" in token or not all(33 <= c < 127 for c in token):
        raise TokenFileError("%s must hold one line of printable ASCII (no spaces)" % path)
    return token


def bearer_token(request: server.Request) -> Optional[bytes]:
    """The credentials of an ``Authorization: Bearer <token>`` header, if any."""
    header = request.getHeader(b"authorization")
    if header is None:
        return None
    if isinstance(header, str):  # tolerate a str from test doubles
        header = header.encode("latin-1")
    scheme, _, credentials = header.strip().partition(b" ")
    return credentials.strip() if scheme.lower() == b"bearer" else None


@attr.s(frozen=True)
class TokenGuard:
    token: bytes = attr.ib(repr=False)

    def allows(self, request: server.Request) -> bool:
        offered = bearer_token(request)
        return offered is not None and hmac.compare_digest(offered, self.token)


class Unauthorized(JSONEndpoint):
    def render(self, request: server.Request) -> bytes:
        request.setHeader(b"www-authenticate", b'Bearer realm="cemscan"')
        return write_json(request, http.UNAUTHORIZED, {
            "error": "missing or wrong token: send the header 'Authorization: Bearer <token>' "
                     "with the token from the daemon's --token-file"})
