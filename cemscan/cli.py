"""The ``cemscan`` command: scan a fleet, or ask one node's daemon how it is doing.

    cemscan scan TARGET... [--config FILE] [--port P] [--profile ID] [--threshold N]
                 [--poll-interval S] [--ready-timeout S] [--timeout S] [--output DIR]
                 [--json] [--junit FILE]
    cemscan status TARGET [--port P] [--json]
    cemscan result TARGET [--port P] [--threshold N] [--json]

Exit status: 0 every target meets its threshold, 1 some target is below it,
2 some target could not be scanned (or the command line or config is wrong).
Every target runs concurrently in one reactor; a user's mistake is one line
on stderr, never a traceback.
"""

import argparse
import json
import os
import re
import sys
from typing import IO, Any, Callable, Dict, List, Optional, Sequence

from twisted.internet import defer
from twisted.python.failure import Failure

from cemscan import __version__, fleet, progress
from cemscan.client import DaemonClient
from cemscan.config import DEFAULT_THRESHOLD, Config, load_config
from cemscan.errors import CemscanError
from cemscan.junit import write_junit
from cemscan.keepalive import make_http_client
from cemscan.targets import DEFAULT_PORT, Target, parse_target

#: Requests in flight at once across the whole fleet: well under the usual
#: limit of 1024 open files, and plenty to poll thousands of nodes every 10 s.
MAX_REQUESTS_IN_FLIGHT = 256


def _number(kind: Callable[[str], Any], low: float, high: Optional[float] = None
            ) -> Callable[[str], Any]:
    """An argparse type: a number from ``low`` to ``high``, or above ``low`` if no ``high``."""
    wanted = f"a number from {low:g} to {high:g}" if high is not None else f"a number above {low:g}"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not (low <= value <= high if high is not None else value > low):
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}")
        return value

    return parse


