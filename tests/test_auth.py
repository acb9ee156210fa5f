"""Bearer-token access: the token file, the guard, the refusals."""

import json
import os

import pytest
from treq.testing import StubTreq

from cemscan.auth import TokenFileError, TokenGuard, read_token_file
from cemscan.resources import build_root

TOKEN = b"s3cret-token-0123456789"


def token_file(tmp_path, content=TOKEN + b"\n", mode=0o600):
    path = tmp_path / "token"
    path.write_bytes(content)
    path.chmod(mode)
    return str(path)


def test_reads_the_token_without_its_newline(tmp_path):
    assert read_token_file(token_file(tmp_path)) == TOKEN


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o602, 0o620])
def test_refuses_a_file_others_can_read_or_write(tmp_path, mode):
    with pytest.raises(TokenFileError, match=r"can be read or written by others \(mode 0%o\); run: chmod 600" % mode):
        read_token_file(token_file(tmp_path, mode=mode))


@pytest.mark.parametrize("content, words", [
    (b"\n", "is empty"),
    (b"two words", "one line of printable ASCII"),
    (b"a\nb", "one line of printable ASCII"),
])
def test_refuses_bad_content(tmp_path, content, words):
    with pytest.raises(TokenFileError, match=words):
        read_token_file(token_file(tmp_path, content))


def test_missing_file(tmp_path):
    with pytest.raises(TokenFileError, match="cannot read .*: No such file"):
        read_token_file(str(tmp_path / "none"))


def test_a_folder_is_refused(tmp_path):
    os.chmod(tmp_path, 0o700)
    with pytest.raises(TokenFileError):
        read_token_file(str(tmp_path))


@pytest.fixture
def http(make_manager):
    return StubTreq(build_root(make_manager(), TokenGuard(TOKEN)))


def call(http, method, path, auth=None):
    headers = {b"authorization": [auth]} if auth is not None else {}
    d = http.request(method, "http://node:8084" + path, headers=headers)
    http.flush()
    response = d.result
    body = response.content()
    http.flush()
    return response.code, response.headers, json.loads(body.result)


@pytest.mark.parametrize("method, path", [("POST", "/scan"), ("GET", "/status"), ("GET", "/result"),
                                          ("DELETE", "/scan"), ("GET", "/nope"), ("GET", "/")])
@pytest.mark.parametrize("auth", [None, b"Bearer wrong", b"Bearer " + TOKEN + b"x", b"Basic " + TOKEN, b"Bearer",
                                  TOKEN])
def test_without_the_right_token_everything_but_health_is_401(http, method, path, auth):
    code, headers, body = call(http, method, path, auth)
    assert code == 401
    assert headers.getRawHeaders("www-authenticate") == ['Bearer realm="cemscan"']
    assert "Authorization: Bearer <token>" in body["error"]


def test_health_needs_no_token(http):
    assert call(http, "GET", "/health")[0] == 200


@pytest.mark.parametrize("auth", [b"Bearer " + TOKEN, b"bearer  " + TOKEN + b" "])
def test_the_right_token_opens_everything(http, auth):
    assert call(http, "GET", "/status", auth)[2] == {"state": "idle"}
    assert call(http, "POST", "/scan", auth)[0] == 202
    assert call(http, "GET", "/nope", auth)[0] == 404
