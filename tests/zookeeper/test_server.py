"""The real-ZooKeeper harness: a standalone server and a 3-server ensemble on loopback, kill and
restart on the same data, forced session expiry, clear start-up errors, and `tools/zk`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.protocol.states import KazooState
from kazoo.security import CREATOR_ALL_ACL

from libprocess.testing import await_condition
from mesos.zookeeper.server import (
    SUPER_AUTH,
    ZooKeeperEnsemble,
    ZooKeeperError,
    ZooKeeperServer,
    four_letter_word,
)
from mesos.zookeeper.testing import ZooKeeperChroot

pytestmark = pytest.mark.zookeeper

ROOT = Path(__file__).resolve().parents[2]


def test_server_answers_four_letter_words_and_clients(zookeeper_server: ZooKeeperServer,
                                                      zookeeper: ZooKeeperChroot) -> None:
    """This test ensures that the session's server serves on 127.0.0.1: it answers `ruok` and
    `srvr` (standalone), and a kazoo client in the test's chroot reads what it wrote."""
    assert four_letter_word(zookeeper_server.client_port, "ruok") == "imok"
    assert zookeeper_server.mode() == "standalone"
    assert zookeeper_server.connect_string.startswith("127.0.0.1:")

    client = zookeeper.client()
    client.create("/mesos/json.info_", b"{}", ephemeral=True, sequence=True, makepath=True)

    assert client.get_children("/mesos") == ["json.info_0000000000"]


def test_each_test_gets_its_own_chroot(zookeeper: ZooKeeperChroot) -> None:
    """This test ensures that a test's nodes live under its own chroot, invisible at the
    root of other tests' chroots."""
    client = zookeeper.client()
    client.create("/mine", b"x")

    root = zookeeper.client(chroot=False)
    assert root.exists(f"{zookeeper.path}/mine") is not None
    assert root.exists("/mine") is None
    assert zookeeper.url("/mesos") == f"zk://{zookeeper.servers}{zookeeper.path}/mesos"


def test_super_user_cleans_up_nodes_with_restrictive_acls(zookeeper: ZooKeeperChroot) -> None:
    """This test ensures that the harness's super identity passes ACL checks, so a chroot is
    cleaned up even when a test's client (a storage with credentials) locked its nodes."""
    owner = zookeeper.client(auth_data=[("digest", "jane:secret")])
    owner.create("/locked/child", b"x", acl=CREATOR_ALL_ACL, makepath=True)
    owner.create("/locked/child/grandchild", b"y", acl=CREATOR_ALL_ACL)
    with pytest.raises(NoAuthError):
        zookeeper.client().delete("/locked", recursive=True)

    zookeeper.client(auth_data=[SUPER_AUTH]).delete("/locked", recursive=True)

    assert owner.exists("/locked") is None


def test_ensemble_elects_a_leader_and_survives_losing_it(
        zookeeper_ensemble: ZooKeeperEnsemble) -> None:
    """This test ensures that three servers form one quorum (one leader, two followers) that
    replicates writes, elects a new leader when the leader is killed, and takes the killed
    server back as a follower."""
    # 1. One leader, two followers.
    modes = sorted(server.mode() or "down" for server in zookeeper_ensemble.servers)
    assert modes == ["follower", "follower", "leader"]
    leader = zookeeper_ensemble.leader()
    assert leader is not None
    followers = [s for s in zookeeper_ensemble.servers if s is not leader]

    # 2. A write through one follower is read through the other.
    writer = KazooClient(hosts=followers[0].address)
    reader = KazooClient(hosts=followers[1].address)
    writer.start(timeout=15)
    reader.start(timeout=15)
    try:
        path = writer.create("/ensemble-test-", b"replicated", sequence=True)
        reader.sync(path)
        assert reader.get(path)[0] == b"replicated"

        # 3. The leader dies: the two others elect one of them and keep serving.
        leader.kill()
        new_leader = await_condition(zookeeper_ensemble.leader, 30, interval=0.1,
                                     message="a new leader")
        assert new_leader in followers
        reader.sync(path)
        assert reader.get(path)[0] == b"replicated"
    finally:
        # 4. The killed server comes back on its data and follows.
        leader.start()
        writer.stop()
        writer.close()
        reader.stop()
        reader.close()
    assert leader.mode() == "follower"


