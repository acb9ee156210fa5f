"""The ``cemscan`` command: scan a fleet, or ask nodes' daemons how they are doing.

    cemscan scan TARGET... [--config FILE] [--port P] [--profile ID] [--threshold N]
                 [--poll-interval S] [--ready-timeout S] [--timeout S] [--output DIR]
                 [--json] [--junit FILE] [--cancel-on-interrupt]
    cemscan status TARGET [--port P] [--json]
    cemscan result TARGET [--port P] [--threshold N] [--json]
    cemscan cancel TARGET... [--port P] [--json]
    cemscan report TARGET [--format arf|html|bash|ansible] [-o FILE]

Every command also takes ``--config FILE`` (its [daemon] settings),
``--token-file FILE`` (else $CEMSCAN_TOKEN_FILE, $CEMSCAN_TOKEN, the config's
token_file) and ``--ca-file FILE`` for https:// targets (else the config's
ca_file, else the system's trust store).

Exit status: 0 every target meets its threshold (or was cancelled), 1 some
target is below it, 2 some target could not be scanned (or cancelled), the
command line or config is wrong, or a scan was interrupted. Every target runs
concurrently in one reactor; a user's mistake is one line on stderr, never a
traceback.
"""

import argparse
import json
import os
import re
import resource
import signal
import sys
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence

import attr
from twisted.internet import defer
from twisted.python.failure import Failure

from cemscan import __version__, fleet, progress
from cemscan.client import DaemonClient
from cemscan.config import DEFAULT_THRESHOLD, Config, check_token, load_config, read_token
from cemscan.errors import CemscanError
from cemscan.junit import write_junit
from cemscan.keepalive import make_http_client
from cemscan.targets import Target, parse_target

#: Where the token comes from when no --token-file is given: a file, or the token itself.
ENV_TOKEN_FILE = "CEMSCAN_TOKEN_FILE"
ENV_TOKEN = "CEMSCAN_TOKEN"
#: Open files kept for everything but requests (log files, the reactor's own).
RESERVED_FILES = 64


