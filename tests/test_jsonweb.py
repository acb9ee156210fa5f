"""The JSON site: quiet when idle, and a log line for what matters."""

import pytest
from twisted.internet.task import Clock
from twisted.web import http
from twisted.web.test.requesthelper import DummyRequest

from cemscan.jsonweb import JSONRoot, json_site


@pytest.fixture
def site(monkeypatch):
    clock = Clock()
    clock.advance(1764806400)
    site = json_site(JSONRoot(), reactor=clock)
    site.logged = []
    monkeypatch.setattr(http.HTTPFactory, "log", lambda self, req: self.logged.append(
        (req.method, req.path, req.code, self._logDateTime)))
    return site, clock


def test_an_idle_site_sets_no_timer(site):
    site, clock = site
    site.startFactory()
    assert clock.getDelayedCalls() == []  # twisted.web's own Site would wake once a second
    site.stopFactory()


def request(method, path, code=200):
    req = DummyRequest(path.lstrip(b"/").split(b"/"))
    req.method, req.path, req.code = method, path, code
    return req


def test_polls_are_not_logged_but_everything_else_is(site):
    site, clock = site
    for req in (request(b"GET", b"/status"), request(b"HEAD", b"/health"), request(b"GET", b"/metrics"),
                request(b"POST", b"/scan", 202), request(b"GET", b"/status", 400), request(b"GET", b"/result")):
        site.log(req)
    assert [(m, p, c) for m, p, c, _ in site.logged] == [
        (b"POST", b"/scan", 202), (b"GET", b"/status", 400), (b"GET", b"/result", 200)]


def test_the_log_date_follows_the_clock(site):
    site, clock = site
    site.log(request(b"POST", b"/scan", 202))
    clock.advance(3600)
    site.log(request(b"POST", b"/scan", 202))
    assert [date for _, _, _, date in site.logged] == ["[04/Dec/2025:00:00:00 +0000]", "[04/Dec/2025:01:00:00 +0000]"]
