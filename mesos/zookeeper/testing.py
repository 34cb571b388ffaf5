"""pytest fixtures for tests against a real ZooKeeper (the way kazoo's harness works).

One standalone server is started once per test run (`zookeeper_server`, ~1.5 s) and every test
gets a fresh chroot on it (`zookeeper`), removed afterwards, so tests never see each other's
nodes. `zookeeper_ensemble` is a 3-server quorum, also started once and only if asked for;
`zookeeper_factory` makes dedicated servers that a test may stop, kill and restart.

Load it with `-p mesos.zookeeper.testing` (or `pytest_plugins` in the top-level conftest). pytest
refuses `pytest_plugins` in a nested conftest, so a test directory may instead import the
fixtures into its `conftest.py` (`from mesos.zookeeper.testing import zookeeper, ...`): the
shared servers are per interpreter, not per fixture definition, so importing them in several
places still starts each once. Servers are killed when the interpreter exits.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mesos.zookeeper.server import (
    SUPER_AUTH,
    ZooKeeperEnsemble,
    ZooKeeperError,
    ZooKeeperServer,
    ensure_installed,
    expire_session,
)

__all__ = [
    "ZooKeeperChroot",
    "shared_ensemble",
    "shared_server",
    "zookeeper",
    "zookeeper_ensemble",
    "zookeeper_factory",
    "zookeeper_server",
]

_lock = threading.Lock()
_server: ZooKeeperServer | None = None
_ensemble: ZooKeeperEnsemble | None = None


def _close_shared() -> None:
    for cluster in (_server, _ensemble):
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


atexit.register(_close_shared)


def shared_server() -> ZooKeeperServer:
    """The interpreter's standalone server, started (or restarted) on first use."""
    global _server
    with _lock:
        if _server is None:
            ensure_installed()
            _server = ZooKeeperServer()
        if not _server.running:
            _server.start()
        return _server


def shared_ensemble() -> ZooKeeperEnsemble:
    """The interpreter's 3-server ensemble, started on first use (stopped members restarted)."""
    global _ensemble
    with _lock:
        if _ensemble is None:
            ensure_installed()
            _ensemble = ZooKeeperEnsemble(3)
        _ensemble.start()
        return _ensemble


class ZooKeeperChroot:
    """One test's private corner of a server: the znode `path` and clients rooted at it.

    `hosts` is a kazoo hosts string with the chroot (`127.0.0.1:port/test-...`); `url(p)` a
    `zk://` URL naming `p` inside the chroot (for `--zk`); `client()` a started kazoo client
    on the chroot, stopped after the test; `expire_session(client)` forces its expiry.
    """

    def __init__(self, server: ZooKeeperServer | ZooKeeperEnsemble, path: str) -> None:
        self.server = server
        self.path = path
        self._clients: list[Any] = []

    @property
    def servers(self) -> str:
        """The servers' connect string, without the chroot."""
        return self.server.connect_string

    @property
    def hosts(self) -> str:
        return f"{self.server.connect_string}{self.path}"

    def url(self, path: str = "/mesos") -> str:
        return f"zk://{self.server.connect_string}{self.path}{path}"

    def client(self, timeout: float = 10.0, chroot: bool = True, **options: Any) -> Any:
        """A started kazoo client (session timeout `timeout`), closed after the test."""
        from kazoo.client import KazooClient

        client = KazooClient(hosts=self.hosts if chroot else self.servers, timeout=timeout,
                             **options)
        self._clients.append(client)
        client.start(timeout=15)
        return client

    def expire_session(self, client: Any, timeout: float = 15.0) -> None:
        expire_session(client, self.server.connect_string, timeout)

    def close(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.stop()
                client.close()
        self._clients.clear()


@pytest.fixture(scope="session")
def zookeeper_server() -> ZooKeeperServer:
    """The session's standalone ZooKeeper server (real, on 127.0.0.1)."""
    try:
        return shared_server()
    except ZooKeeperError as e:
        pytest.fail(f"Cannot start ZooKeeper: {e}", pytrace=False)


@pytest.fixture(scope="session")
def zookeeper_ensemble() -> ZooKeeperEnsemble:
    """The session's 3-server ZooKeeper ensemble (started on first use)."""
    try:
        return shared_ensemble()
    except ZooKeeperError as e:
        pytest.fail(f"Cannot start a ZooKeeper ensemble: {e}", pytrace=False)


def _make_chroot(server: ZooKeeperServer | ZooKeeperEnsemble) -> Iterator[ZooKeeperChroot]:
    from kazoo.client import KazooClient

    # The super user, so that nodes made with restrictive ACLs are cleaned up too.
    admin = KazooClient(hosts=server.connect_string, timeout=10.0, auth_data=[SUPER_AUTH])
    admin.start(timeout=15)
    path = f"/test-{uuid.uuid4().hex[:12]}"
    admin.create(path)
    chroot = ZooKeeperChroot(server, path)
    try:
        yield chroot
    finally:
        chroot.close()
        with contextlib.suppress(Exception):
            admin.delete(path, recursive=True)
        admin.stop()
        admin.close()


@pytest.fixture
def zookeeper(zookeeper_server: ZooKeeperServer) -> Iterator[ZooKeeperChroot]:
    """A fresh chroot on the session's server for this test (deleted afterwards)."""
    if not zookeeper_server.running:  # A test stopped it: bring it back for the next ones.
        zookeeper_server.start()
    yield from _make_chroot(zookeeper_server)


@pytest.fixture
def zookeeper_factory() -> Iterator[Callable[..., ZooKeeperServer]]:
    """Makes dedicated standalone servers (started) that this test may stop, kill, restart."""
    servers: list[ZooKeeperServer] = []

    def make(**options: Any) -> ZooKeeperServer:
        ensure_installed()
        server = ZooKeeperServer(**options)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.close()