REPORT_FORMATS = ("arf", "html", "bash", "ansible")


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
    """The whole command line; errors exit 2 with argparse's message."""
    parser = argparse.ArgumentParser(
        prog="cemscan", description="Run compliance scans through cemscan daemons and judge them.",
        epilog="TARGET is HOST, HOST:PORT, http://HOST:PORT or https://HOST:PORT. Exit status: 0 all "
               "targets pass, 1 some are below their threshold, 2 some could not be scanned.")
    parser.add_argument("--version", action="version", version=f"cemscan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    scan = commands.add_parser("scan", help="scan targets concurrently and judge each result")
    scan.add_argument("targets", nargs="*", metavar="TARGET",
                      help="a node to scan (more can come from --config)")
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
    scan.add_argument("--cancel-on-interrupt", action="store_true",
                      help="on Ctrl-C or SIGTERM, cancel the scans started on the nodes (by default "
                           "they keep running there)")

    status = commands.add_parser("status", help="show what a target's daemon is doing")
    status.add_argument("target", metavar="TARGET")

    result = commands.add_parser("result", help="fetch and judge a target's last result")
    result.add_argument("target", metavar="TARGET")
    result.add_argument("--threshold", type=_THRESHOLD, metavar="N",
                        help=f"pass mark (default {DEFAULT_THRESHOLD:g})")

    cancel = commands.add_parser("cancel", help="stop the scans running on targets")
    cancel.add_argument("targets", nargs="+", metavar="TARGET")

    report = commands.add_parser("report", help="download the last scan's ARF, HTML report or fix script")
    report.add_argument("target", metavar="TARGET")
    report.add_argument("--format", choices=REPORT_FORMATS, default="html",
                        help="arf, html (default), bash or ansible (a fix script for the failed rules)")
    report.add_argument("-o", "--output", metavar="FILE", help="write it here (default: standard output)")

    for command in (scan, status, result, cancel, report):
        command.add_argument("--config", metavar="FILE",
                             help="TOML file with defaults ([daemon]) and, for scan, [[targets]]")
        command.add_argument("--port", type=_PORT, metavar="P",
                             help="daemon port for targets that name none (default 8084)")
        command.add_argument("--token-file", metavar="FILE",
                             help=f"file holding the daemons' bearer token (else ${ENV_TOKEN_FILE}, "
                                  f"${ENV_TOKEN}, or the config's token_file)")
        command.add_argument("--ca-file", metavar="FILE",
                             help="CA certificate(s) to check https:// daemons against (default: the "
                                  "config's ca_file, else the system's trust store)")
        command.add_argument("--json", action="store_true", help="print JSON on stdout")
    return parser


class Interrupts:
    """SIGINT and SIGTERM, handed to the running command instead of stopping the reactor at once.

    A command that can end cleanly says how with `on_interrupt`; the first
    signal goes there. Without a handler, or at the next signal, the reactor
    stops, as with Twisted's own handlers: a second Ctrl-C always quits.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._handler: Optional[Callable[[str], None]] = None

    def install(self) -> None:
        """Take the signals over (call once the reactor runs: it installs its own at startup)."""
        for number in self.SIGNALS:
            signal.signal(number, self._caught)

    def on_interrupt(self, handler: Callable[[str], None]) -> None:
        """Have the next signal call ``handler`` with its name ("SIGINT", "SIGTERM")."""
        self._handler = handler

    def _caught(self, number: int, frame: Any) -> None:
        # In a signal handler only hand over to the reactor; callFromThread is safe here.
        self._reactor.callFromThread(self.deliver, signal.Signals(number).name)

    def deliver(self, name: str) -> None:
        """What a signal does, on the reactor: the handler's turn, or the end."""
        handler, self._handler = self._handler, None
        if handler is not None:
            handler(name)
        elif self._reactor.running:
            self._reactor.stop()


@attr.s(frozen=True, auto_attribs=True)
class Context:
    """What a command works with besides its arguments; tests give their own."""

    reactor: Any
    stdout: IO[str]
    stderr: IO[str]
    environ: Mapping[str, str] = attr.Factory(lambda: os.environ)
    interrupts: Optional[Interrupts] = None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point: parse, run in the global reactor, return the exit status."""
    args = build_parser().parse_args(argv)
    from twisted.internet import reactor

    interrupts = Interrupts(reactor)

    def start() -> "defer.Deferred[int]":
        interrupts.install()
        return run(args, Context(reactor, sys.stdout, sys.stderr, interrupts=interrupts))

    return _run_reactor(reactor, start)


def run(args: argparse.Namespace, context: Context) -> "defer.Deferred[int]":
    """Run a parsed command in a running reactor; fire with the exit status.

    This is `main` without owning the reactor, so tests run commands in theirs.
    """
    command = {"scan": _scan, "status": _status, "result": _result, "cancel": _cancel,
               "report": _report}[args.command]

    async def guarded() -> int:
        try:
            return await command(args, context)
        except (CemscanError, OSError) as e:
            context.stderr.write(f"cemscan: error: {e}\n")
            return 2

    return defer.ensureDeferred(guarded())


async def _scan(args: argparse.Namespace, context: Context) -> int:
    config = _config(args)
    jobs = _plan(args, config)
    output = args.output or config.scan_output
    if output:
        _check_distinct_test_cases(jobs)
        os.makedirs(output, exist_ok=True)
    display = progress.for_stream(context.stderr if args.json else context.stdout, context.reactor)
    connect = _connector(args, config, context,
                         ready_timeout=_first(args.ready_timeout, config.ready_timeout),
                         http_timeout=_first(args.timeout, config.http_timeout),
                         poll_interval=_first(args.poll_interval, config.poll_interval),
                         on_progress=display.update,
                         limiter=defer.DeferredSemaphore(requests_in_flight()))

    def on_outcome(outcome: fleet.Outcome) -> None:
        display.finished(outcome)
        if output:
            _write_json(os.path.join(output, _file_name(outcome.job.test_case)), outcome.to_dict())

    display.begin(jobs)
    scans = fleet.FleetScan(jobs, lambda job: connect(job.target), on_outcome, args.cancel_on_interrupt)
    if context.interrupts is not None:
        context.interrupts.on_interrupt(lambda name: _interrupt(scans, name, display, args))
    outcomes = await scans.outcomes
    display.summary(outcomes)
    if args.json:
        _print_json(context.stdout, [outcome.to_dict() for outcome in outcomes])
    if args.junit:
        write_junit(args.junit, outcomes)
    if scans.interruption is not None:
        context.stderr.write(f"cemscan: {scans.interruption.describe()}\n")
    return fleet.exit_code(outcomes)


def _interrupt(scans: fleet.FleetScan, name: str, display: progress.Display,
               args: argparse.Namespace) -> None:
    """The first SIGINT/SIGTERM of a scan: stop polling, and cancel on the nodes if asked to."""
    if scans.running:
        display.note(f"{name}: " + ("cancelling the scans on the nodes (again to quit at once)"
                                    if args.cancel_on_interrupt else
                                    "stopping; the scans keep running on the nodes"))
        scans.interrupt(name)


async def _status(args: argparse.Namespace, context: Context) -> int:
    config = _config(args)
    client = _connector(args, config, context)(_single_target(args, config))
    status = await client.status()
    if args.json:
        _print_json(context.stdout, status)
    else:
        context.stdout.write(progress.describe_status(client.where, status) + "\n")
    return 0


async def _result(args: argparse.Namespace, context: Context) -> int:
    config = _config(args)
    target = _single_target(args, config)
    client = _connector(args, config, context)(target)
    threshold = _first(args.threshold, DEFAULT_THRESHOLD)
    job = fleet.Job(target, str(target), None, threshold)
    try:
        outcome = fleet.Outcome(job, result=await client.result(threshold=threshold))
    except CemscanError as e:
        outcome = fleet.Outcome(job, error=str(e))
    if args.json:
        _print_json(context.stdout, outcome.to_dict())
    else:
        lines = progress.describe_details(outcome) or [progress.describe_outcome(outcome)]
        context.stdout.write(f"{client.where}: {lines[0]}\n" + "".join(f"{line}\n" for line in lines[1:]))
    return fleet.exit_code([outcome])


async def _cancel(args: argparse.Namespace, context: Context) -> int:
    """DELETE /scan on every target at once; exit 0 only when each one is cancelling."""
    config = _config(args)
    connect = _connector(args, config, context)

    async def cancel(target: Target) -> Dict[str, Any]:
        report: Dict[str, Any] = {"target": str(target), "scan_id": None, "error": None}
        try:
            report["scan_id"] = (await connect(target).cancel()).get("scan_id")
        except CemscanError as e:
            report["error"] = str(e)
        return report

    targets = [parse_target(text, args.port or config.port) for text in args.targets]
    reports = await defer.gatherResults([defer.ensureDeferred(cancel(target)) for target in targets],
                                        consumeErrors=True)
    if args.json:
        _print_json(context.stdout, reports)
    else:
        context.stdout.write("".join(
            f"{report['target']}: ERROR {report['error']}\n" if report["error"] else
            f"{report['target']}: scan {report['scan_id']} is being cancelled\n" for report in reports))
    return 2 if any(report["error"] for report in reports) else 0


async def _report(args: argparse.Namespace, context: Context) -> int:
    config = _config(args)
    client = _connector(args, config, context)(_single_target(args, config))
    body = await client.report(args.format)
    if args.output:
        with open(args.output, "wb") as f:
            f.write(body)
        context.stderr.write(f"cemscan: {args.format} report of {client.where} written to {args.output} "
                             f"({len(body)} bytes)\n")
    else:
        context.stdout.write(body.decode("utf-8", "replace"))
    return 0


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config) if args.config else Config()


def _connector(args: argparse.Namespace, config: Config, context: Context,
               **options: Any) -> Callable[[Target], DaemonClient]:
    """DaemonClients for targets, sharing one HTTP client (and so one TLS trust) and one token.

    ``options`` are DaemonClient's, the same for every target.
    """
    token = _token(args, config, context.environ)
    http_client = make_http_client(context.reactor, ca_file=args.ca_file or config.ca_file)

    def connect(target: Target) -> DaemonClient:
        return DaemonClient(target.host, target.port, request_timeout=config.request_timeout,
                            reactor=context.reactor, http_client=http_client, token=token,
                            tls=target.tls, **options)

    return connect


def _token(args: argparse.Namespace, config: Config, environ: Mapping[str, str]) -> Optional[str]:
    """The bearer token from the first source given: --token-file, then the environment, then the config.

    $CEMSCAN_TOKEN_FILE names a file; $CEMSCAN_TOKEN holds the token itself,
    for CI systems that hand secrets over as variables.
    """
    path = args.token_file or environ.get(ENV_TOKEN_FILE)
    if path:
        return read_token(path)
    if environ.get(ENV_TOKEN):
        return check_token(environ[ENV_TOKEN], f"${ENV_TOKEN}")
    if config.token_file:
        return read_token(config.token_file)
    return None


def requests_in_flight() -> int:
    """How many requests a fleet scan may have in flight at once: a socket each.

    A long-poll holds its socket for up to a poll interval, so every running
    node has a request in flight nearly all the time: the cap must be about
    the open-file limit (what is left after RESERVED_FILES), or nodes would
    queue for a socket and learn late that their scan ended.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(16, soft - RESERVED_FILES)


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


def _single_target(args: argparse.Namespace, config: Config) -> Target:
    return parse_target(args.target, args.port or config.port)


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
    """Run ``reactor`` until ``start()``'s Deferred fires; its value is the exit status.

    A reactor stopped before that (a second Ctrl-C) makes the exit status
    130, even if the command ends while the reactor shuts down: what it
    would report then is what the shutdown did to it.
    """
    codes: List[int] = []
    stopping: List[bool] = []

    def report_bug(failure: Failure) -> int:
        failure.printTraceback(file=sys.stderr)
        return 2

    def finish(code: int) -> None:
        if not stopping:
            codes.append(code)
            reactor.stop()

    def go() -> None:
        defer.maybeDeferred(start).addErrback(report_bug).addCallback(finish)

    reactor.addSystemEventTrigger("before", "shutdown", stopping.append, True)
    reactor.callWhenRunning(go)
    reactor.run()
    if not codes:
        sys.stderr.write("cemscan: interrupted\n")
        return 130
    return codes[0]


if __name__ == "__main__":
    sys.exit(main())
