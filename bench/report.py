"""Write docs/benchmarks.md (and its plots) from build/bench/results.json.

    .venv/bin/python bench/report.py
"""

import json
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import BUILD, ROOT  # noqa: E402

DOC = os.path.join(ROOT, "docs", "benchmarks.md")
PLOTS = os.path.join(ROOT, "docs", "benchmarks")
SEED_RPS = 1100.0
SEED_LATENCY_MS = 44.0
DEFAULT_POLL = 10.0


def fmt_s(v: Optional[float], digits: int = 3) -> str:
    return "–" if v is None else "%.*f s" % (digits, v)


def rng(st: Dict[str, Any], unit: str = "s", scale: float = 1.0, digits: int = 3) -> str:
    """median (min–max, n runs)"""
    if len(st["runs"]) == 1:
        return "%.*f %s (1 run)" % (digits, st["median"] * scale, unit)
    return "%.*f %s (%.*f–%.*f, %d runs)" % (digits, st["median"] * scale, unit, digits, st["min"] * scale,
                                            digits, st["max"] * scale, len(st["runs"]))


def verdict(ok: bool, miss: str = "") -> str:
    return "**met**" if ok else "**missed**" + (" (%s)" % miss if miss else "")


class Table:
    def __init__(self) -> None:
        self.rows: List[Tuple[str, ...]] = []

    def add(self, *cells: str) -> None:
        self.rows.append(cells)

    def markdown(self) -> str:
        head = ("#", "figure", "goal", "measured: median (range)", "baseline / peer, same run", "verdict")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def plot_stall(stall: Dict[str, Any]) -> Optional[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layouts = [k for k in ("issue", "oscap") if k in stall]
    if not layouts:
        return None
    fig, axes = plt.subplots(len(layouts), 1, figsize=(9, 3.2 * len(layouts)), squeeze=False)
    for ax, name in zip(axes[:, 0], layouts):
        ex = stall[name]["example"]
        t0 = ex["timeline"]["exited"]
        xs = [t for t, _ in ex["samples"]]
        ys = [ms for _, ms in ex["samples"]]
        ax.plot(xs, ys, ".", markersize=2, color="tab:blue", label="GET /status latency (1 ms apart)")
        ax.axvline(0, color="tab:red", label="scanner exits")
        ax.axvline(ex["timeline"]["ended"] - t0, color="tab:green", label="result ready (state done)")
        ax.axvline(ex["timeline"]["result_done"] - t0, color="tab:purple", linestyle=":",
                   label="GET /result answered")
        ax.axvline(ex["timeline"]["posted"] - t0, color="grey", linestyle="--", label="POST /scan")
        ax.axhline(20, color="orange", linestyle="--", linewidth=0.8, label="p99 goal 20 ms")
        ax.axhline(100, color="black", linestyle="--", linewidth=0.8, label="worst goal 100 ms")
        ax.set_yscale("log")
        ax.set_ylim(0.1, 300)
        meta = stall[name]["file"]
        ax.set_title("%s layout: %.0f MB ARF, %d rule-results (%s)" % (
            name, meta["size"] / 1e6, meta["rules"],
            "TestResult last" if name == "issue" else "TestResult before the OVAL results, as oscap 1.3.7"),
            fontsize=10)
        ax.set_xlabel("seconds after the scanner exited")
        ax.set_ylabel("ms")
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="upper right", ncol=2)
    fig.tight_layout()
    path = os.path.join(PLOTS, "status-latency-during-parse.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.path.relpath(path, os.path.dirname(DOC))


def _fleet_axes(ax: Any, xs: List[int], xlabel: str, ylabel: str) -> None:
    """Both fleet plots: fleet sizes on a log axis, labelled as they are."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xscale("log")
    ax.set_xticks(xs, [format(x, ",") for x in xs])
    ax.minorticks_off()
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)


def plot_fleet(fleet: Dict[str, Any]) -> Optional[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted((int(n), v) for n, v in fleet["sizes"].items() if "runs" in v)
    if not sizes:
        return None
    xs = [n for n, _ in sizes]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    a1.plot(xs, [v["wall_s"]["median"] for _, v in sizes], "o-", label="fleet wall time (process start to exit)")
    a1.plot(xs, [v["completion_max_s"]["median"] for _, v in sizes], "s-", label="slowest scan, kickoff to result")
    a1.axhline(18, color="orange", linestyle="--", label="goal: 15 s scan + 3 s")
    _fleet_axes(a1, xs, "concurrent scans (simulated daemons)", "seconds")
    a2.plot(xs, [v["peak_rss_mb"]["median"] for _, v in sizes], "o-", color="tab:red", label="peak RSS")
    a2.axhline(120, color="orange", linestyle="--", label="goal at 1,000: 120 MB")
    _fleet_axes(a2, xs, "concurrent scans", "MB")
    fig.suptitle("one `cemscan scan` process, 15 s scans, --poll-interval 2", fontsize=10)
    fig.tight_layout()
    path = os.path.join(PLOTS, "fleet.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.path.relpath(path, os.path.dirname(DOC))


def main() -> int:
    with open(os.path.join(BUILD, "results.json")) as f:
        r = json.load(f)
    os.makedirs(PLOTS, exist_ok=True)
    t = Table()
    notes: List[str] = []
    m = r.get("machine", {})

    lat = r.get("latency")
    if lat:
        c = lat["client"]
        t.add("1", "result in the runner's hand after the scanner exits: `DaemonClient.scan()` as it is, "
                   "default poll interval (%g s); it %s `?wait=`" % (DEFAULT_POLL, "uses" if c["uses_wait"] else
                                                                   "does **not** use"),
              "< 0.1 s", rng(c), "seed design: %.0f s on average (poll interval / 2)" % (DEFAULT_POLL / 2),
              verdict(c["median"] < 0.1, "by %.2f s" % (c["median"] - 0.1)))
        lp = lat["longpoll"]
        t.add("1", "the same, daemon side alone: raw `GET /status?wait=30` then `GET /result`", "< 0.1 s", rng(lp),
              "", verdict(lp["median"] < 0.1))

    osc = r.get("oscap")
    if osc and "skipped" not in osc:
        for name, v in osc.items():
            if not isinstance(v, dict) or "bare" not in v:
                continue
            limit = 1.02 * v["bare"]["median"] + 0.2
            for how, label in (("client", "daemon + `DaemonClient` (as it is%s)" % (
                    ", long-poll" if v["client_uses_wait"] else ", polling every 10 s")),
                               ("longpoll", "daemon + raw long-poll")):
                med = v[how]["median"]
                t.add("2", "real oscap scan, %s content (%d rules), through %s" % (name, v["rules"], label),
                      "≤ 1.02 × bare + 0.2 s = %.2f s" % limit, rng(v[how]),
                      "bare `oscap xccdf eval`: %s (×%.2f)" % (rng(v["bare"]), med / v["bare"]["median"]),
                      verdict(med <= limit, "by %.2f s" % (med - limit)))

    srv = r.get("serving")
    if srv:
        for key, label in (("venv", "PyPI stack (%s)" % m.get("venv", "")),
                           ("debian", "Debian stack (%s)" % m.get("debian", ""))):
            v = srv.get(key)
            if not v:
                continue
            rps = v["rps"]["median"]
            t.add("3", "`GET /status` req/s, 50 keep-alive connections, daemon pinned to 1 core, %s" % label,
                  "≥ 15 × seed = %s req/s" % format(int(15 * SEED_RPS), ","),
                  rng(v["rps"], "req/s", digits=0),
                  "seed WEBrick ~1,100 req/s: ×%.1f" % (rps / SEED_RPS),
                  verdict(rps >= 15 * SEED_RPS, "by %s req/s: %.0f%% of the goal" % (
                      format(int(15 * SEED_RPS - rps), ","), 100 * rps / (15 * SEED_RPS))))
            t.add("3", "the same against a minimal twisted.web resource returning a constant (same twistd, "
                       "same core; neither writes an access-log line per poll)", "≥ 0.9 ×", "×%.2f (%.2f–%.2f)" % (
                      v["ratio"]["median"], v["ratio"]["min"], v["ratio"]["max"]),
                  "minimal: %s" % rng(v["minimal_rps"], "req/s", digits=0),
                  verdict(v["ratio"]["median"] >= 0.9, "by %.2f" % (0.9 - v["ratio"]["median"])))
            t.add("3", "single-connection median latency, %s" % label, "< 0.5 ms",
                  rng(v["p50_ms_1c"], "ms", digits=3),
                  "minimal %.3f ms; seed ~%g ms" % (v["minimal_p50_ms_1c"]["median"], SEED_LATENCY_MS),
                  verdict(v["p50_ms_1c"]["median"] < 0.5))
        for key, words in (("venv+statuscache", "with the /status body made once per state change instead of "
                                                 "once per request (bench/variant.py `statuscache`)"),
                           ("venv+nolog,statuscache", "with that and no access log (`nolog,statuscache`; the "
                                                      "minimal server without access log too)")):
            v = srv.get(key)
            if v:
                notes.append("`GET /status` at 50 connections, PyPI stack, %s: %s against minimal %s: ×%.2f (%s)."
                             % (words, rng(v["rps"], "req/s", digits=0), rng(v["minimal_rps"], "req/s", digits=0),
                                v["ratio"]["median"], ", ".join(
                                    "%s %s" % ("≥ 0.9 × minimal" if i == 0 else "≥ 16,500 req/s",
                                               "met" if ok else "not met")
                                    for i, ok in enumerate((v["ratio"]["median"] >= 0.9,
                                                            v["rps"]["median"] >= 15 * SEED_RPS)))))

    st = r.get("stall")
    if st:
        for name in ("issue", "oscap"):
            v = st.get(name)
            if not v or "file" not in v:
                continue
            meta = v["file"]
            what = "%.0f MB ARF, %d rule-results, %s" % (meta["size"] / 1e6, meta["rules"],
                                                          "TestResult last" if name == "issue"
                                                          else "oscap 1.3.7 layout (OVAL results after the TestResult)")
            readers = v["parse"]["readers"]

            def med(reader: str, key: str = "wall") -> float:
                vals = sorted(readers[reader][key])
                return vals[len(vals) // 2]

            bare, whole, regions = med("bare"), med("whole"), med("regions")
            ready = v["ready_s"]["median"]
            t.add("4", "result ready after the scanner exits (state done, result and state saved), %s" % what,
                  "≤ 1.0 s and ≤ 1.15 × bare iterparse", rng(v["ready_s"]),
                  "bare stdlib iterparse pass alone: %.3f s (×%.2f); with /status asked every ms meanwhile: %s" % (
                      bare, ready / bare, rng(v["ready_loaded_s"])),
                  verdict(ready <= 1.0 and ready <= 1.15 * bare,
                          "by %.2f s" % (ready - min(1.0, 1.15 * bare))))
            t.add("4", "the ARF reader alone (cemscan.arf.parse_arf), %s" % what, "≤ 1.15 × bare iterparse",
                  "%.3f s (CPU %.3f s)" % (regions, med("regions", "cpu")),
                  "bare iterparse %.3f s; previous reader %.3f s (now ×%.2f of bare, was ×%.2f)" % (
                      bare, whole, regions / bare, whole / bare),
                  verdict(regions <= 1.15 * bare))
            t.add("4", "`GET /status` p99 while it parses and saves (asked every ms, scanner exit to state "
                       "done), %s" % what, "< 20 ms",
                  rng(v["p99_ms"], "ms", digits=1), "p50 %.2f ms" % v["p50_ms"]["median"],
                  verdict(v["p99_ms"]["median"] < 20, "by %.1f ms" % (v["p99_ms"]["median"] - 20)))
            t.add("4", "`GET /status` worst in that window, %s" % what, "< 100 ms",
                  rng(v["max_ms"], "ms", digits=1),
                  "counting the runner's `GET /result` (%d rules, JSON encoded on the reactor thread) right "
                  "after: %s" % (v["rules"], rng(v["max_with_result_ms"], "ms", digits=1))
                  if "max_with_result_ms" in v else "", verdict(v["max_ms"]["median"] < 100,
                                                               "by %.1f ms" % (v["max_ms"]["median"] - 100)))
            t.add("4", "daemon peak RSS growth (VmHWM), %s" % what, "< 50 MB", rng(v["hwm_growth_mb"], "MB", digits=1),
                  "reader alone: %.1f MB (previous reader %.1f MB)" % (
                      readers["regions"]["peak_growth_kb"] / 1024, readers["whole"]["peak_growth_kb"] / 1024),
                  verdict(v["hwm_growth_mb"]["median"] < 50, "by %.1f MB" % (v["hwm_growth_mb"]["median"] - 50)))

    fl = r.get("fleet")
    paper = None
    if fl:
        for n in ("250", "1000", "2500", "5000"):
            v = fl["sizes"].get(n)
            if not v or "runs" not in v:
                continue
            goal_rows = n == "1000"
            t.add("5", "%s concurrent scans from one `cemscan scan` (15 s scans, 2 s polls): slowest scan, "
                       "kickoff to result in hand" % format(int(n), ","),
                  "≤ 18 s (scan + 3 s)" if goal_rows else "(measured too)", rng(v["completion_max_s"]),
                  "median scan %.2f s; fleet wall %s" % (v["completion_p50_s"]["median"], rng(v["wall_s"], digits=1)),
                  verdict(v["completion_max_s"]["median"] <= 18.0, "by %.1f s" % (v["completion_max_s"]["median"] - 18))
                  if goal_rows else ("within 18 s" if v["completion_max_s"]["median"] <= 18 else
                                     "over 18 s by %.1f s" % (v["completion_max_s"]["median"] - 18)))
            t.add("5", "%s concurrent scans: peak RSS of the `cemscan scan` process" % format(int(n), ","),
                  "< 120 MB" if goal_rows else "(measured too)", rng(v["peak_rss_mb"], "MB", digits=1),
                  "CPU %.1f s, %.2f ms a request, peak %d fds" % (v["cpu_s"]["median"],
                                                                  v["cpu_ms_per_request"]["median"],
                                                                  v["peak_fds"]["median"]),
                  verdict(v["peak_rss_mb"]["median"] < 120, "by %.1f MB" % (v["peak_rss_mb"]["median"] - 120))
                  if goal_rows else "")
        paper = fleet_on_paper(fl)
        if paper:
            t.add("5", "50,000 concurrent scans, on paper from the per-target costs measured at 1,000 and 5,000",
                  "(estimate)", paper["summary"], "see below", "–")

    fp = r.get("footprint")
    if fp:
        for key in ("venv", "debian"):
            v = fp["idle"].get(key)
            if not v:
                continue
            fixed = fp["idle"].get(key + "+quiet") or fp["idle"].get("venv+quiet")
            t.add("6", "idle daemon: wake-ups (context switches, all threads) in %g s, %s stack" % (v["seconds"], key),
                  "0", "%d (strace: %s system calls in 2 s)" % (v["wakeups"], v["syscalls_2s"]),
                  "with twisted.web's 1 s log-date timer removed (bench/variant.py `quiet`, PyPI stack): %d" % (
                      fixed["wakeups"]) if fixed else "",
                  verdict(v["wakeups"] == 0, "once a second: twisted.web's Site timer"))
            t.add("6", "idle daemon RSS, %s stack" % key, "≤ 50 MB", "%.1f MB" % v["rss_mb"],
                  "seed (Ruby) ~20 MB; reactor + TLS stack alone ~45 MB",
                  verdict(v["rss_mb"] <= 50, "by %.1f MB" % (v["rss_mb"] - 50)))
        ch = fp["churn"]
        t.add("6", "RSS growth over %d back-to-back scans (stub scanner, small ARF; after %d warm-up scans)" % (
            ch["scans"], ch["warmup"]), "≤ 2 MB", "%+.2f MB" % ch["growth_mb"],
              "fds %d → %d, threads %d → %d, %.1f ms a scan" % (
                  ch["before"]["fds"], ch["after"]["fds"], ch["before"]["threads"], ch["after"]["threads"],
                  ch["ms_per_scan"]),
              verdict(ch["growth_mb"] <= 2, "by %.2f MB" % (ch["growth_mb"] - 2)))
        t.add("6", "daemon CPU while a scan runs (scanner prints %d progress lines/s, as oscap --progress does on "
                   "cheap rules)" % fp["scan_cpu_lines_per_s"], "≤ 1 % of a core",
              rng(fp["scan_cpu_percent"], "%", digits=2),
              "output read once a second (bench/variant.py `batch`): %s, all %s progress lines counted" % (
                  rng(fp["scan_cpu_percent_batch"], "%", digits=2), fp["scan_rules_counted_batch"][0])
              if "scan_cpu_percent_batch" in fp else "", verdict(fp["scan_cpu_percent"]["median"] <= 1,
                                                                      "by %.2f points" % (
                                                                          fp["scan_cpu_percent"]["median"] - 1)))

    stall_png = plot_stall(st) if st else None
    fleet_png = plot_fleet(fl) if fl else None
    took = sum(v.get("took_s", 0) for v in r.values() if isinstance(v, dict))
    with open(DOC, "w") as f:
        w = f.write
        w("# cemscan benchmarks (issue 6)\n\n")
        w("Written by `make bench` (bench/run.py, then bench/report.py) on %s. Machine: %d CPU (%s), %s MB, "
          "kernel %s; PyPI stack: Python/Twisted %s; Debian stack: %s; %s. Load average %s at the start, "
          "%s at the end (other work was running on this machine: the ranges show how much that moved the "
          "figures). The benchmarks took %.0f s.%s\n\n" % (
              time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(os.path.join(BUILD, "results.json")))),
              m.get("cpus", 0), m.get("cpu_model", "?"), format(m.get("memory_mb", 0), ","), m.get("kernel", "?"),
              m.get("venv", "?"), m.get("debian", "?"), m.get("oscap", "?"),
              " / ".join("%.1f" % x for x in m.get("loadavg_start", [])),
              " / ".join("%.1f" % x for x in m.get("loadavg_end", [])), took,
              " **Quick run (`--quick`): one run each, not the figures of record.**" if r.get("quick") else ""))
        g = r.get("git", {})
        w("Code measured: commit %s%s.\n\n" % (g.get("head", "?"), (", with uncommitted changes to " + ", ".join(
            line.split()[-1] for line in g["changed"])) if g.get("changed") else ""))
        changed = [k for k, v in r.items() if isinstance(v, dict) and v.get("tree_changed")]
        if changed:
            w("**Warning: cemscan/*.py changed while %s ran, twice: those figures may mix two versions.**\n\n"
              % ", ".join(changed))
        w("Every figure is the median of several runs (range in brackets); a baseline or peer on the same row "
          "was measured in the same run, interleaved with it. All load is on 127.0.0.1; server and load "
          "generator are pinned to different cores with taskset.\n\n")
        w("## Figures against the goals\n\n")
        w(t.markdown() + "\n\n")
        for note in notes:
            w("- %s\n" % note)
        if notes:
            w("\n")
        w(gaps(r))
        w(details(r, paper))
        if stall_png:
            w("\n![/status latency while the daemon takes in a big ARF](%s)\n" % stall_png)
        if fleet_png:
            w("\n![fleet wall time and memory against fleet size](%s)\n" % fleet_png)
        w(HOW)
    print(DOC)
    return 0


def fleet_on_paper(fl: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    a, b = fl["sizes"].get("1000"), fl["sizes"].get("5000")
    if not a or not b or "runs" not in a or "runs" not in b:
        return None
    mem_per_target_kb = 1024 * (b["peak_rss_mb"]["median"] - a["peak_rss_mb"]["median"]) / 4000
    base_mb = a["peak_rss_mb"]["median"] - 1000 * mem_per_target_kb / 1024
    cpu_ms = b["cpu_ms_per_request"]["median"]
    fds_per_target = b["peak_fds"]["median"] / 5000
    runs = b["runs"][0]
    requests_per_target = runs["requests"] / 5000
    n = 50000
    mem_mb = base_mb + n * mem_per_target_kb / 1024
    # A real fleet: 30-minute scans, the client's default 10 s poll interval (a held poll each 10 s).
    real_rps = n / 10.0
    bench_rps = n / 2.0
    return {
        "mem_per_target_kb": mem_per_target_kb, "base_mb": base_mb, "cpu_ms_per_request": cpu_ms,
        "fds_per_target": fds_per_target, "requests_per_target": requests_per_target,
        "mem_mb": mem_mb, "fds": n * fds_per_target, "cores_bench": bench_rps * cpu_ms / 1000,
        "cores_real": real_rps * cpu_ms / 1000,
        "burst_cpu_s": n * 3 * cpu_ms / 1000,
        "summary": "~%.0f MB, ~%s fds, %.1f cores at 2 s polls (%.1f at 10 s); start/end bursts ~%.0f CPU s each" % (
            mem_mb, format(int(n * fds_per_target), ","), bench_rps * cpu_ms / 1000, real_rps * cpu_ms / 1000,
            n * 3 * cpu_ms / 1000 / 2),
    }


def gaps(r: Dict[str, Any]) -> str:
    """Each goal missed: why, and what the change measured by bench/variant.py gives."""
    out = []
    srv, fp, fl, st = r.get("serving", {}), r.get("footprint", {}), r.get("fleet", {}), r.get("stall", {})
    if srv.get("venv"):
        sc, both = srv.get("venv+statuscache"), srv.get("venv+nolog,statuscache")
        out.append("- **/status throughput (3).** twisted.web on CPython serves %s req/s with a constant resource "
                   "on one core of this machine (PyPI stack, same run), so 16,500 is out of reach for any "
                   "twisted.web daemon that writes an access-log line per request. Of a request's cost, "
                   "cemscan's own part is building the status (a dict, two strftime calls) and encoding it "
                   "(json.dumps, two headers) each time%s%s" % (
                       format(int(srv["venv"]["minimal_rps"]["median"]), ","),
                       "; made once per state change (`statuscache`) the ratio goes to ×%.2f" % sc["ratio"]["median"]
                       if sc else "",
                       "; with no access-log line either (`nolog,statuscache`) cemscan serves %s req/s (the minimal "
                       "server without access log: %s req/s), %s the 16,500 goal in this run." % (
                           format(int(both["rps"]["median"]), ","), format(int(both["minimal_rps"]["median"]), ","),
                           "above" if both["rps"]["median"] >= 15 * SEED_RPS else "below") if both else "."))
    if fp.get("idle", {}).get("venv", {}).get("wakeups"):
        out.append("- **Idle wake-ups (6).** The only timer of an idle daemon is twisted.web's: `HTTPFactory` "
                   "re-renders its access-log date every second (`_updateLogDateTime`, in Twisted 22.4 and 26 "
                   "alike). Made lazily instead (`quiet`), an idle daemon makes no system call at all.")
    if fp.get("scan_cpu_percent", {}).get("median", 0) > 1:
        out.append("- **CPU while scanning (6).** `oscap --progress` writes one line per rule with its own "
                   "write(2), and the daemon reads the pipe as soon as it is readable: one reactor wake-up per "
                   "rule. Reading the pipe once a second (`batch`; 64 KB of pipe holds a minute of lines) takes "
                   "it to %.2f %% with every line still counted." % fp["scan_cpu_percent_batch"]["median"]
                   if "scan_cpu_percent_batch" in fp else "")
    if fp.get("idle", {}).get("venv", {}).get("rss_mb", 0) > 50:
        out.append("- **Idle RSS (6), PyPI stack only.** Importing Twisted 26's reactor (with the TLS stack) is "
                   "~42 MB here against ~38 MB for Debian's Twisted 22.4; the daemon's own modules add ~5.5 MB "
                   "(prometheus_client ~1.2 MB of it). The Debian package, which is what ships, is under 50 MB.")
    five = fl.get("sizes", {}).get("5000")
    if five and "runs" in five and five["completion_max_s"]["median"] > 18:
        out.append("- **Fleet at 5,000 (5, measured, not a goal).** One `cemscan scan` process is CPU-bound: "
                   "%.1f CPU s in %.1f s, %.2f ms of CPU a request. All 5,000 scans end at once and every "
                   "request opens a new connection, resolved through twisted's HostnameEndpoint (a thread-pool "
                   "getaddrinfo even for an IP address)." % (five["cpu_s"]["median"], five["wall_s"]["median"],
                                                             five["cpu_ms_per_request"]["median"]))
    issue = st.get("issue")
    if issue and "max_with_result_ms" in issue:
        g = st.get("issue+gcfreeze")
        out.append("- **Worst /status delays (4).** While it parses, a /status may wait for the parse thread "
                   "to give up the GIL: p50 %.2f ms, p99 %.1f ms, worst %.1f ms. The "
                   "largest delay around a big scan comes after it: the runner's `GET /result` encodes the "
                   "%d-rule result (~3 MB of JSON) on the reactor thread, %.1f ms during which nothing else "
                   "is answered.%s" % (
                       issue["p50_ms"]["median"], issue["p99_ms"]["median"], issue["max_ms"]["median"],
                       issue["rules"], issue["max_with_result_ms"]["median"],
                       " With `gc.freeze()` after start-up (`gcfreeze`): p99 %.1f ms, worst %.1f ms, %.1f ms "
                       "with the result fetch." % (g["p99_ms"], g["max_ms"], g["max_with_result_ms"])
                       if g and "max_with_result_ms" in g else ""))
    out = [line for line in out if line]
    return ("## Where goals are missed, and what was measured to close them\n\n" + "\n".join(out) + "\n\n") \
        if out else ""


def details(r: Dict[str, Any], paper: Optional[Dict[str, Any]]) -> str:
    out = ["## Details\n"]
    st = r.get("stall")
    if st:
        for name, v in st.items():
            if not isinstance(v, dict) or "parse" not in v:
                continue
            readers = v["parse"]["readers"]
            out.append("**ARF readers on the %s layout** (%.0f MB, one process, %d interleaved runs; same answer: %s): "
                       % (name, v["file"]["size"] / 1e6, len(readers["bare"]["wall"]), v["parse"]["same_answer"])
                       + "; ".join("%s %s s wall, %s s CPU, peak RSS +%.1f MB" % (
                           reader, "/".join("%.2f" % x for x in d["wall"]), "/".join("%.2f" % x for x in d["cpu"]),
                           d["peak_growth_kb"] / 1024) for reader, d in readers.items())
                       + ". In the daemon: `GET /result` of the %d-rule result took %s; %s /status requests fell in "
                         "the measured windows.\n" % (v["rules"], rng(v["result_fetch_s"]),
                                                      "/".join(str(x) for x in v["window_requests"])))
    if st and "issue+gcfreeze" in st:
        g = st["issue+gcfreeze"]
        out.append("\n**With `gc.collect(); gc.freeze()` once after start-up** (bench/variant.py `gcfreeze`, one "
                   "daemon, issue layout, poller every ms): /status p50 %.2f ms, p99 %.1f ms, worst %.1f ms; result "
                   "ready %.3f s (one run: compare with the issue-layout rows of the table).\n" % (
                       g["p50_ms"], g["p99_ms"], g["max_ms"], g["ready_loaded_s"]))
    fl = r.get("fleet")
    if fl:
        rows = ["| nodes | runs | fleet wall | slowest scan | median scan | peak RSS | client CPU | requests | "
                "held long-polls | peak fds | simulator CPU |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for n, v in sorted(((int(k), v) for k, v in fl["sizes"].items() if "runs" in v)):
            x = v["runs"][0]
            rows.append("| %s | %d | %.1f s | %.2f s | %.2f s | %.1f MB | %.1f s | %s | %s | %d | %.1f s |" % (
                format(n, ","), len(v["runs"]), v["wall_s"]["median"], v["completion_max_s"]["median"],
                v["completion_p50_s"]["median"], v["peak_rss_mb"]["median"], v["cpu_s"]["median"],
                format(x["requests"], ","), format(x["long_polls"], ","), v["peak_fds"]["median"], x["sim_cpu_s"]))
        out.append("\n**Fleet** (one `cemscan scan --poll-interval 2 --json --config FILE` pinned to one core; "
                   "the simulated daemons, bench/simfleet.py, one port each on 127.0.0.1, on the other core):\n\n"
                   + "\n".join(rows) + "\n")
    if paper:
        out.append("\n**50,000 on paper.** Measured per-target costs: memory %.1f KB a target (slope of peak RSS "
                   "from 1,000 to 5,000; %.0f MB base), %.2f ms of client CPU a request (at 5,000), %.2f open "
                   "files a target at the peak (a held long-poll is a socket), %.1f requests a target for a 15 s "
                   "scan. So 50,000 targets: ~%.0f MB; ~%s file descriptors (the open-file limit must allow it: "
                   "`ulimit -n`); %.1f cores of client CPU to poll every 2 s (%.1f cores at the default 10 s, "
                   "one held poll per target every 10 s), where one process has one core: at 5,000 the client "
                   "already saturates its core at the start and end of the scans. The kickoff (health + POST) and "
                   "the end (last poll + result) are bursts of ~%s requests each, ~%.0f CPU s each in one "
                   "process. One process cannot do 50,000 with 2 s polls; it would take ~%d processes (or a "
                   "cheaper request path).\n" % (
                       paper["mem_per_target_kb"], paper["base_mb"], paper["cpu_ms_per_request"],
                       paper["fds_per_target"], paper["requests_per_target"], paper["mem_mb"],
                       format(int(paper["fds"]), ","), paper["cores_bench"], paper["cores_real"],
                       format(100000, ","), paper["burst_cpu_s"] / 2, max(1, round(paper["cores_bench"] + 0.5))))
    fp = r.get("footprint")
    if fp:
        out.append("\n**Footprint.** Idle: %s. RSS during the back-to-back scans (MB after n scans): %s.\n" % (
            "; ".join("%s %d wake-ups in %g s, %.1f MB, %d thread(s)" % (k, v["wakeups"], v["seconds"], v["rss_mb"],
                                                                          v["threads"])
                      for k, v in fp["idle"].items()),
            ", ".join("%d: %.1f" % (n, mb) for n, mb in fp["churn"]["samples"][::4])))
    return "\n".join(out)


HOW = """
## How it is measured

- `make bench` builds bench/loadgen.c and bench/stubscan.c with gcc, installs matplotlib into .venv,
  raises the open-file limit, writes the big ARFs (bench/bigarf.py) and a 2,000-rule benchmark
  (bench/bigcontent.py, composed with `oscap ds sds-compose`), runs bench/run.py and bench/report.py.
  `bench/run.py --only fleet` (or any of latency, oscap, serving, stall, fleet, footprint) reruns one part;
  `--quick` does one short run of each, to try the harness.
- **1.** Five real daemons (`twistd cemscan`, PyPI stack) with bench/stubscan.c as the scanner; their scans end
  1.3, 3.3, 5.3, 7.3 and 9.3 s after kickoff, so that a client polling every 10 s shows its average. The
  stub appends its exit time (CLOCK_REALTIME) to a file just before it exits; bench/clientscan.py runs one
  `DaemonClient.scan()` per daemon at once, with the client's defaults, and notes when each Result arrives.
  Whether the client long-polls is read from `DaemonClient.long_poll_wait` with its defaults (the daemon
  writes no access-log line for a successful poll).
- **2.** The same real oscap, content and profile, run bare and through the daemon, alternately; the daemon
  figure is POST /scan to result in hand (raw long-poll) or `DaemonClient.scan()` call to Result.
- **3.** bench/loadgen.c: one epoll thread, N keep-alive connections, one request in flight on each (no
  pipelining), fixed duration, the first 0.3 s not counted. Server on core 0, load generator on core 1. The
  daemon answers `/status` for a finished scan (the full body); the peer is bench/minimal.tac, a
  `twisted.web` resource returning a 19-byte constant, run by the same twistd with the same logging.
- **4.** bench/bigarf.py writes the ARF; the stub copies it to the scan's `--results-arf` and exits 2. One
  loadgen connection asks `/status` every millisecond (paced, so that it measures rather than loads); the
  window is from the stub's exit to 0.5 s after the long-poll saw `done` (which comes after the result and
  the state are saved). A fresh daemon each run, two small warm-up scans first; RSS growth is VmHWM after
  minus RSS before. bench/parsebench.py times the readers alone in one process, interleaved.
- **5.** bench/simfleet.py serves N simulated daemons (one port each on 127.0.0.1, the protocol including
  `?wait=` long-polls) in one asyncio process; `cemscan scan` reads the targets from a config file. A node's
  scan time is from its POST to its first `GET /result`; peak RSS and CPU come from wait4's rusage.
- **6.** Wake-ups: the sum of voluntary and involuntary context switches of every thread of an idle daemon
  over the interval, and `strace -f -c` for 2 s. Back-to-back scans: POST, long-poll, GET /result, again;
  RSS (VmRSS) after the warm-up scans and at the end. CPU while scanning: utime+stime from /proc over the
  scan (the stub printing one progress line per write, like `oscap --progress`).
- bench/variant.py runs twistd with a change made from outside (not shipped) to show what a recommended
  change would buy: `quiet` (no once-a-second log-date timer), `nolog` (no access log), `statuscache`
  (the /status body of a scan that is not running made once), `batch` (the scanner's output read once a
  second), `gcfreeze` (`gc.freeze()` after start-up).
"""


if __name__ == "__main__":
    sys.exit(main())
