"""ZooKeeper helpers: `zk://` URLs, and real ZooKeeper servers for tests and local clusters.

`url` parses `--zk` values (`zk://user:pass@host1:2181,host2:2181/mesos` or `file:///path`);
`server` starts and stops Debian's ZooKeeper on loopback (standalone or an ensemble) and can
expire a kazoo client's session; `testing` is the pytest plugin built on it. Nothing here
imports kazoo at import time.
"""

from mesos.zookeeper.server import (
    ZooKeeperEnsemble,
    ZooKeeperError,
    ZooKeeperServer,
    ensure_installed,
    expire_session,
    is_installed,
)
from mesos.zookeeper.url import URL, URLError, parse, parse_flag

__all__ = [
    "URL",
    "URLError",
    "ZooKeeperEnsemble",
    "ZooKeeperError",
    "ZooKeeperServer",
    "ensure_installed",
    "expire_session",
    "is_installed",
    "parse",
    "parse_flag",
]
