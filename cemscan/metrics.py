"""``GET /metrics``: the daemon's state and last result for Prometheus.

Built with prometheus_client (Debian: python3-prometheus-client), imported
on the first scrape, from a collector that reads the ScanManager at scrape time, so nothing is kept up to
date in between and an idle daemon still does nothing.
"""

from typing import Any, Iterator

from cemscan.scoring import COUNT_KEYS
from cemscan.state import ScanManager, State

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class ScanCollector:
    def __init__(self, manager: ScanManager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        manager = self.manager
        state = GaugeMetricFamily("cemscan_state", "1 for the daemon's current scan state", labels=["state"])
        for each in State:
            state.add_metric([each.value], 1.0 if manager.state is each else 0.0)
        yield state
        for name, words in (("started", "Scans started"), ("completed", "Scans that ended in state done"),
                            ("failed", "Scans that ended in state error")):
            yield CounterMetricFamily("cemscan_scans_%s" % name, words + " since the daemon started",
                                      value=manager.totals[name])
        yield from self._progress()
        yield from self._last_result()

    def _progress(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        status = self.manager.status()
        if status["state"] != State.RUNNING.value:
            return
        labels = ["profile"]
        profile = [status["profile"]]
        done = GaugeMetricFamily("cemscan_scan_rules_done", "Rules evaluated so far by the running scan",
                                 labels=labels)
        done.add_metric(profile, status["progress"]["rules_done"])
        yield done
        if status["progress"]["rules_total"] is not None:
            total = GaugeMetricFamily("cemscan_scan_rules_total", "Rules the running scan evaluates",
                                      labels=labels)
            total.add_metric(profile, status["progress"]["rules_total"])
            yield total
        elapsed = GaugeMetricFamily("cemscan_scan_elapsed_seconds", "Seconds since the running scan started",
                                    labels=labels)
        elapsed.add_metric(profile, status["elapsed_s"])
        yield elapsed

    def _last_result(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        result = self.manager.result()
        if result is None:
            return
        profile = [str(result.get("profile"))]
        duration = GaugeMetricFamily("cemscan_last_scan_duration_seconds", "How long the last scan took",
                                     labels=["profile"])
        duration.add_metric(profile, result.get("duration_s") or 0.0)
        yield duration
        ok = GaugeMetricFamily("cemscan_last_scan_success", "1 if the last scan completed, 0 if it ended in error",
                               labels=["profile"])
        ok.add_metric(profile, 0.0 if "error" in result else 1.0)
        yield ok
        if "error" in result:
            return
        score = GaugeMetricFamily("cemscan_last_score", "Score of the last scan: 100 x passed / (passed + failed)",
                                  labels=["profile"])
        score.add_metric(profile, result["score"])
        yield score
        counts = GaugeMetricFamily("cemscan_last_rules", "Rules of the last scan, by result", labels=["profile",
                                                                                                      "result"])
        for key in COUNT_KEYS:
            counts.add_metric(profile + [key[:-len("_count")]], result.get(key, 0))
        yield counts


def render(manager: ScanManager) -> bytes:
    # Imported on the first scrape, not at start-up: a daemon nobody scrapes
    # does not carry prometheus_client (about 1.2 MB).
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScanCollector(manager))
    return generate_latest(registry)
