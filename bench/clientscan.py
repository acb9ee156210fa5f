"""Scan with cemscan.client.DaemonClient, as it is, and say when each result was in hand.

    python bench/clientscan.py PORT [PORT...]  [--poll-interval S]

One DaemonClient per daemon on 127.0.0.1, all at once in one reactor, with
the client's defaults (poll interval 10 s unless given).  Prints JSON: per
port, when ``scan()`` was called and when its Result arrived (wall clock).
"""

import argparse
import json
import sys
import time
from typing import Any, Dict, List

from twisted.internet import defer, task


async def scan_one(reactor: Any, port: int, poll_interval: Any) -> Dict[str, Any]:
    from cemscan.client import DaemonClient

    kwargs = {} if poll_interval is None else {"poll_interval": poll_interval}
    client = DaemonClient("127.0.0.1", port, reactor=reactor, **kwargs)
    started = time.time()
    try:
        result = await client.scan("bench-%d" % port)
        return {"port": port, "called": started, "result_at": time.time(), "score": result.score, "error": None}
    except Exception as e:  # a failure is a figure too
        return {"port": port, "called": started, "result_at": time.time(), "score": None, "error": repr(e)}


def main(reactor: Any) -> "defer.Deferred[None]":
    parser = argparse.ArgumentParser()
    parser.add_argument("ports", nargs="+", type=int)
    parser.add_argument("--poll-interval", type=float, default=None)
    args = parser.parse_args()

    async def run() -> None:
        results: List[Dict[str, Any]] = await defer.gatherResults(
            [defer.ensureDeferred(scan_one(reactor, port, args.poll_interval)) for port in args.ports])
        print(json.dumps(results))

    return defer.ensureDeferred(run())


if __name__ == "__main__":
    task.react(main)
    sys.exit(0)
