"""The TOML config: every bad value is refused with its key and line."""

import os

import pytest

from cemscan.config import Config, TargetEntry, check_token, load_config, parse_config, read_token
from cemscan.errors import ConfigError

GOOD = """\
threshold = 75
scan_output = "results"

[daemon]
port = 9000
ready_timeout = 30
poll_interval = 5
http_timeout = 900.5
request_timeout = 20
token_file = "secrets/token"
ca_file = "/etc/cemscan/ca.pem"

[test_thresholds]
cis-level1 = 90
"stig high" = 60.5

[[targets]]
host = "node1"
test_case = "cis-level1"

[[targets]]
host = "http://node2:8000"
port = 8001
profile = "xccdf_org.example_profile_stig"
threshold = 50
"""


def test_a_full_file():
    config = parse_config(GOOD)
    assert (config.port, config.ready_timeout, config.poll_interval, config.http_timeout,
            config.request_timeout) == (9000, 30, 5, 900.5, 20)
    assert (config.threshold, config.scan_output) == (75, "results")
    assert (config.token_file, config.ca_file) == ("secrets/token", "/etc/cemscan/ca.pem")
    assert config.test_thresholds == {"cis-level1": 90, "stig high": 60.5}
    assert config.targets == (
        TargetEntry(host="node1", test_case="cis-level1"),
        TargetEntry(host="http://node2:8000", port=8001,
                    profile="xccdf_org.example_profile_stig", threshold=50),
    )


def test_an_empty_file_means_the_defaults():
    assert parse_config("") == Config()
    assert (Config().port, Config().poll_interval, Config().http_timeout, Config().threshold) == (
        8084, 10, 1800, 80.0)


def test_load_config_takes_relative_paths_from_the_files_folder(tmp_path):
    path = tmp_path / "fleet.toml"
    path.write_text('scan_output = "out"\n[daemon]\ntoken_file = "t/token"\nca_file = "/abs/ca.pem"\n')
    config = load_config(str(path))
    assert config.scan_output == os.path.join(str(tmp_path), "out")
    assert config.token_file == os.path.join(str(tmp_path), "t", "token")
    assert config.ca_file == "/abs/ca.pem"
    path.write_text("")
    assert load_config(str(path)) == Config()


def test_unreadable_file(tmp_path):
    missing = str(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="nope.toml: cannot read the configuration"):
        load_config(missing)


@pytest.mark.parametrize("text, message", [
    ("threshold = 101", "f.toml:1: threshold: must be a score from 0 to 100, not 101"),
    ("threshold = true", "f.toml:1: threshold: must be a score from 0 to 100, not True"),
    ('scan_output = ""', "f.toml:1: scan_output: must be a non-empty string"),
    ('\n[daemon]\nport = "8084"', "f.toml:3: daemon.port: must be a port number from 1 to 65535, not '8084'"),
    ("[daemon]\n\nport = 70000", "f.toml:3: daemon.port: must be a port number"),
    ("[daemon]\npoll_interval = 0", "f.toml:2: daemon.poll_interval: must be a positive number of seconds"),
    ("[daemon]\nhttp_timeout = -5", "f.toml:2: daemon.http_timeout: must be a positive number of seconds"),
    ("daemon.ready_timeout = 0", "f.toml:1: daemon.ready_timeout: must be a positive number"),
    ("daemon = 3", "f.toml:1: daemon: must be a table, not 3"),
    ("[test_thresholds]\na = 1\nb = 200", "f.toml:3: test_thresholds.b: must be a score from 0 to 100"),
    ('[[targets]]\nhost = "a"\n[[targets]]\nport = 1', "f.toml:3: targets[2]: this target has no host"),
    ('[[targets]]\nhost = "a"\n[[targets]]\nhost = "ftp://b"',
     "f.toml:4: targets[2].host: target 'ftp://b': the daemon speaks http:// or https://"),
    ('[daemon]\ntoken_file = ""', "f.toml:2: daemon.token_file: must be a non-empty string"),
    ('[daemon]\nca_file = 1', "f.toml:2: daemon.ca_file: must be a non-empty string, not 1"),
    ('[[targets]]\nhost = "a"\nthreshold = "high"', "f.toml:3: targets[1].threshold: must be a score"),
    ('targets = "node1"', "f.toml:1: targets: must be an array of tables"),
    ('targets = [{host = "a"}, {host = ""}]',
     "f.toml:1: targets[2].host: must be a non-empty string"),
    # Unknown keys are errors too: a typo must not pass silently.
    ("thresold = 70", "f.toml:1: thresold: unknown key; did you mean 'threshold'?"),
    ("[daemon]\nport = 1\nreadytimeout = 5", "f.toml:3: daemon.readytimeout: unknown key; did you mean 'ready_timeout'?"),
    ('[[targets]]\nhost = "a"\ntestcase = "x"', "f.toml:3: targets[1].testcase: unknown key; did you mean 'test_case'?"),
    ("[deamon]\nport = 1", "f.toml:1: deamon: unknown key; did you mean 'daemon'?"),
    ("colour = 1", "f.toml:1: colour: unknown key; known keys here: daemon, scan_output"),
])
def test_bad_values_and_unknown_keys_name_key_and_line(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="f.toml")
    assert str(caught.value).startswith(message)


def test_syntax_errors_give_the_line():
    with pytest.raises(ConfigError, match=r"^f\.toml:3: invalid TOML: .*line 3"):
        parse_config("threshold = 70\n\n[daemon\nport = 1\n", source="f.toml")


def test_line_is_found_in_the_right_table_not_the_first_match():
    text = '[daemon]\nport = 9000\n\n[[targets]]\nhost = "a"\nport = 0\n'
    with pytest.raises(ConfigError, match=r"^f\.toml:6: targets\[1\]\.port"):
        parse_config(text, source="f.toml")


def test_https_targets_are_accepted():
    assert parse_config('[[targets]]\nhost = "https://b:8443"').targets == (TargetEntry(host="https://b:8443"),)


def test_read_token_strips_the_line_and_never_shows_it(tmp_path):
    path = tmp_path / "token"
    path.write_bytes(b"  s3cret-1234\r\n")
    assert read_token(str(path)) == "s3cret-1234"
    for content, words in [(b"\n", "is empty"), (b"s3cret 1234", "one line of printable ASCII"),
                           (b"s3cret\n1234", "one line of printable ASCII"), (b"s3cr\xe9t", "printable ASCII")]:
        path.write_bytes(content)
        with pytest.raises(ConfigError, match=words) as caught:
            read_token(str(path))
        assert str(caught.value).startswith(f"the token file {path} ") and b"s3cr" not in str(caught.value).encode()


def test_read_token_of_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read the token file .*none: No such file or directory"):
        read_token(str(tmp_path / "none"))


def test_check_token_names_its_source():
    assert check_token(" abc\n", "$CEMSCAN_TOKEN") == "abc"
    with pytest.raises(ConfigError, match=r"^\$CEMSCAN_TOKEN is empty"):
        check_token("\n", "$CEMSCAN_TOKEN")
