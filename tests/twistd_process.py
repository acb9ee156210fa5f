"""``twistd cemscan`` as a real child process, watched through its log.

The test waits on what the daemon says (its log lines) and on process exit,
never on the clock.
"""

import os
import re
import sys
from typing import Dict, List, Optional, Pattern, Tuple

from twisted.internet import defer, protocol

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


class _Watcher(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.output = b""
        self.waiting: List[Tuple[Pattern[bytes], defer.Deferred]] = []
        self.ended: defer.Deferred = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        still = []
        for pattern, d in self.waiting:
            match = pattern.search(self.output)
            if match:
                d.callback(match)
            else:
                still.append((pattern, d))
        self.waiting = still

    errReceived = outReceived

    def processEnded(self, reason: object) -> None:
        for _, d in self.waiting:
            d.errback(AssertionError("twistd ended before saying that; it said:\n%s" % self.output.decode()))
        self.waiting = []
        self.ended.callback(None)  # (a Failure given to callback would errback)


class TwistdProcess:
    def __init__(self, args: List[str], env: Optional[Dict[str, str]] = None) -> None:
        from twisted.internet import reactor

        self.watcher = _Watcher()
        environ = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
        argv = TWISTD + ["--nodaemon", "--pidfile=", "cemscan"] + args
        self.transport = reactor.spawnProcess(self.watcher, argv[0], argv, env=environ, path=ROOT)

    def said(self, pattern: bytes) -> defer.Deferred:
        """Fires with the match once the log has a line matching ``pattern``."""
        compiled = re.compile(pattern)
        match = compiled.search(self.watcher.output)
        if match:
            return defer.succeed(match)
        d: defer.Deferred = defer.Deferred()
        self.watcher.waiting.append((compiled, d))
        return d

    async def port(self) -> int:
        match = await self.said(rb"Site starting on (\d+)")
        return int(match.group(1))

    async def kill(self, signal_name: str = "KILL") -> None:
        self.transport.signalProcess(signal_name)
        await self.watcher.ended
