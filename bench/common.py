"""What every benchmark needs: a real daemon in a child process, HTTP, /proc, statistics."""

import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "bench")
BIN = os.path.join(BUILD, "bin")
LOADGEN = os.path.join(BIN, "loadgen")
STUB = os.path.join(BIN, "stubscan")
CONTENT = os.path.join(ROOT, "cemscan", "content", "cemscan-ds.xml")
CONTENT_PROFILE = "xccdf_io.cemscan_profile_baseline"

#: The two stacks the daemon runs on: PyPI's (the venv) and Debian bookworm's.
PYTHONS = {"venv": os.path.join(ROOT, ".venv", "bin", "python"), "debian": "/usr/bin/python3"}
TWISTD = ["-c", "from twisted.scripts.twistd import run; run()"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def log(*words: Any) -> None:
    print("[bench %s]" % time.strftime("%H:%M:%S"), *words, file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def taskset(cpu: Optional[int]) -> List[str]:
    """Pin to one core (only on a machine with more than one)."""
    if cpu is None or NCPU < 2 or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(cpu % NCPU)]


def wait_for(pattern: str, path: str, timeout: float, proc: Optional[subprocess.Popen] = None) -> "re.Match[str]":
    deadline = time.monotonic() + timeout
    compiled = re.compile(pattern)
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                m = compiled.search(f.read())
            if m:
                return m
        except FileNotFoundError:
            pass
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.02)
    tail = open(path, errors="replace").read()[-3000:] if os.path.exists(path) else "(no log)"
    raise RuntimeError("%s: no %r within %gs; log ends:\n%s" % (path, pattern, timeout, tail))


def terminate(proc: "subprocess.Popen") -> None:
    """SIGTERM, then SIGKILL if it has not gone within 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Proc:
    """Numbers about a running process from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def status(self) -> Dict[str, int]:
        out = {}
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                    out[key] = int(value.split()[0])
        return out

    def rss_kb(self) -> int:
        return self.status()["VmRSS"]

    def hwm_kb(self) -> int:
        return self.status()["VmHWM"]

    def cpu_s(self) -> float:
        """User + system CPU of all its threads, in seconds."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def wakeups(self) -> int:
        """Context switches of all its threads: a thread that sleeps and never wakes adds none."""
        total = 0
        for tid in os.listdir("/proc/%d/task" % self.pid):
            try:
                with open("/proc/%d/task/%s/status" % (self.pid, tid)) as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                            total += int(line.split()[1])
            except FileNotFoundError:
                pass
        return total

    def fds(self) -> int:
        return len(os.listdir("/proc/%d/fd" % self.pid))


class Daemon:
    """``twistd cemscan`` in a child process on a free loopback port."""

    def __init__(self, stack: str = "venv", cpu: Optional[int] = None, oscap: str = STUB,
                 content: str = CONTENT, profile: Optional[str] = None, keep: int = 10,
                 launcher: Optional[List[str]] = None, name: str = "daemon") -> None:
        self.dir = tempfile.mkdtemp(prefix="%s-" % name, dir=os.path.join(BUILD, "run"))
        self.state_dir = os.path.join(self.dir, "state")
        self.control = os.path.join(self.dir, "control")
        self.stamp = os.path.join(self.dir, "stamp")
        self.log_path = os.path.join(self.dir, "twistd.log")
        self.set_control()
        python = PYTHONS[stack]
        argv = taskset(cpu) + [python] + (launcher or TWISTD) + [
            "--nodaemon", "--pidfile=", "--logfile", self.log_path, "cemscan",
            "--listen", "tcp:0:interface=127.0.0.1", "--state-dir", self.state_dir,
            "--oscap", oscap, "--content", content, "--keep", str(keep)]
        if profile:
            argv += ["--profile", profile]
        env = dict(os.environ, PYTHONPATH=ROOT, OSCAP_BENCH_CONTROL=self.control)
        env.pop("PYTHONWARNINGS", None)
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            self.port = int(wait_for(r"Site starting on (\d+)", self.log_path, 30, self.proc).group(1))
        except Exception:
            self.stop()
            raise
        self.pid = self.proc.pid
        self.stats = Proc(self.pid)
        self._conn: Optional[http.client.HTTPConnection] = None

    def set_control(self, arf: Optional[str] = None, seconds: float = 0, lines: int = 0, code: int = 2) -> None:
        with open(self.control + ".tmp", "w") as f:
            if arf:
                f.write("arf=%s\n" % arf)
            f.write("seconds=%s\nlines=%d\nstamp=%s\nexit=%d\n" % (seconds, lines, self.stamp, code))
        os.replace(self.control + ".tmp", self.control)

    def last_exit(self) -> float:
        """When the stub scanner last exited (wall clock, seconds)."""
        with open(self.stamp) as f:
            return int(f.read().split()[-1]) / 1e9

    def request(self, method: str, path: str, timeout: float = 60) -> Tuple[int, Dict[str, Any]]:
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                self._conn.request(method, path, body=b"" if method == "POST" else None)
                response = self._conn.getresponse()
                body = response.read()
                return response.status, json.loads(body)
            except (http.client.HTTPException, ConnectionError):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def scan_and_wait(self, max_polls: int = 20) -> Tuple[float, Dict[str, Any]]:
        """POST /scan, long-poll until it ends; (time it ended, final status)."""
        code, body = self.request("POST", "/scan")
        if code != 202:
            raise RuntimeError("POST /scan: %s %s" % (code, body))
        for _ in range(max_polls):
            code, status = self.request("GET", "/status?wait=30")
            if status.get("state") != "running":
                return time.time(), status
        raise RuntimeError("scan still running after %d long-polls" % max_polls)

    def log_text(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        terminate(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Daemon":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def loadgen(port: int, connections: int, seconds: float, cpu: Optional[int] = None, path: str = "/status",
            interval_us: float = 0, warmup: float = 0.3, samples: Optional[str] = None) -> Dict[str, Any]:
    argv = taskset(cpu) + [LOADGEN, "-p", str(port), "-c", str(connections), "-d", str(seconds), "-u", path,
                           "-w", str(warmup)]
    if interval_us:
        argv += ["-i", str(interval_us)]
    if samples:
        argv += ["-o", samples]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=seconds + 60)
    return json.loads(out.stdout)


class Server:
    """Any other Python server in a child process that says which port it listens on."""

    def __init__(self, argv: List[str], cpu: Optional[int], name: str, pattern: str = r"listening on (\d+)",
                 env: Optional[Dict[str, str]] = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="%s-" % name, dir=os.path.join(BUILD, "run"))
        self.log_path = os.path.join(self.dir, "server.log")
        self.out = open(self.log_path, "w")
        self.proc = subprocess.Popen(taskset(cpu) + argv, cwd=ROOT, stdout=self.out, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, PYTHONPATH=ROOT, **(env or {})))
        self.port = int(wait_for(pattern, self.log_path, 30, self.proc).group(1))
        self.pid = self.proc.pid
        self.stats = Proc(self.pid)

    def stop(self) -> None:
        terminate(self.proc)
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)