_PORT = _number(int, 1, 65535)
_SECONDS = _number(float, 0)
_THRESHOLD = _number(float, 0, 100)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cemscan", description="Run compliance scans through cemscan daemons and judge them.",
        epilog="TARGET is HOST, HOST:PORT or http://HOST:PORT. Exit status: 0 all targets pass, "
               "1 some are below their threshold, 2 some could not be scanned.")
    parser.add_argument("--version", action="version", version=f"cemscan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    scan = commands.add_parser("scan", help="scan targets concurrently and judge each result")
    scan.add_argument("targets", nargs="*", metavar="TARGET",
                      help="a node to scan (more can come from --config)")
    scan.add_argument("--config", metavar="FILE", help="TOML file with defaults and [[targets]]")
    scan.add_argument("--profile", metavar="ID", help="profile for targets without their own "
                                                      "(default: the daemon's)")
    scan.add_argument("--threshold", type=_THRESHOLD, metavar="N",
                      help=f"pass mark for targets without their own (default {DEFAULT_THRESHOLD:g})")
    scan.add_argument("--poll-interval", type=_SECONDS, metavar="S", help="seconds between polls")
    scan.add_argument("--ready-timeout", type=_SECONDS, metavar="S",
                      help="how long to wait for a daemon to become ready")
    scan.add_argument("--timeout", type=_SECONDS, metavar="S",
                      help="deadline for a whole scan, kickoff to result")
    scan.add_argument("--output", metavar="DIR", help="write each test case's result JSON here")
    scan.add_argument("--junit", metavar="FILE", help="write a JUnit XML report here")

    status = commands.add_parser("status", help="show what a target's daemon is doing")
    status.add_argument("target", metavar="TARGET")

    result = commands.add_parser("result", help="fetch and judge a target's last result")
    result.add_argument("target", metavar="TARGET")
    result.add_argument("--threshold", type=_THRESHOLD, metavar="N",
                        help=f"pass mark (default {DEFAULT_THRESHOLD:g})")

    for command in (scan, status, result):
        command.add_argument("--port", type=_PORT, metavar="P",
                             help=f"daemon port for targets that name none (default {DEFAULT_PORT})")
        command.add_argument("--json", action="store_true", help="print JSON on stdout")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point: parse, run in the global reactor, return the exit status."""
    args = build_parser().parse_args(argv)
    from twisted.internet import reactor

    return _run_reactor(reactor, lambda: run(args, reactor=reactor, stdout=sys.stdout,
                                             stderr=sys.stderr))


def run(args: argparse.Namespace, *, reactor: Any, stdout: IO[str],
        stderr: IO[str]) -> "defer.Deferred[int]":
    """Run a parsed command in a running ``reactor``; fire with the exit status.

    This is `main` without owning the reactor, so tests run commands in theirs.
    """
    command = {"scan": _scan, "status": _status, "result": _result}[args.command]

    async def guarded() -> int:
        try:
            return await command(args, reactor, stdout, stderr)
        except (CemscanError, OSError) as e:
            stderr.write(f"cemscan: error: {e}\n")
            return 2

    return defer.ensureDeferred(guarded())


async def _scan(args: argparse.Namespace, reactor: Any, stdout: IO[str], stderr: IO[str]) -> int:
    config = load_config(args.config) if args.config else Config()
    jobs = _plan(args, config)
    output = args.output or config.scan_output
    if output:
        _check_distinct_test_cases(jobs)
        os.makedirs(output, exist_ok=True)
    display = progress.for_stream(stderr if args.json else stdout, reactor)
    http_client = make_http_client(reactor)
    limiter = defer.DeferredSemaphore(MAX_REQUESTS_IN_FLIGHT)

    def client_for(job: fleet.Job) -> DaemonClient:
        return DaemonClient(
            job.target.host, job.target.port,
            ready_timeout=_first(args.ready_timeout, config.ready_timeout),
            http_timeout=_first(args.timeout, config.http_timeout),
            poll_interval=_first(args.poll_interval, config.poll_interval),
            request_timeout=config.request_timeout,
            reactor=reactor, http_client=http_client, on_progress=display.update, limiter=limiter)

    def on_outcome(outcome: fleet.Outcome) -> None:
        display.finished(outcome)
        if output:
            _write_json(os.path.join(output, _file_name(outcome.job.test_case)), outcome.to_dict())

    display.begin(jobs)
    outcomes = await fleet.scan_all(jobs, client_for, on_outcome)
    display.summary(outcomes)
    if args.json:
        _print_json(stdout, [outcome.to_dict() for outcome in outcomes])
    if args.junit:
        write_junit(args.junit, outcomes)
    return fleet.exit_code(outcomes)


async def _status(args: argparse.Namespace, reactor: Any, stdout: IO[str], stderr: IO[str]) -> int:
    client = _single_client(_single_target(args), reactor)
    status = await client.status()
    if args.json:
        _print_json(stdout, status)
    else:
        stdout.write(progress.describe_status(client.where, status) + "\n")
    return 0


async def _result(args: argparse.Namespace, reactor: Any, stdout: IO[str], stderr: IO[str]) -> int:
    target = _single_target(args)
    client = _single_client(target, reactor)
    threshold = _first(args.threshold, DEFAULT_THRESHOLD)
    job = fleet.Job(target, str(target), None, threshold)
    try:
        outcome = fleet.Outcome(job, result=await client.result(threshold=threshold))
    except CemscanError as e:
        outcome = fleet.Outcome(job, error=str(e))
    if args.json:
        _print_json(stdout, outcome.to_dict())
    else:
        stdout.write(f"{client.where}: {progress.describe_outcome(outcome)}\n")
        for rule in outcome.result.failed_rules if outcome.result else ():
            stdout.write(f"  {rule}\n")
    return fleet.exit_code([outcome])


def _plan(args: argparse.Namespace, config: Config) -> List[fleet.Job]:
    """Jobs from the command line and the config file.

    Precedence, most specific first: a [[targets]] entry's own setting, then
    [test_thresholds] for its test case, then the command-line flag, then
    the file's top-level default.
    """
    port = args.port or config.port
    default_threshold = _first(args.threshold, config.threshold)

    def job(host: str, own_port: Optional[int], test_case: Optional[str], profile: Optional[str],
            threshold: Optional[float]) -> fleet.Job:
        target = parse_target(host, own_port or port)
        case = test_case or str(target)
        return fleet.Job(target, case, profile or args.profile,
                         _first(threshold, config.test_thresholds.get(case), default_threshold))

    jobs = [job(text, None, None, None, None) for text in args.targets]
    jobs += [job(entry.host, entry.port, entry.test_case, entry.profile, entry.threshold)
             for entry in config.targets]
    if not jobs:
        raise CemscanError("nothing to scan: give one or more TARGETs, or a --config file "
                           "with [[targets]]")
    return jobs


def _single_target(args: argparse.Namespace) -> Target:
    return parse_target(args.target, args.port or DEFAULT_PORT)


def _single_client(target: Target, reactor: Any) -> DaemonClient:
    return DaemonClient(target.host, target.port, reactor=reactor,
                        http_client=make_http_client(reactor))


def _check_distinct_test_cases(jobs: Sequence[fleet.Job]) -> None:
    seen: Dict[str, fleet.Job] = {}
    for job in jobs:
        name = _file_name(job.test_case)
        if name in seen:
            raise CemscanError(
                f"targets {seen[name].target} and {job.target} would both write {name}: give "
                f"each its own test_case in the config file, or drop --output/scan_output")
        seen[name] = job


def _file_name(test_case: str) -> str:
    """A test case's result file: its name, made safe for any file system."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", test_case) + ".json"


def _write_json(path: str, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        _print_json(f, data)


def _print_json(stream: IO[str], data: Any) -> None:
    stream.write(json.dumps(data, indent=2) + "\n")


def _first(*values: Any) -> Any:
    """The first value that was given (not None): flags over files over defaults."""
    return next(value for value in values if value is not None)


def _run_reactor(reactor: Any, start: Callable[[], "defer.Deferred[int]"]) -> int:
    """Run ``reactor`` until ``start()``'s Deferred fires; its value is the exit status."""
    codes: List[int] = []

    def report_bug(failure: Failure) -> int:
        failure.printTraceback(file=sys.stderr)
        return 2

    def go() -> None:
        d = defer.maybeDeferred(start).addErrback(report_bug)
        d.addCallback(codes.append).addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run()
    if not codes:
        sys.stderr.write("cemscan: interrupted\n")
        return 130
    return codes[0]


if __name__ == "__main__":
    sys.exit(main())
