"""Parse what a user types to name a node: HOST, HOST:PORT or http://HOST:PORT.

One parser serves the command line and the config file's ``host`` key, so the
two accept exactly the same spellings and reject them with the same words.
"""

import ipaddress
import re
from urllib.parse import urlsplit

import attr

from cemscan.errors import TargetError

DEFAULT_PORT = 8084

# RFC 1123 host names (letters, digits, hyphens, dots); underscores are common
# enough in lab DNS and /etc/hosts that rejecting them would only annoy.
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
                       r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$")


def hostport(host: str, port: int) -> str:
    """``host:port`` as it appears in URLs and messages (IPv6 in brackets)."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


@attr.s(frozen=True, auto_attribs=True)
class Target:
    """One daemon to talk to."""

    host: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        return hostport(self.host, self.port)


def parse_target(text: str, default_port: int = DEFAULT_PORT) -> Target:
    """Turn ``text`` into a Target; a missing port means ``default_port``.

    Raises TargetError with the text as typed, so a typo among a thousand
    targets is easy to find.
    """
    raw = text.strip()
    if not raw:
        raise TargetError("empty target: give HOST, HOST:PORT or http://HOST:PORT")
    scheme, has_scheme, rest = raw.partition("://")
    if not has_scheme:
        rest = raw
    elif scheme.lower() != "http":
        raise TargetError(f"target {text!r}: the daemon speaks plain http://, not {scheme}://")
    if _is_ipv6(rest):
        return Target(rest, default_port)
    parts = urlsplit("//" + rest)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise TargetError(f"target {text!r}: give only a host and a port, no path, query or user")
    bad_port = TargetError(f"target {text!r}: the port must be a number from 1 to 65535")
    try:
        port = parts.port
    except ValueError:
        raise bad_port from None
    if port == 0 or (port is None and rest.rstrip("/").endswith(":")):
        raise bad_port
    host = parts.hostname or ""
    if not (_is_ipv6(host) or _HOSTNAME.match(host)):
        raise TargetError(f"target {text!r}: {host or 'the host'!r} is not a host name or IP address")
    return Target(host, default_port if port is None else port)


def _is_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False
