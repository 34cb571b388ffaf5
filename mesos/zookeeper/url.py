"""ZooKeeper URLs: `zk://[user:password@]host1:port1,host2:port2/path`.

Port of Mesos's `zookeeper::URL` (src/zookeeper/url.hpp) plus the `file://` indirection the
master and agent accept for `--zk` / `--master` (a file holding one `zk://` URL). Pure values,
no I/O except reading that file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["SCHEME", "URL", "URLError", "parse", "parse_flag"]

SCHEME = "zk://"
FILE_SCHEME = "file://"


class URLError(ValueError):
    """A ZooKeeper URL that cannot be used; the message says what was wrong and what is expected."""


@dataclass(frozen=True)
class URL:
    """A parsed `zk://` URL.

    `servers` is the comma-separated `host:port` list as given (what kazoo's `hosts` takes);
    `path` is the znode the URL names (`/` when none), without a trailing slash;
    `credentials` is `user:password` for ZooKeeper's `digest` scheme, or None.
    """

    servers: str
    path: str = "/"
    credentials: str | None = None

    @property
    def authentication(self) -> tuple[str, str] | None:
        """`("digest", "user:password")` as kazoo's `auth_data` wants it, or None."""
        return None if self.credentials is None else ("digest", self.credentials)

    @property
    def hosts(self) -> list[tuple[str, int]]:
        """The servers as `(host, port)` pairs."""
        return [_split_server(server) for server in self.servers.split(",")]

    def __str__(self) -> str:
        auth = f"{self.credentials}@" if self.credentials is not None else ""
        return f"{SCHEME}{auth}{self.servers}{self.path}"

    def redacted(self) -> str:
        """The URL with the password hidden, for logs."""
        if self.credentials is None:
            return str(self)
        user = self.credentials.split(":", 1)[0]
        return f"{SCHEME}{user}:******@{self.servers}{self.path}"


def _split_server(server: str) -> tuple[str, int]:
    host, sep, port = server.rpartition(":")
    if not sep:
        return server, 2181
    return host.strip("[]"), int(port)


def _check_server(server: str, url: str) -> None:
    if not server:
        raise URLError(f"Empty server in ZooKeeper URL '{url}': expecting "
                       "'zk://host1:port1,host2:port2/path'")
    host, sep, port = server.rpartition(":")
    if not sep:
        host, port = server, ""
    if not host or any(c.isspace() for c in server) or "/" in server:
        raise URLError(f"Bad server '{server}' in ZooKeeper URL '{url}': expecting 'host:port'")
    if sep:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise URLError(f"Bad port in server '{server}' of ZooKeeper URL '{url}': expecting "
                           "a number from 1 to 65535")


def parse(text: str) -> URL:
    """Parses `zk://[user:password@]servers[/path]` (surrounding whitespace ignored).

    As Mesos does, the path starts at the first `/` after the servers, the credentials end at
    the last `@` before them, and a missing path means `/`. Raises `URLError` with a one-line
    reason for anything else.
    """
    s = text.strip()
    if not s.startswith(SCHEME):
        raise URLError(f"Expecting 'zk://' at the beginning of the ZooKeeper URL '{s}'")
    rest = s[len(SCHEME):]
    # As in Mesos, the path starts at the first '/', so a password cannot hold a '/'.
    slash = rest.find("/")
    authority, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    credentials: str | None = None
    at = authority.rfind("@")
    if at >= 0:
        credentials, servers = authority[:at], authority[at + 1:]
        user, sep, _ = credentials.partition(":")
        if not sep or not user:
            raise URLError(f"Bad credentials in ZooKeeper URL '{s}': expecting "
                           "'zk://user:password@host:port/path'")
    else:
        servers = authority
    if not servers:
        raise URLError(f"No servers in ZooKeeper URL '{s}': expecting "
                       "'zk://host1:port1,host2:port2/path'")
    for server in servers.split(","):
        _check_server(server, s)
    if path != "/":
        path = path.rstrip("/") or "/"
        if "//" in path:
            raise URLError(f"Bad path '{path}' in ZooKeeper URL '{s}': empty path component")
        if any(c.isspace() for c in path):
            raise URLError(f"Bad path '{path}' in ZooKeeper URL '{s}': whitespace in a path")
    return URL(servers=servers, path=path, credentials=credentials)


def parse_flag(value: str) -> URL:
    """Parses a `--zk` value: a `zk://` URL, or `file:///path` naming a file that holds one.

    As Mesos does for `--zk` and `--master`, the file's content is trimmed and parsed as a
    `zk://` URL (a file may not point to another file). Raises `URLError` for an unreadable
    file or a bad URL.
    """
    s = value.strip()
    if s.startswith(FILE_SCHEME):
        path = Path(s[len(FILE_SCHEME):])
        if not str(path):
            raise URLError(f"No path in '{s}': expecting 'file:///path/to/file'")
        try:
            content = path.read_text()
        except OSError as e:
            raise URLError(f"Failed to read the ZooKeeper URL from '{path}': "
                           f"{e.strerror or e}") from e
        content = content.strip()
        if not content:
            raise URLError(f"The file '{path}' is empty: expecting a 'zk://' URL in it")
        if content.startswith(FILE_SCHEME):
            raise URLError(f"The file '{path}' holds another 'file://' URL: expecting a "
                           "'zk://' URL in it")
        try:
            return parse(content)
        except URLError as e:
            raise URLError(f"{e} (read from '{path}')") from e
    return parse(s)