def test_kill_and_restart_keep_the_data(
        zookeeper_factory: Callable[..., ZooKeeperServer]) -> None:
    """This test ensures that a server killed with SIGKILL, or stopped, serves the same data on
    the same port when started again (what "ZooKeeper down and back" tests rely on)."""
    # 1. Write a node.
    server = zookeeper_factory()
    port = server.client_port
    client = KazooClient(hosts=server.connect_string, timeout=10.0)
    client.start(timeout=15)
    client.create("/mesos/registry", b"durable", makepath=True)
    client.stop()
    client.close()

    # 2. Kill it: nobody answers.
    server.kill()
    assert not server.running
    assert server.mode() is None

    # 3. Start it again, then stop and start once more: the node is still there.
    for _ in range(2):
        server.start()
        assert server.client_port == port
        client = KazooClient(hosts=server.connect_string, timeout=10.0)
        client.start(timeout=15)
        try:
            assert client.get("/mesos/registry")[0] == b"durable"
        finally:
            client.stop()
            client.close()
        server.stop()


def test_forced_session_expiry_is_observed(zookeeper: ZooKeeperChroot) -> None:
    """This test ensures that `expire_session` really ends a client's session on the server:
    the client sees LOST, its ephemeral node is gone for everybody, and kazoo carries on with
    a new session."""
    # 1. A client owns an ephemeral node; a second client watches it.
    client = zookeeper.client(timeout=10.0)
    states: list[KazooState] = []
    client.add_listener(lambda state: states.append(state))
    client.create("/leader", b"me", ephemeral=True)
    observer = zookeeper.client()
    gone = threading.Event()
    observer.exists("/leader", watch=lambda event: gone.set())
    old_session = client.client_id[0]

    # 2. Expire the session.
    zookeeper.expire_session(client)

    # 3. LOST was seen and the node went away for everybody.
    assert KazooState.LOST in states
    assert gone.wait(15)
    assert observer.exists("/leader") is None

    # 4. Kazoo reconnects by itself, on a new session.
    await_condition(lambda: client.connected, 15, message="a new session")
    assert client.client_id[0] != old_session
    assert client.exists("/leader") is None


def test_start_failure_is_reported_with_the_cause(tmp_path: Path) -> None:
    """This test ensures that a server that cannot start (its port is taken) fails `start`
    promptly with the cause from its log, instead of timing out silently."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = ZooKeeperServer(tmp_path / "zk", client_port=taken.getsockname()[1])
        try:
            with pytest.raises(ZooKeeperError, match="Address already in use"):
                server.start(timeout=30)
            assert not server.running
        finally:
            server.close()


def test_tools_zk_start_prints_connect_string_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """This test ensures that `tools/zk start` prints a connect string that serves, stays in
    the foreground, and on Ctrl-C (SIGINT) stops its server and exits 0."""
    command = [str(ROOT / "tools" / "zk"), "start", "--dir", str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as process:
        try:
            assert process.stdout is not None
            connect = process.stdout.readline().strip()
            assert connect.startswith("127.0.0.1:"), connect
            port = int(connect.rsplit(":", 1)[1])
            assert "Mode: standalone" in four_letter_word(port, "srvr")
            assert process.poll() is None

            os.killpg(process.pid, signal.SIGINT)

            _, stderr = process.communicate(timeout=30)
            assert process.returncode == 0, stderr
            with pytest.raises(OSError):
                four_letter_word(port, "srvr")
            assert (tmp_path / "zoo.cfg").is_file()  # A --dir is kept for the next start.
        finally:
            if process.poll() is None:
                process.kill()
