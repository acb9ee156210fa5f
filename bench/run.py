"""cemscan's benchmarks (issue 6): run them, keep the numbers in build/bench/results.json.

    .venv/bin/python bench/run.py [--only latency,oscap,serving,stall,fleet,footprint] [--quick]

Every figure is the median of several runs; wherever a baseline or a peer
exists it is measured in the same run, interleaved with the figure.  All
load stays on 127.0.0.1.  Server and load generator are pinned to different
cores (taskset) where there are two.  bench/report.py turns the JSON into
docs/benchmarks.md.
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (  # noqa: E402
    BUILD, CONTENT, CONTENT_PROFILE, LOADGEN, NCPU, PYTHONS, ROOT, TWISTD, Daemon, Server, loadgen, log,
    median, taskset)

RESULTS = os.path.join(BUILD, "results.json")
BIG_ARF = os.path.join(BUILD, "big-arf.xml")
BIG_ARF_OSCAP = os.path.join(BUILD, "big-arf-oscap.xml")
SMALL_ARF = os.path.join(ROOT, "tests", "content", "test-arf.xml")
BIG_CONTENT_RULES = 2000
BIG_CONTENT_PROFILE = "xccdf_io.cemscan.bench_profile_all"
VENV_PY = PYTHONS["venv"]
QUICK = False


def runs(full: int, quick: int = 1) -> int:
    return quick if QUICK else full


def stat(values: List[float]) -> Dict[str, Any]:
    return {"median": median(values), "min": min(values), "max": max(values), "runs": values}


def client_uses_wait() -> bool:
    """Whether DaemonClient, with its defaults, long-polls (the daemon no longer logs successful polls)."""
    from twisted.internet.task import Clock

    from cemscan.client import DaemonClient

    return DaemonClient("127.0.0.1", reactor=Clock()).long_poll_wait > 0


# 1. Completion latency ---------------------------------------------------------

def bench_latency() -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    # The client as it is, at its default poll interval, against five daemons at
    # once; the five scans end 1, 3, 5, 7 and 9 s (+0.3) after their kickoff, so
    # that a client that only polls every 10 s shows its average, not one case.
    durations = [1.3, 3.3, 5.3, 7.3, 9.3][:runs(5, 2)]
    daemons = [Daemon(name="latency") for _ in durations]
    try:
        for daemon, seconds in zip(daemons, durations):
            daemon.set_control(arf=SMALL_ARF, seconds=seconds)
        log("latency: DaemonClient as it is, default poll interval,", len(daemons), "scans at once")
        done = subprocess.run([VENV_PY, os.path.join(ROOT, "bench", "clientscan.py")] + [str(d.port) for d in daemons],
                              cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, PYTHONPATH=ROOT))
        if done.returncode != 0:
            raise RuntimeError("clientscan failed: %s" % done.stderr[-2000:])
        results = json.loads(done.stdout)
        lags = []
        for daemon, result in zip(daemons, results):
            if result["error"]:
                raise RuntimeError("client scan failed: %s" % result["error"])
            lags.append(result["result_at"] - daemon.last_exit())
        out["client"] = dict(stat(lags), uses_wait=client_uses_wait(),
                             scan_seconds=durations)
    finally:
        for daemon in daemons:
            daemon.stop()
    # The daemon side alone: a raw long-poll, as the issue describes it.
    lags = []
    with Daemon(name="longpoll") as daemon:
        daemon.set_control(arf=SMALL_ARF, seconds=0.5)
        for _ in range(runs(5, 2)):
            daemon.scan_and_wait()
            code, _ = daemon.request("GET", "/result")
            lags.append(time.time() - daemon.last_exit())
    out["longpoll"] = stat(lags)
    return out


# 2. The scan is the limit ------------------------------------------------------

def oscap_bare(content: str, profile: str, arf: str) -> float:
    started = time.perf_counter()
    code = subprocess.run(["oscap", "xccdf", "eval", "--profile", profile, "--results-arf", arf, content],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    if code not in (0, 2):
        raise RuntimeError("oscap exit code %d on %s" % (code, content))
    return time.perf_counter() - started


def bench_oscap() -> Dict[str, Any]:
    oscap = shutil.which("oscap")
    if oscap is None:
        return {"skipped": "no oscap on PATH"}
    big = subprocess.run([VENV_PY, os.path.join(ROOT, "bench", "bigcontent.py"), "--rules", str(BIG_CONTENT_RULES),
                          "--out", os.path.join(BUILD, "content-%d" % BIG_CONTENT_RULES)],
                         check=True, capture_output=True, text=True).stdout.strip()
    out: Dict[str, Any] = {}
    scratch = tempfile.mkdtemp(dir=os.path.join(BUILD, "run"))
    try:
        for name, content, profile in (("bundled", CONTENT, CONTENT_PROFILE),
                                       ("generated-%d" % BIG_CONTENT_RULES, big, BIG_CONTENT_PROFILE)):
            bare, longpoll, client = [], [], []
            with Daemon(oscap=oscap, content=content, profile=profile, name="oscap") as daemon:
                oscap_bare(content, profile, os.path.join(scratch, "warm.xml"))  # page cache, both sides
                daemon.scan_and_wait()
                for _ in range(runs(5, 2)):
                    bare.append(oscap_bare(content, profile, os.path.join(scratch, "arf.xml")))
                    started = time.perf_counter()
                    daemon.scan_and_wait()
                    code, result = daemon.request("GET", "/result")
                    if code != 200 or "error" in result:
                        raise RuntimeError("daemon scan failed: %s" % result)
                    longpoll.append(time.perf_counter() - started)
                log("oscap:", name, "bare %.2fs, daemon+long-poll %.2fs" % (median(bare), median(longpoll)))
                for _ in range(runs(3, 1)):
                    done = subprocess.run([VENV_PY, os.path.join(ROOT, "bench", "clientscan.py"), str(daemon.port)],
                                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                                          env=dict(os.environ, PYTHONPATH=ROOT))
                    result = json.loads(done.stdout)[0]
                    if result["error"]:
                        raise RuntimeError("client scan failed: %s" % result["error"])
                    client.append(result["result_at"] - result["called"])
                uses_wait = client_uses_wait()
            out[name] = {"bare": stat(bare), "longpoll": stat(longpoll), "client": stat(client),
                         "client_uses_wait": uses_wait,
                         "rules": BIG_CONTENT_RULES if name.startswith("generated") else 16}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


# 3. Serving under load ---------------------------------------------------------

def minimal_server(stack: str, cpu: int, variant: Optional[str] = None) -> Server:
    launcher = [os.path.join(ROOT, "bench", "variant.py"), variant] if variant else TWISTD
    return Server([PYTHONS[stack]] + launcher + ["--nodaemon", "--pidfile=", "-y",
                                                 os.path.join(ROOT, "bench", "minimal.tac")],
                  cpu, "minimal", r"Site starting on (\d+)")


def bench_serving() -> Dict[str, Any]:
    out: Dict[str, Any] = {"cpus": NCPU}
    seconds, n = (2.0, 3) if not QUICK else (1.5, 1)
    # The daemon as it is on both stacks (the goals), then on the PyPI stack with
    # the changes the report recommends, made from outside by bench/variant.py.
    for stack, variant, full in (("venv", None, True), ("debian", None, True), ("venv", "statuscache", False),
                                 ("venv", "nolog,statuscache", False)):
        launcher = [os.path.join(ROOT, "bench", "variant.py"), variant] if variant else None
        key = stack + ("+" + variant if variant else "")
        # cemscan writes no access-log line for a successful poll: its peer
        # then writes none either, or the comparison would flatter cemscan.
        peer_variant = "nolog"
        daemon = Daemon(stack=stack, cpu=0, launcher=launcher, name="serving")
        minimal = minimal_server(stack, 0, peer_variant)
        try:
            daemon.set_control(arf=SMALL_ARF)
            daemon.scan_and_wait()  # /status then answers for a finished scan: the full body
            ours, theirs, ours1, theirs1 = [], [], [], []
            for _ in range(n if full else min(n, 2)):
                ours.append(loadgen(daemon.port, 50, seconds, cpu=1))
                theirs.append(loadgen(minimal.port, 50, seconds, cpu=1))
            for _ in range(n if full else 0):
                ours1.append(loadgen(daemon.port, 1, 1.0, cpu=1))
                theirs1.append(loadgen(minimal.port, 1, 1.0, cpu=1))
            ratios = [a["rps"] / b["rps"] for a, b in zip(ours, theirs)]
            out[key] = {
                "variant": variant, "peer_variant": peer_variant,
                "rps": stat([r["rps"] for r in ours]), "minimal_rps": stat([r["rps"] for r in theirs]),
                "ratio": stat(ratios), "errors": sum(r["errors"] for r in ours + ours1),
                "p99_ms_50c": median([r["p99_us"] / 1000 for r in ours]),
                "body_bytes": len(json.dumps(daemon.request("GET", "/status")[1])) + 1,
            }
            if full:
                out[key].update({
                    "p50_ms_1c": stat([r["p50_us"] / 1000 for r in ours1]),
                    "minimal_p50_ms_1c": stat([r["p50_us"] / 1000 for r in theirs1]),
                    "p99_ms_1c": median([r["p99_us"] / 1000 for r in ours1])})
            log("serving:", key, "%.0f req/s vs minimal %.0f (%.2fx)" % (
                out[key]["rps"]["median"], out[key]["minimal_rps"]["median"], out[key]["ratio"]["median"]))
        finally:
            daemon.stop()
            minimal.stop()
    return out


# 4. Never stall ----------------------------------------------------------------

def stall_daemon(arf: str, samples: str, quiet_scans: int, variant: Optional[str] = None) -> Dict[str, Any]:
    """One fresh daemon: the big ARF once while a poller asks /status every millisecond
    (latency, peak RSS, ready time under that load), then ``quiet_scans`` times unwatched
    (ready time alone)."""
    launcher = [os.path.join(ROOT, "bench", "variant.py"), variant] if variant else None
    with Daemon(cpu=0, name="stall", launcher=launcher) as daemon:
        daemon.set_control(arf=SMALL_ARF)
        daemon.scan_and_wait()  # warm: thread pool, imports, first state save
        daemon.scan_and_wait()
        daemon.set_control(arf=arf)
        time.sleep(0.3)
        rss_before, hwm_before = daemon.stats.rss_kb(), daemon.stats.hwm_kb()
        poller = subprocess.Popen(taskset(1) + [LOADGEN, "-p", str(daemon.port), "-c", "1", "-d", "4", "-i", "1000",
                                                "-w", "0", "-o", samples], stdout=subprocess.PIPE, text=True)
        time.sleep(0.7)
        posted = time.time()
        ended, status = daemon.scan_and_wait()
        exited = daemon.last_exit()
        started = time.perf_counter()
        code, result = daemon.request("GET", "/result")
        result_fetch = time.perf_counter() - started
        result_done = time.time()
        summary = json.loads(poller.communicate(timeout=30)[0])
        hwm_after = daemon.stats.hwm_kb()
        if status.get("state") != "done" or code != 200:
            raise RuntimeError("big scan failed: %s %s" % (status, str(result)[:500]))
        rules = len(result.get("rules", []))
        quiet = []
        for _ in range(quiet_scans):
            time.sleep(0.3)
            ended_quiet, _ = daemon.scan_and_wait()
            quiet.append(ended_quiet - daemon.last_exit())
    lat = []
    with open(samples) as f:
        for line in f:
            when, took = line.split()
            lat.append((int(when) / 1e9, int(took) / 1e6))
    # The goal's window: the parse and the saves, from the scanner's exit to the state
    # turning done (which comes after the result and the state are on disk).  Then, apart:
    # the same until 0.5 s after the runner's GET /result of the whole result was answered.
    window = sorted(ms for t, ms in lat if exited - 0.05 <= t < ended)
    after = sorted(ms for t, ms in lat if exited - 0.05 <= t <= result_done + 0.5)

    def pct(p: float) -> float:
        return window[min(len(window) - 1, int(p / 100 * (len(window) - 1) + 0.5))] if window else float("nan")

    return {"ready_loaded_s": ended - exited, "ready_quiet_s": quiet, "scanner_ran_s": exited - posted,
            "result_fetch_s": result_fetch, "rules": rules, "window_requests": len(window), "p50_ms": pct(50),
            "p99_ms": pct(99), "max_ms": window[-1] if window else float("nan"), "poller": summary,
            "max_with_result_ms": after[-1] if after else float("nan"),
            "rss_before_kb": rss_before, "hwm_growth_kb": hwm_after - max(hwm_before, rss_before),
            "timeline": {"posted": posted, "exited": exited, "ended": ended, "result_done": result_done},
            "samples": [(round(t - exited, 4), round(ms, 3)) for t, ms in lat if posted - 1 <= t <= result_done + 1]}


def bench_stall() -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for name, path in (("issue", BIG_ARF), ("oscap", BIG_ARF_OSCAP)):
        with open(path + ".json") as f:
            meta = json.load(f)
        log("stall: parser on its own,", name, "layout, %.0f MB" % (meta["size"] / 1e6))
        parse = json.loads(subprocess.run([VENV_PY, os.path.join(ROOT, "bench", "parsebench.py"), path,
                                           str(runs(3, 2))], check=True, capture_output=True, text=True).stdout)
        daemon_runs = []
        for i in range(runs(3 if name == "issue" else 2, 1)):
            log("stall: daemon", i + 1, name)
            daemon_runs.append(stall_daemon(path, os.path.join(BUILD, "run", "samples-%s-%d.txt" % (name, i)),
                                            runs(2, 1)))
        keep = sorted(daemon_runs, key=lambda r: r["p99_ms"])[len(daemon_runs) // 2]
        out[name] = {
            "file": meta, "parse": parse,
            "ready_s": stat([x for r in daemon_runs for x in r["ready_quiet_s"]]),
            "ready_loaded_s": stat([r["ready_loaded_s"] for r in daemon_runs]),
            "p99_ms": stat([r["p99_ms"] for r in daemon_runs]),
            "max_ms": stat([r["max_ms"] for r in daemon_runs]),
            "max_with_result_ms": stat([r["max_with_result_ms"] for r in daemon_runs]),
            "p50_ms": stat([r["p50_ms"] for r in daemon_runs]),
            "hwm_growth_mb": stat([r["hwm_growth_kb"] / 1024 for r in daemon_runs]),
            "result_fetch_s": stat([r["result_fetch_s"] for r in daemon_runs]),
            "window_requests": [r["window_requests"] for r in daemon_runs],
            "rules": daemon_runs[0]["rules"],
            "example": {k: keep[k] for k in ("samples", "timeline", "ready_loaded_s", "p99_ms", "max_ms")},
        }
        if name == "issue":
            log("stall: daemon with gc.freeze() after start-up (bench/variant.py gcfreeze)")
            frozen = stall_daemon(path, os.path.join(BUILD, "run", "samples-frozen.txt"), 0, "gcfreeze")
            out["issue+gcfreeze"] = {k: frozen[k] for k in ("ready_loaded_s", "p50_ms", "p99_ms", "max_ms",
                                                              "max_with_result_ms",
                                                              "hwm_growth_kb", "window_requests")}
    return out


# 5. Fleet ------------------------------------------------------------------------

def fleet_run(nodes: int, scan_seconds: float = 15.0, poll: float = 2.0) -> Dict[str, Any]:
    run_dir = tempfile.mkdtemp(prefix="fleet-", dir=os.path.join(BUILD, "run"))
    ports_file, stats_file = os.path.join(run_dir, "ports"), os.path.join(run_dir, "sim.json")
    sim = Server([VENV_PY, os.path.join(ROOT, "bench", "simfleet.py"), "--nodes", str(nodes),
                  "--scan-seconds", str(scan_seconds), "--ports-file", ports_file, "--stats", stats_file],
                 0, "sim", r"listening on (\d+) ports")
    try:
        with open(ports_file) as f:
            targets = ["127.0.0.1:%s" % line.strip() for line in f if line.strip()]
        config = os.path.join(run_dir, "fleet.toml")
        with open(config, "w") as f:  # a config file: 50,000 targets would not fit a command line
            f.write("".join('[[targets]]\nhost = "%s"\n' % t for t in targets))
        started = time.time()
        proc = subprocess.Popen(taskset(1) + [os.path.join(ROOT, ".venv", "bin", "cemscan"), "scan",
                                              "--poll-interval", str(poll), "--json", "--config", config],
                                stdout=open(os.path.join(run_dir, "out.json"), "w"), stderr=subprocess.DEVNULL)
        peak_fds = 0
        deadline = time.monotonic() + scan_seconds + 300
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                proc.kill()
            try:
                peak_fds = max(peak_fds, len(os.listdir("/proc/%d/fd" % proc.pid)))
            except OSError:
                pass
            time.sleep(0.2)
        wall = time.time() - started
    finally:
        sim.stop()  # SIGTERM: it writes its statistics, then exits
    with open(stats_file) as f:
        stats = json.load(f)
    with open(os.path.join(run_dir, "out.json")) as f:
        try:
            outcomes = json.load(f)
        except ValueError:
            outcomes = []
    shutil.rmtree(run_dir, ignore_errors=True)
    completion = sorted(r - s for _, s, r, *_ in stats["nodes"] if s and r)
    requests = sum(n[5] for n in stats["nodes"])
    cpu = usage.ru_utime + usage.ru_stime
    return {"nodes": nodes, "exit_code": os.waitstatus_to_exitcode(status), "wall_s": wall,
            "completed": len(completion), "passed": sum(1 for o in outcomes if o.get("passed")),
            "completion_max_s": completion[-1] if completion else None,
            "completion_p50_s": completion[len(completion) // 2] if completion else None,
            "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_s": cpu, "requests": requests,
            "cpu_ms_per_request": 1000 * cpu / requests if requests else None,
            "long_polls": sum(n[4] for n in stats["nodes"]), "status_polls": sum(n[3] for n in stats["nodes"]),
            "peak_fds": peak_fds, "sim_cpu_s": stats["cpu_s"]}


def bench_fleet() -> Dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    sizes = [(250, 1), (1000, 3), (5000, 1)] if not QUICK else [(1000, 1)]
    out: Dict[str, Any] = {"nofile": hard, "sizes": {}}
    for nodes, n in sizes:
        if nodes * 2 + 500 > hard:
            out["sizes"][str(nodes)] = {"skipped": "open-file limit %d" % hard}
            continue
        results = []
        for i in range(n):
            log("fleet: %d nodes, run %d of %d" % (nodes, i + 1, n))
            results.append(fleet_run(nodes))
            log("fleet: %d nodes: wall %.1fs, slowest %.1fs, %.0f MB, %.1f CPU s" % (
                nodes, results[-1]["wall_s"], results[-1]["completion_max_s"] or -1, results[-1]["peak_rss_mb"],
                results[-1]["cpu_s"]))
        out["sizes"][str(nodes)] = {
            "runs": results,
            **{key: stat([r[key] for r in results]) for key in
               ("wall_s", "completion_max_s", "completion_p50_s", "peak_rss_mb", "cpu_s", "cpu_ms_per_request",
                "peak_fds")}}
    return out


# 6. Footprint -----------------------------------------------------------------------

def strace_count(pid: int, seconds: float) -> Optional[int]:
    """System calls of every thread of ``pid`` in ``seconds`` (None without strace)."""
    if shutil.which("strace") is None:
        return None
    try:
        done = subprocess.run(["timeout", "-s", "INT", str(seconds), "strace", "-f", "-c", "-p", str(pid)],
                              capture_output=True, text=True, timeout=seconds + 10)
    except subprocess.TimeoutExpired:
        return None
    for line in done.stderr.splitlines():
        if line.strip().endswith("total"):
            fields = line.split()
            return int(fields[3]) if len(fields) >= 5 else int(fields[2])
    return 0 if "attach" in done.stderr or done.returncode in (0, 124, 130) else None


def idle(stack: str, variant: Optional[str], seconds: float) -> Dict[str, Any]:
    launcher = [os.path.join(ROOT, "bench", "variant.py"), variant] if variant else None
    with Daemon(stack=stack, launcher=launcher, name="idle") as daemon:
        time.sleep(1.5)
        before = daemon.stats.wakeups()
        time.sleep(seconds)
        wakeups = daemon.stats.wakeups() - before
        syscalls = strace_count(daemon.pid, 2)
        return {"wakeups": wakeups, "seconds": seconds, "syscalls_2s": syscalls,
                "rss_mb": daemon.stats.rss_kb() / 1024, "threads": daemon.stats.status()["Threads"]}


def bench_footprint() -> Dict[str, Any]:
    out: Dict[str, Any] = {"idle": {}}
    seconds = 3.0 if not QUICK else 2.0
    for stack, variant in (("venv", None), ("debian", None), ("venv", "quiet")):
        key = stack + ("+" + variant if variant else "")
        out["idle"][key] = idle(stack, variant, seconds)
        log("footprint: idle", key, out["idle"][key])
    # RSS over back-to-back scans.
    scans, warm = (1000, 100) if not QUICK else (100, 20)
    with Daemon(name="churn") as daemon:
        daemon.set_control(arf=SMALL_ARF)
        for _ in range(warm):
            daemon.scan_and_wait()
            daemon.request("GET", "/result")
        before = {"rss_kb": daemon.stats.rss_kb(), "fds": daemon.stats.fds(),
                  "threads": daemon.stats.status()["Threads"]}
        started = time.perf_counter()
        samples = []
        for i in range(scans):
            daemon.scan_and_wait()
            daemon.request("GET", "/result")
            if i % 50 == 49:
                samples.append((i + 1, daemon.stats.rss_kb() / 1024))
        took = time.perf_counter() - started
        after = {"rss_kb": daemon.stats.rss_kb(), "fds": daemon.stats.fds(),
                 "threads": daemon.stats.status()["Threads"]}
    out["churn"] = {"scans": scans, "warmup": warm, "before": before, "after": after,
                    "growth_mb": (after["rss_kb"] - before["rss_kb"]) / 1024, "ms_per_scan": 1000 * took / scans,
                    "samples": samples}
    log("footprint: %d scans: RSS %+.2f MB, %.1f ms a scan" % (scans, out["churn"]["growth_mb"],
                                                                out["churn"]["ms_per_scan"]))
    # CPU while a scan runs: progress lines at oscap's pace on 20,000 rules (1,100 a second),
    # as it is and with the scanner's output read once a second (bench/variant.py batch).
    scan_s = 4.0 if not QUICK else 2.0
    for variant, n in ((None, runs(3, 1)), ("batch", runs(2, 1))):
        cpu, lines = [], []
        launcher = [os.path.join(ROOT, "bench", "variant.py"), variant] if variant else None
        for _ in range(n):
            with Daemon(name="cpu", launcher=launcher) as daemon:
                daemon.set_control(arf=SMALL_ARF)
                daemon.scan_and_wait()
                daemon.set_control(arf=SMALL_ARF, seconds=scan_s, lines=int(1100 * scan_s))
                time.sleep(0.5)
                c0, t0 = daemon.stats.cpu_s(), time.time()
                daemon.scan_and_wait()
                exited = daemon.last_exit()
                c1 = daemon.stats.cpu_s()
                cpu.append(100 * (c1 - c0) / (exited - t0))
                lines.append(daemon.request("GET", "/status")[1].get("progress", {}).get("rules_done"))
        out["scan_cpu_percent" + ("_" + variant if variant else "")] = stat(cpu)
        out["scan_rules_counted" + ("_" + variant if variant else "")] = lines
        log("footprint: CPU while scanning%s %.2f%%" % (" (" + variant + ")" if variant else "", median(cpu)))
    out["scan_cpu_lines_per_s"] = 1100
    return out


BENCHES: Dict[str, Callable[[], Dict[str, Any]]] = {
    "latency": bench_latency, "oscap": bench_oscap, "serving": bench_serving, "stall": bench_stall,
    "fleet": bench_fleet, "footprint": bench_footprint,
}


def machine() -> Dict[str, Any]:
    def version(python: str) -> str:
        try:
            return subprocess.run([python, "-c", "import sys, twisted; print(sys.version.split()[0], twisted.__version__)"],
                                  capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return "?"

    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    oscap = subprocess.run(["oscap", "--version"], capture_output=True, text=True).stdout.split("\n")[0] \
        if shutil.which("oscap") else "none"
    return {"cpus": NCPU, "cpu_model": model, "kernel": platform.release(), "loadavg_start": os.getloadavg(),
            "venv": version(PYTHONS["venv"]), "debian": version(PYTHONS["debian"]), "oscap": oscap,
            "memory_mb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2 ** 20}


def tree_fingerprint() -> str:
    """What the daemon and client are made of right now: the tree may change under a benchmark."""
    import hashlib

    digest = hashlib.sha256()
    folder = os.path.join(ROOT, "cemscan")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), "rb") as f:
                digest.update(name.encode() + f.read())
    return digest.hexdigest()[:16]


def git_state() -> Dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git"] + list(args), cwd=ROOT, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""

    return {"head": git("rev-parse", "--short", "HEAD"), "changed": git("status", "--short", "--", "cemscan").splitlines()}


def main() -> int:
    global QUICK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHES))
    parser.add_argument("--quick", action="store_true", help="one run of each, shorter: for trying the harness")
    args = parser.parse_args()
    QUICK = args.quick
    os.makedirs(os.path.join(BUILD, "run"), exist_ok=True)
    try:
        with open(RESULTS) as f:
            results = json.load(f)
    except (OSError, ValueError):
        results = {}
    results["machine"] = machine()
    results["quick"] = QUICK
    results["git"] = git_state()
    for name in args.only.split(","):
        started = time.time()
        log("==", name)
        before = tree_fingerprint()
        results[name] = BENCHES[name]()
        if tree_fingerprint() != before:
            log("!! cemscan/*.py changed while", name, "ran: running it again")
            before = tree_fingerprint()
            results[name] = BENCHES[name]()
            results[name]["tree_changed"] = tree_fingerprint() != before
        results[name]["took_s"] = time.time() - started
        results["machine"]["loadavg_end"] = os.getloadavg()
        with open(RESULTS + ".tmp", "w") as f:
            json.dump(results, f)
        os.replace(RESULTS + ".tmp", RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
