"""No request, however malformed, gets a 5xx, a traceback or HTML.

Raw bytes go through the real HTTP parser (twisted.web's channel, our Site)
into the real resource tree over an in-memory transport, so every case is
deterministic and quick; hypothesis makes up the requests.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from cemscan.jsonweb import MAX_BODY_BYTES, json_site
from cemscan.resources import build_root


@pytest.fixture
def site(make_manager, reactor):
    return json_site(build_root(make_manager()), reactor=reactor)


def exchange(site, raw: bytes) -> bytes:
    """Feed raw bytes to a fresh connection; what did the daemon send back?"""
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(raw)
    channel.connectionLost(Exception("test over"))
    return transport.value()


def responses(data: bytes):
    """Split what was sent into (status, headers, body) triples."""
    found = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, "incomplete response head: %r" % data[:200]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
        length = int(headers.get(b"content-length", b"0"))
        found.append((status, headers, rest[:length]))
        data = rest[length:]
    return found


def assert_sane(data: bytes) -> None:
    for status, headers, body in responses(data):
        assert status < 500, (status, body)
        assert b"Traceback" not in body and b"<html" not in body.lower(), body
        if body:
            assert headers.get(b"content-type") == b"application/json", headers
            assert isinstance(json.loads(body), dict)


def assert_still_serving(site) -> None:
    [(status, _, body)] = responses(exchange(site, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == 200 and json.loads(body)["status"] == "ok"


token = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=":"), min_size=1,
                max_size=20).map(str.encode)
methods = st.one_of(st.sampled_from([b"GET", b"POST", b"DELETE", b"PUT", b"HEAD", b"OPTIONS", b"PATCH", b"TRACE"]),
                    token)
paths = st.one_of(st.sampled_from([b"/health", b"/scan", b"/status", b"/result", b"/", b"//", b"/status/x"]),
                  st.binary(max_size=60).map(lambda b: b"/" + b.replace(b" ", b"%20").replace(b"\r", b"")
                                             .replace(b"\n", b"")))
queries = st.one_of(st.just(b""), st.binary(max_size=40).map(lambda b: b"?" + b.replace(b" ", b"+")
                                                             .replace(b"\r", b"").replace(b"\n", b"")),
                    st.sampled_from([b"?wait=", b"?wait=1e309", b"?wait=-0", b"?wait=5&wait=x", b"?wait=0x10"]))
headers = st.lists(st.tuples(token, st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))),
                   max_size=6)
bodies = st.one_of(st.just(b""), st.binary(max_size=300), st.sampled_from([
    b'{"profile": null}', b'{"profile": ["a"]}', b'{"profile": "\xff"}', b"null", b"1e999", b'"x"',
    b'{"profile": "xccdf_t_profile_b"}', b"[" * 5000, b'{"a":' * 3000]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=methods, path=paths, query=queries, extra=headers, body=bodies)
def test_generated_requests(site, method, path, query, extra, body):
    head = [method + b" " + path + query + b" HTTP/1.1", b"Host: node"]
    head += [name + b": " + value for name, value in extra if name.lower() not in (b"content-length",
                                                                                  b"transfer-encoding")]
    head.append(b"Content-Length: %d" % len(body))
    assert_sane(exchange(site, b"\r\n".join(head) + b"\r\n\r\n" + body))
    assert_still_serving(site)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=500))
def test_generated_garbage(site, raw):
    assert_sane(exchange(site, raw))
    assert_still_serving(site)


MALFORMED = [
    b"\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /health\r\n\r\n",
    b"GET /health HTTP/9.9\r\n\r\n",
    b"GET /health HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /scan HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /scan HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
    b"\xff\xfe\x00 /health HTTP/1.1\r\n\r\n",
    b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /status?wait=\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    b"POST /scan HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zz\r\nContent-Length: 9\r\n\r\n--zz--\r\nx",
    b"POST /scan HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\n\r\na=%zz",
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_hand_made_malformed_requests(site, raw):
    data = exchange(site, raw)
    assert data, "the daemon said nothing"
    assert_sane(data)
    assert_still_serving(site)


def test_broken_http_gets_a_json_400(site):
    [(status, headers, body)] = responses(exchange(site, b"GET\r\n\r\n"))
    assert status == 400 and headers[b"content-type"] == b"application/json"
    assert json.loads(body)["error"].startswith("malformed HTTP request")


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 5 * 1024 * 1024])
def test_oversized_body_is_413_and_not_kept(site, size):
    raw = b"POST /scan HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size + b" " * size
    [(status, _, body)] = responses(exchange(site, raw))
    assert status == 413 and "over 65536 bytes" in json.loads(body)["error"]


def test_oversized_chunked_body_is_413(site):
    chunk = b"%x\r\n%s\r\n" % (40000, b" " * 40000)
    raw = b"POST /scan HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3 + b"0\r\n\r\n"
    [(status, _, _)] = responses(exchange(site, raw))
    assert status == 413


def test_a_good_scan_still_starts_after_all_that(site, reactor):
    for raw in MALFORMED:
        exchange(site, raw)
    [(status, _, body)] = responses(exchange(site, b"POST /scan HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
    assert status == 202 and len(reactor.spawned) == 1


@pytest.mark.parametrize("declared", [None, 10 * 1024 * 1024])
def test_a_huge_body_is_not_kept_in_memory_or_on_disk(declared):
    from twisted.web.test.requesthelper import DummyChannel

    from cemscan.jsonweb import JSONRequest

    request = JSONRequest(DummyChannel())
    request.gotLength(declared)
    for _ in range(160):
        request.handleContentChunk(b"x" * 65536)
    request.content.seek(0, 2)
    assert request.content.tell() == MAX_BODY_BYTES + 1
