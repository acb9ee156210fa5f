"""TARGET parsing: the same spellings on the command line and in the config file."""

import pytest

from cemscan.errors import TargetError
from cemscan.targets import Target, hostport, parse_target


@pytest.mark.parametrize("text, target", [
    ("node1", Target("node1", 8084)),
    ("node1:9000", Target("node1", 9000)),
    ("http://node1:9000", Target("node1", 9000)),
    ("HTTP://node1:9000/", Target("node1", 9000)),
    ("http://node1", Target("node1", 8084)),
    ("10.0.0.5", Target("10.0.0.5", 8084)),
    ("[fd00::5]:9000", Target("fd00::5", 9000)),
    ("fd00::5", Target("fd00::5", 8084)),
    ("  node-1.example.com  ", Target("node-1.example.com", 8084)),
    ("https://node1:8443", Target("node1", 8443, tls=True)),
    ("HTTPS://node1", Target("node1", 8084, tls=True)),
    ("https://[fd00::5]:8443/", Target("fd00::5", 8443, tls=True)),
    ("https://fd00::5", Target("fd00::5", 8084, tls=True)),
])
def test_accepted_spellings(text, target):
    assert parse_target(text) == target


def test_default_port_applies_only_without_an_explicit_one():
    assert parse_target("node1", default_port=7000).port == 7000
    assert parse_target("node1:9000", default_port=7000).port == 9000


@pytest.mark.parametrize("text, words", [
    ("", "empty target"),
    ("ftp://node1", "http:// or https://, not ftp://"),
    ("https://node1:0", "port must be a number from 1 to 65535"),
    ("node1:0", "port must be a number from 1 to 65535"),
    ("node1:99999", "port must be a number from 1 to 65535"),
    ("node1:http", "port must be a number from 1 to 65535"),
    ("node1:", "port must be a number from 1 to 65535"),
    ("http://node1/scan", "no path, query or user"),
    ("admin@node1", "no path, query or user"),
    ("node one", "is not a host name or IP address"),
    ("-node", "is not a host name or IP address"),
])
def test_rejected_spellings_name_the_text(text, words):
    with pytest.raises(TargetError, match=words) as caught:
        parse_target(text)
    assert text.strip() == "" or repr(text) in str(caught.value)


def test_hostport_brackets_ipv6():
    assert hostport("node1", 8084) == "node1:8084"
    assert hostport("fd00::5", 8084) == "[fd00::5]:8084"
    assert str(Target("fd00::5", 1)) == "[fd00::5]:1"


def test_a_target_names_its_node_the_same_whatever_the_scheme():
    assert str(parse_target("https://node1:8443")) == str(parse_target("node1:8443")) == "node1:8443"


def test_argument_gives_the_target_back_as_the_user_must_type_it():
    for text in ("node1:8443", "https://node1:8443", "https://[fd00::5]:8443"):
        target = parse_target(text)
        assert target.argument == text and parse_target(target.argument) == target
