"""Run twistd with one of the changes the benchmarks recommend, applied from outside.

    python bench/variant.py CHANGE[,CHANGE] [twistd arguments...]

The benchmarks measure the daemon as it is, and then, to show what a change
in a file they do not own would buy, the same daemon with that change made
here by monkeypatching before twistd starts.  Nothing here is shipped.

quiet   twisted.web's Site re-renders its access-log date every second on a
        timer (HTTPFactory._updateLogDateTime), so an idle daemon wakes up
        once a second for ever.  Here the date is made when a line is logged,
        at most once a second, and no timer runs.
nolog   no access log at all (Site.log does nothing): what one line per
        request costs under load.
statuscache  GET /status for a scan that is not running answers the same
        bytes every time: the body (dict, timestamps, JSON) is made once per
        state change instead of once per request.
batch   the scanner's stdout is not watched line by line: it waits in the
        pipe (64 KB: a minute of oscap --progress) and is read once a second,
        and at the scanner's exit, so the reactor wakes once a second
        during a scan instead of once per rule.
switch1ms  sys.setswitchinterval(0.001): a thread that waits for the GIL (the
        reactor, while a worker thread parses or saves) gets it after 1 ms
        at most instead of 5 ms, at every hand-over.
gcfreeze  gc.collect() then gc.freeze() once the reactor runs: the objects of
        start-up (Twisted, the daemon) leave the collector's view, so a full
        collection during a big parse walks only the new objects.
"""

import sys
import time


def quiet() -> None:
    from twisted.web import http

    def _updateLogDateTime(self) -> None:  # noqa: N802 (Twisted's name)
        self._logDateTime = http.datetimeToLogString(self.reactor.seconds())
        self._logDateTimeSecond = int(time.time())

    original_log = http.HTTPFactory.log

    def log(self, request) -> None:
        now = int(time.time())
        if getattr(self, "_logDateTimeSecond", None) != now:
            self._logDateTime = http.datetimeToLogString(self.reactor.seconds())
            self._logDateTimeSecond = now
        original_log(self, request)

    http.HTTPFactory._updateLogDateTime = _updateLogDateTime
    http.HTTPFactory.log = log


def nolog() -> None:
    from twisted.web import http

    http.HTTPFactory.log = lambda self, request: None


def gcfreeze() -> None:
    import gc

    from twisted.internet import reactor

    reactor.callWhenRunning(lambda: (gc.collect(), gc.freeze()))


def statuscache() -> None:
    from cemscan import jsonweb, state

    original_status = state.ScanManager.status
    original_write = jsonweb.write_json
    cached: dict = {}

    def status(self):
        if self.state is state.State.RUNNING:
            return original_status(self)
        key = (id(self.current), self.state)
        if cached.get("key") != key:
            cached.clear()
            cached["key"], cached["body"] = key, original_status(self)
        return cached["body"]

    def write_json(request, code, body):
        if body is cached.get("body"):
            request.setResponseCode(code)
            request.setHeader(b"content-type", jsonweb.JSON_TYPE)
            request.setHeader(b"cache-control", b"no-store")
            if "bytes" not in cached:
                cached["bytes"] = original_write(request, code, body)
            return cached["bytes"]
        return original_write(request, code, body)

    state.ScanManager.status = status
    jsonweb.write_json = write_json


def batch() -> None:
    import os

    from twisted.internet import task

    from cemscan import process

    original_start = process.ScannerProcess.start
    original_exited = process._ScannerProtocol.processExited

    def start(self):
        spawn = self.reactor.spawnProcess
        holder = {}

        def spawning(protocol, *args, **kwargs):
            transport = spawn(protocol, *args, **kwargs)
            reader = transport.pipes.get(1)
            if reader is not None:
                reader.stopReading()

                def drain() -> None:
                    for _ in range(64):
                        try:
                            data = os.read(reader.fileno(), 65536)
                        except (BlockingIOError, OSError):
                            return
                        if not data:
                            reader.startReading()  # end of file: Twisted must see it
                            return
                        reader.dataReceived(data)

                loop = task.LoopingCall(drain)
                loop.clock = self.reactor
                loop.start(1.0, now=False)
                protocol._bench_drain = (drain, reader, loop)
            holder["transport"] = transport
            return transport

        self.reactor.spawnProcess = spawning
        try:
            return original_start(self)
        finally:
            del self.reactor.spawnProcess

    def exited(self, reason) -> None:
        drain, reader, loop = getattr(self, "_bench_drain", (None, None, None))
        if loop is not None:
            if loop.running:
                loop.stop()
            drain()
            reader.startReading()
        original_exited(self, reason)

    process.ScannerProcess.start = start
    process._ScannerProtocol.processExited = exited


def switch1ms() -> None:
    sys.setswitchinterval(0.001)


CHANGES = {"quiet": quiet, "nolog": nolog, "statuscache": statuscache, "batch": batch, "switch1ms": switch1ms,
           "gcfreeze": gcfreeze, "none": lambda: None}


def main() -> None:
    names = sys.argv[1].split(",")
    for name in names:
        CHANGES[name]()
    sys.argv = ["twistd"] + sys.argv[2:]
    from twisted.scripts.twistd import run

    run()


if __name__ == "__main__":
    main()
