"""Parse what a user types to name a node: HOST, HOST:PORT, http:// or https://HOST:PORT.

One parser serves the command line and the config file's ``host`` key, so the
two accept exactly the same spellings and reject them with the same words.
``https://`` is the only way to ask for TLS: a daemon serves one or the other
on a port, so the scheme belongs to the target, not to a global flag.
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
    """One daemon to talk to; ``tls`` when it was named with https://.

    Its text is ``host:port`` either way: that names the node in messages,
    reports and result file names, whatever the scheme.
    """

    host: str
    port: int = DEFAULT_PORT
    tls: bool = False

    def __str__(self) -> str:
        return hostport(self.host, self.port)

    @property
    def argument(self) -> str:
        """How to name this target on a command line again (advice the user can paste)."""
        return f"https://{self}" if self.tls else str(self)


def parse_target(text: str, default_port: int = DEFAULT_PORT) -> Target:
    """Turn ``text`` into a Target; a missing port means ``default_port``.

    Raises TargetError with the text as typed, so a typo among a thousand
    targets is easy to find.
    """
    raw = text.strip()
    if not raw:
        raise TargetError("empty target: give HOST, HOST:PORT, http://HOST:PORT or https://HOST:PORT")
    scheme, has_scheme, rest = raw.partition("://")
    if not has_scheme:
        scheme, rest = "http", raw
    elif scheme.lower() not in ("http", "https"):
        raise TargetError(f"target {text!r}: the daemon speaks http:// or https://, not {scheme}://")
    tls = scheme.lower() == "https"
    if _is_ipv6(rest):
        return Target(rest, default_port, tls)
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
    return Target(host, default_port if port is None else port, tls)


def _is_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False
