"""GET /metrics: the Prometheus view of the daemon."""

import pytest
from prometheus_client.parser import text_string_to_metric_families
from treq.testing import StubTreq

from cemscan.resources import build_root
from tests.conftest import finish_with_arf


@pytest.fixture
def manager(make_manager):
    return make_manager()


def scrape(manager):
    http = StubTreq(build_root(manager))
    d = http.get("http://node:8084/metrics")
    http.flush()
    response = d.result
    body = response.content()
    http.flush()
    assert response.code == 200
    assert response.headers.getRawHeaders("content-type") == ["text/plain; version=0.0.4; charset=utf-8"]
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.result.decode()) for s in family.samples}


def test_idle(manager):
    samples = scrape(manager)
    assert samples[("cemscan_state", (("state", "idle"),))] == 1
    assert samples[("cemscan_state", (("state", "running"),))] == 0
    assert samples[("cemscan_scans_started_total", ())] == 0
    assert not any(name.startswith(("cemscan_last_", "cemscan_scan_")) for name, _ in samples)


def test_running_shows_progress(manager, reactor):
    manager.start()
    reactor.advance(12)
    reactor.spawned[0].stdout(b"xccdf_a:pass\n")
    samples = scrape(manager)
    profile = (("profile", "xccdf_t_profile_a"),)
    assert samples[("cemscan_state", (("state", "running"),))] == 1
    assert samples[("cemscan_scan_rules_done", profile)] == 1
    assert samples[("cemscan_scan_rules_total", profile)] == 3
    assert samples[("cemscan_scan_elapsed_seconds", profile)] == 12
    assert samples[("cemscan_scans_started_total", ())] == 1


def test_done_shows_score_and_counts(manager, reactor):
    manager.start()
    reactor.advance(30)
    finish_with_arf(reactor.spawned[0], ["pass", "pass", "fail", "notapplicable"])
    samples = scrape(manager)
    profile = ("profile", "xccdf_t_profile_a")
    assert samples[("cemscan_last_score", (profile,))] == 66.67
    assert samples[("cemscan_last_rules", (profile, ("result", "passed")))] == 2
    assert samples[("cemscan_last_rules", (profile, ("result", "failed")))] == 1
    assert samples[("cemscan_last_rules", (profile, ("result", "not_applicable")))] == 1
    assert samples[("cemscan_last_scan_duration_seconds", (profile,))] == 30
    assert samples[("cemscan_last_scan_success", (profile,))] == 1
    assert samples[("cemscan_scans_completed_total", ())] == 1
    assert samples[("cemscan_scans_failed_total", ())] == 0


def test_error_has_no_score(manager, reactor):
    manager.start()
    reactor.spawned[0].end(1)
    samples = scrape(manager)
    profile = (("profile", "xccdf_t_profile_a"),)
    assert samples[("cemscan_last_scan_success", profile)] == 0
    assert ("cemscan_last_score", profile) not in samples
    assert samples[("cemscan_scans_failed_total", ())] == 1


def test_metrics_need_the_token_when_one_is_set(make_manager):
    from cemscan.auth import TokenGuard

    http = StubTreq(build_root(make_manager(), TokenGuard(b"tok")))
    d = http.get("http://node:8084/metrics")
    http.flush()
    assert d.result.code == 401
