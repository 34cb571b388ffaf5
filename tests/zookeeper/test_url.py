"""`zk://` URLs and the `file://` indirection, as Mesos parses them, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesos.zookeeper.url import URL, URLError, parse, parse_flag


def test_servers_and_path() -> None:
    """This test ensures that servers and the znode path are split as in Mesos."""
    url = parse("zk://host1:2181,host2:2182,10.0.0.3:2181/mesos")

    assert url == URL(servers="host1:2181,host2:2182,10.0.0.3:2181", path="/mesos")
    assert url.hosts == [("host1", 2181), ("host2", 2182), ("10.0.0.3", 2181)]
    assert url.authentication is None
    assert str(url) == "zk://host1:2181,host2:2182,10.0.0.3:2181/mesos"


def test_missing_path_is_root_and_nested_paths_keep_slashes() -> None:
    """This test ensures that no path means `/`, nested paths are kept, and a trailing slash
    is dropped (ZooKeeper paths never end with one)."""
    assert parse("zk://localhost:2181").path == "/"
    assert parse("zk://localhost:2181/").path == "/"
    assert parse("zk://localhost:2181/a/b/mesos/").path == "/a/b/mesos"
    assert parse("  zk://localhost:2181/mesos\n").path == "/mesos"


def test_credentials_for_digest_authentication() -> None:
    """This test ensures that `user:password@` becomes digest credentials, and logs can hide
    the password."""
    url = parse("zk://jane:s3cr@t@host1:2181,host2:2181/mesos")

    assert url.credentials == "jane:s3cr@t"
    assert url.servers == "host1:2181,host2:2181"
    assert url.authentication == ("digest", "jane:s3cr@t")
    assert str(url) == "zk://jane:s3cr@t@host1:2181,host2:2181/mesos"
    assert url.redacted() == "zk://jane:******@host1:2181,host2:2181/mesos"


@pytest.mark.parametrize(("text", "message"), [
    ("http://host:2181/mesos", "Expecting 'zk://' at the beginning"),
    ("host:2181/mesos", "Expecting 'zk://' at the beginning"),
    ("zk:///mesos", "No servers"),
    ("zk://host:2181,,host2:2181/mesos", "Empty server"),
    ("zk://host:port/mesos", "Bad port in server 'host:port'"),
    ("zk://host:0/mesos", "Bad port"),
    ("zk://host:70000/mesos", "Bad port"),
    ("zk://:2181/mesos", "Bad server ':2181'"),
    ("zk://user@host:2181/mesos", "Bad credentials"),
    ("zk://host:2181/mesos//x", "empty path component"),
])
def test_bad_urls_say_what_is_wrong(text: str, message: str) -> None:
    """This test ensures that each malformed URL is refused with a one-line reason."""
    with pytest.raises(URLError, match=message) as error:
        parse(text)

    assert "\n" not in str(error.value)


def test_flag_reads_a_url_from_a_file(tmp_path: Path) -> None:
    """This test ensures that `file:///path` is replaced by the (trimmed) URL in the file, as
    Mesos does for `--zk` and `--master`."""
    path = tmp_path / "zk"
    path.write_text("zk://10.0.0.1:2181,10.0.0.2:2181/mesos\n")

    assert parse_flag(f"file://{path}") == parse("zk://10.0.0.1:2181,10.0.0.2:2181/mesos")
    assert parse_flag("zk://h:1/x") == URL("h:1", "/x")


def test_flag_file_errors(tmp_path: Path) -> None:
    """This test ensures that a missing, empty, self-referring or bad file is reported with
    its path."""
    missing = tmp_path / "missing"
    with pytest.raises(URLError, match=f"Failed to read the ZooKeeper URL from '{missing}'"):
        parse_flag(f"file://{missing}")

    empty = tmp_path / "empty"
    empty.write_text("  \n")
    with pytest.raises(URLError, match="is empty"):
        parse_flag(f"file://{empty}")

    loop = tmp_path / "loop"
    loop.write_text(f"file://{loop}")
    with pytest.raises(URLError, match="another 'file://' URL"):
        parse_flag(f"file://{loop}")

    bad = tmp_path / "bad"
    bad.write_text("host:2181/mesos")
    with pytest.raises(URLError, match=f"Expecting 'zk://'.*read from '{bad}'"):
        parse_flag(f"file://{bad}")
