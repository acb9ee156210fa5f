"""A fleet of simulated cemscan daemons in one process: one port per node, all on 127.0.0.1.

    python bench/simfleet.py --nodes 1000 --scan-seconds 15 --stats OUT.json [--first-port 20000]

Each port is one node speaking the daemon's protocol (GET /health, POST /scan,
GET /status with ``?wait=N`` long-polls, GET /result) with a scan that takes
``--scan-seconds`` from its POST.  The HTTP is the least that protocol needs
(no pipelining, Content-Length bodies, ``Connection: close`` honoured), so
that one core serves thousands of nodes and the client is what gets measured.

Prints "listening on N ports" when ready.  On SIGTERM writes OUT.json: per
node when its scan was started and when its result was first fetched, and
request counts; then exits.
"""

import argparse
import asyncio
import json
import resource
import signal
import socket
import sys
import time
from typing import Dict, List, Optional

RULES = [{"id": "xccdf_io.cemscan.sim_rule_%d" % n, "title": "Simulated rule %d" % n, "severity": "medium",
          "result": "pass" if n % 10 else "fail"} for n in range(10)]


class Node:
    __slots__ = ("port", "scan_id", "started", "ends", "result_at", "polls", "waits", "requests")

    def __init__(self, port: int) -> None:
        self.port = port
        self.scan_id: Optional[str] = None
        self.started = 0.0
        self.ends = 0.0
        self.result_at: Optional[float] = None
        self.polls = self.waits = self.requests = 0


class Fleet:
    def __init__(self, scan_seconds: float) -> None:
        self.scan_seconds = scan_seconds
        self.nodes: Dict[int, Node] = {}

    def state(self, node: Node, now: float) -> str:
        if node.scan_id is None:
            return "idle"
        return "running" if now < node.ends else "done"

    def status(self, node: Node, now: float) -> dict:
        state = self.state(node, now)
        if state == "idle":
            return {"state": "idle"}
        done = min(now, node.ends) - node.started
        total = len(RULES)
        return {"state": state, "scan_id": node.scan_id, "profile": "xccdf_io.cemscan.sim_profile",
                "elapsed_s": round(done, 3),
                "progress": {"rules_done": int(total * done / self.scan_seconds), "rules_total": total}}

    def result(self, node: Node) -> dict:
        return {"scan_id": node.scan_id, "scanner": "openscap", "profile": "xccdf_io.cemscan.sim_profile",
                "content": "/usr/share/xml/scap/sim-ds.xml", "score": 90.0, "passed_count": 9, "failed_count": 1,
                "not_applicable_count": 0, "error_count": 0, "notchecked_count": 0, "informational_count": 0,
                "native_score": 90.0, "rules": RULES, "started_at": "2026-12-04T10:00:00Z",
                "finished_at": "2026-12-04T10:00:15Z", "duration_s": self.scan_seconds}


def response(code: int, body: dict, close: bool) -> bytes:
    data = json.dumps(body).encode() + b"\n"
    reason = {200: b"OK", 202: b"Accepted", 404: b"Not Found", 409: b"Conflict", 400: b"Bad Request"}[code]
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (code, reason, len(data), b"Connection: close\r\n" if close else b"")) + data


class Protocol(asyncio.Protocol):
    def __init__(self, fleet: Fleet, node: Node) -> None:
        self.fleet = fleet
        self.node = node
        self.buf = b""
        self.transport: Optional[asyncio.Transport] = None
        self.pending: Optional[asyncio.TimerHandle] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.pending is not None:
            self.pending.cancel()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.pending is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self.transport.close()
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length:]
            method, target = lines[0].split(" ")[:2]
            close = headers.get("connection", "").lower() == "close"
            self.handle(method, target, close)

    def answer(self, code: int, body: dict, close: bool) -> None:
        self.transport.write(response(code, body, close))
        if close:
            self.transport.close()

    def handle(self, method: str, target: str, close: bool) -> None:
        fleet, node = self.fleet, self.node
        node.requests += 1
        now = time.time()
        path, _, query = target.partition("?")
        if path == "/health":
            self.answer(200, {"status": "ok", "version": "sim", "scanner": "openscap", "state": fleet.state(node, now)},
                        close)
        elif path == "/scan" and method == "POST":
            if fleet.state(node, now) == "running":
                self.answer(409, {"error": "scan already running", "scan_id": node.scan_id}, close)
                return
            node.scan_id = "sim%d-%d" % (node.port, int(now * 1000))
            node.started, node.ends, node.result_at = now, now + fleet.scan_seconds, None
            self.answer(202, {"status": "started", "scan_id": node.scan_id, "profile": "xccdf_io.cemscan.sim_profile"},
                        close)
        elif path == "/status":
            node.polls += 1
            wait = 0.0
            for part in query.split("&"):
                if part.startswith("wait="):
                    try:
                        wait = min(max(float(part[5:]), 0.0), 30.0)
                    except ValueError:
                        wait = 0.0
            if wait and fleet.state(node, now) == "running":
                node.waits += 1
                delay = min(node.ends - now, wait)
                self.pending = asyncio.get_running_loop().call_later(delay, self.late_status, close)
                return
            self.answer(200, fleet.status(node, now), close)
        elif path == "/result":
            if fleet.state(node, now) != "done":
                self.answer(404, {"error": "no result available, state: %s" % fleet.state(node, now)}, close)
                return
            if node.result_at is None:
                node.result_at = now
            self.answer(200, fleet.result(node), close)
        else:
            self.answer(404, {"error": "no such endpoint: %s" % path}, close)

    def late_status(self, close: bool) -> None:
        self.pending = None
        if self.transport is not None and not self.transport.is_closing():
            self.answer(200, self.fleet.status(self.node, time.time()), close)
            if not close and self.buf:
                self.data_received(b"")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--scan-seconds", type=float, default=15.0)
    parser.add_argument("--first-port", type=int, default=20000)
    parser.add_argument("--ports-file", required=True, help="write the ports here, one a line")
    parser.add_argument("--stats", required=True)
    args = parser.parse_args()
    if not 1 <= args.nodes <= 60000:
        parser.error("--nodes: 1 to 60000")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    fleet = Fleet(args.scan_seconds)
    servers = []
    port = args.first_port
    while len(fleet.nodes) < args.nodes and port < 65536:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            port += 1
            continue
        node = Node(port)
        fleet.nodes[port] = node
        servers.append(await loop.create_server(lambda node=node: Protocol(fleet, node), sock=sock, backlog=1024))
        port += 1
    if len(fleet.nodes) < args.nodes:
        print("only %d free ports" % len(fleet.nodes), flush=True)
        return 1
    with open(args.ports_file, "w") as f:
        f.write("".join("%d\n" % p for p in fleet.nodes))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    started_cpu = time.process_time()
    print("listening on %d ports" % len(fleet.nodes), flush=True)
    await stop.wait()
    nodes: List[Node] = list(fleet.nodes.values())
    with open(args.stats, "w") as f:
        json.dump({"scan_seconds": args.scan_seconds, "cpu_s": time.process_time() - started_cpu,
                   "nodes": [[n.port, n.started if n.scan_id else None, n.result_at, n.polls, n.waits, n.requests]
                             for n in nodes]}, f)
    for server in servers:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
