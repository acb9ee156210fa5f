"""``make soak``: the long runs that CI has no time for.

1. One long scan (default 20 minutes) through a proxy that drops flows idle
   for more than ``--idle`` seconds, as NAT does: the client must finish it
   with the same result as on a clean path.
2. Back-to-back scans for ``--loop-seconds`` (default an hour): the daemon's
   RSS and open file descriptors are sampled and must stay flat.

The daemon runs as a real ``twistd cemscan`` process with a stub scanner (the
scanner's own duration is the scan); all traffic stays on 127.0.0.1.
Results go to a JSON file that docs/reliability.md quotes.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List

from twisted.internet import defer, task

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cemscan.client import DaemonClient  # noqa: E402
from tests.conftest import TEST_CONTENT  # noqa: E402
from tests.faultproxy import FaultProxy  # noqa: E402
from tests.twistd_process import TwistdProcess  # noqa: E402

# The duration is written into the stub: the daemon hands a scanner only a
# small environment (PATH, LANG, HOME, TMPDIR, OSCAP_*), not ours.
STUB = """#!/bin/sh
# cemscan soak stub: "scan" for %s seconds, then hand over a real ARF.
out=""
prev=""
for a in "$@"; do [ "$prev" = "--results-arf" ] && out="$a"; prev="$a"; done
sleep %s
cp %s "$out"
exit 2
"""


def make_stub(folder: str, name: str, seconds: float) -> str:
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(STUB % (seconds, seconds, os.path.join(ROOT, "tests", "content", "test-arf.xml")))
    os.chmod(path, 0o755)
    return path


def save(path: str, report: Dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(report, f, indent=1)


def daemon_stats(pid: int) -> Dict[str, int]:
    with open("/proc/%d/status" % pid) as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return {"rss_kb": rss_kb, "fds": len(os.listdir("/proc/%d/fd" % pid))}


async def long_scan(reactor: Any, args: argparse.Namespace, work: str, slow: str, report: Dict[str, Any]) -> None:
    """Phase 1: one long scan through the idle-dropping proxy, and the same result on a clean path."""
    daemon = TwistdProcess(["--listen", "tcp:0:interface=127.0.0.1", "--oscap", slow, "--content", TEST_CONTENT,
                            "--state-dir", os.path.join(work, "state"), "--keep", "3"])
    try:
        port = await daemon.port()
        proxy = FaultProxy(reactor, "127.0.0.1", port, idle_timeout=args.idle)
        listening = proxy.listen()
        through = DaemonClient("127.0.0.1", listening.getHost().port, poll_interval=10, reactor=reactor)
        direct = DaemonClient("127.0.0.1", port, poll_interval=10, reactor=reactor)
        started = time.monotonic()
        long_result = await through.scan("soak-long", threshold=50)
        report["long_scan"] = {"wall_s": round(time.monotonic() - started, 1), "score": long_result.score,
                               "failed_count": long_result.failed_count, "idle_drops": proxy.idle_drops,
                               "proxied_connections": proxy.connections}
        await listening.stopListening()
        # The same scan on a clean path must give the same result.
        report["long_scan"]["same_as_clean_path"] = (
            (await direct.result("clean", 50)).to_dict()["rules"] == long_result.to_dict()["rules"])
    finally:
        await daemon.kill("TERM")


async def soak(reactor: Any, args: argparse.Namespace) -> Dict[str, Any]:
    work = tempfile.mkdtemp(prefix="cemscan-soak-")
    slow, fast_stub = make_stub(work, "slow", args.scan_seconds), make_stub(work, "fast", 0)
    report: Dict[str, Any] = {"idle_timeout_s": args.idle, "long_scan_s": args.scan_seconds}
    if args.scan_seconds > 0:
        await long_scan(reactor, args, work, slow, report)
    save(args.out, report)
    fast = TwistdProcess(["--listen", "tcp:0:interface=127.0.0.1", "--oscap", fast_stub, "--content", TEST_CONTENT,
                          "--state-dir", os.path.join(work, "state2"), "--keep", "3"])
    samples: List[Dict[str, Any]] = []
    try:
        port = await fast.port()
        pid = fast.transport.pid
        client = DaemonClient("127.0.0.1", port, poll_interval=0.05, reactor=reactor)
        deadline = time.monotonic() + args.loop_seconds
        scans = 0
        while time.monotonic() < deadline:
            await client.scan("soak-loop", threshold=50)
            scans += 1
            if scans % args.sample_every == 0 or scans == 1:
                samples.append(dict(scans=scans, t_s=round(args.loop_seconds - (deadline - time.monotonic()), 1),
                                    **daemon_stats(pid)))
                save(args.out, dict(report, loop_samples_so_far=samples))  # a cut-short run still tells
        samples.append(dict(scans=scans, t_s=args.loop_seconds, **daemon_stats(pid)))
    finally:
        await fast.kill("TERM")
    shutil.rmtree(work, ignore_errors=True)
    settled = samples[min(1, len(samples) - 1)]
    report["loop"] = {"scans": samples[-1]["scans"], "seconds": args.loop_seconds,
                      "rss_kb_first": samples[0]["rss_kb"], "rss_kb_settled": settled["rss_kb"],
                      "rss_kb_last": samples[-1]["rss_kb"],
                      "rss_growth_kb_after_warmup": samples[-1]["rss_kb"] - settled["rss_kb"],
                      "fds_first": samples[0]["fds"], "fds_last": samples[-1]["fds"], "samples": samples}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan-seconds", type=float, default=1200.0, help="0 skips the long scan")
    parser.add_argument("--idle", type=float, default=60.0, help="the proxy drops flows idle this long")
    parser.add_argument("--loop-seconds", type=float, default=3600.0)
    parser.add_argument("--sample-every", type=int, default=500)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "soak.json"))
    args = parser.parse_args()

    def run(reactor: Any) -> defer.Deferred:
        d = defer.ensureDeferred(soak(reactor, args))
        d.addCallback(lambda report: save(args.out, report))
        return d

    task.react(run)


if __name__ == "__main__":
    main()
