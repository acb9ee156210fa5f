"""Run the ``cemscan`` command with changes the benchmarks recommend, applied from outside.

    python bench/variant_cli.py CHANGE[,CHANGE] scan ...

Like bench/variant.py for the daemon; nothing here is shipped.

ipendpoint  a target given as an IP address is connected to with a plain
            TCP4/TCP6 endpoint: twisted's HostnameEndpoint resolves even
            "127.0.0.1" through getaddrinfo in the reactor's thread pool and
            builds a new class for every connection.
logsink     the command begins Twisted's logging (to an observer that keeps
            warnings and worse on stderr) instead of never beginning it:
            until then Twisted keeps up to 65,536 log events in memory.
"""

import ipaddress
import sys


def ipendpoint() -> None:
    from twisted.internet import endpoints

    from cemscan import keepalive

    original = keepalive.HostnameEndpoint

    def endpoint(reactor, host, port, *args, **kwargs):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return original(reactor, host, port, *args, **kwargs)
        cls = endpoints.TCP4ClientEndpoint if address.version == 4 else endpoints.TCP6ClientEndpoint
        return cls(reactor, host, port, timeout=kwargs.get("timeout", 30))

    keepalive.HostnameEndpoint = endpoint


def logsink() -> None:
    from twisted.logger import FilteringLogObserver, LogLevel, LogLevelFilterPredicate, globalLogBeginner, \
        textFileLogObserver

    observer = FilteringLogObserver(textFileLogObserver(sys.stderr),
                                    [LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


CHANGES = {"ipendpoint": ipendpoint, "logsink": logsink, "none": lambda: None}


def main() -> int:
    for name in sys.argv[1].split(","):
        CHANGES[name]()
    from cemscan.cli import main as cli

    return cli(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
