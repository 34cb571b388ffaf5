"""Master contender and detector against a real ZooKeeper server.

Like Mesos's `src/tests/master_contender_detector_tests.cpp`: masters contend through
ephemeral sequential `json.info_` znodes, a detector reports the lowest one's `MasterInfo`,
and sessions are closed, expired on the server, or lost with the whole server. Every wait is
on a future with a deadline; the clock runs (ZooKeeper's own timers are real).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from libprocess import Future, manager, terminate, wait
from mesos.detector import (
    ZooKeeperMasterContender,
    ZooKeeperMasterDetector,
    create_master_contender,
    create_master_detector,
    master_info_to_json,
)
from mesos.sched.detector import create_detector, master_info_from_pid
from mesos.zookeeper.testing import ZooKeeperChroot

pytestmark = pytest.mark.zookeeper

# Short sessions keep expiry tests fast; the harness lets ZooKeeper grant them.
SESSION_TIMEOUT = 2.0
WAIT = 15.0


def master(port: int, name: str) -> Any:
    return master_info_from_pid(f"master@127.0.0.1:{port}", id=name, hostname="localhost",
                                http_port=port + 1000, version="1.12.0")


@pytest.fixture
def zk_url(zookeeper: ZooKeeperChroot) -> Iterator[str]:
    """`zk://<server>/<this test's chroot>/mesos`, the `--zk` of this test's masters."""
    before = {process.id for process in manager().processes()}
    yield zookeeper.url("/mesos")
    # Close the test's sessions before its chroot goes: a group that saw its znode vanish
    # would create it again.
    spawned = [process for process in manager().processes() if process.id not in before]
    for process in spawned:
        terminate(process)
    for process in spawned:
        wait(process, WAIT)


@pytest.fixture
def zk(zookeeper: ZooKeeperChroot) -> KazooClient:
    """A plain kazoo client rooted at the test's chroot, so `/mesos` is the group's znode
    (for looking at and meddling with znodes)."""
    return zookeeper.client()


def contender_for(zk_url: str, info: Any) -> tuple[ZooKeeperMasterContender, Future[None]]:
    """A contender that has joined the election; the future of its candidacy."""
    contender = ZooKeeperMasterContender(zk_url, SESSION_TIMEOUT)
    contender.initialize(info)
    candidacy = contender.contend().get(WAIT)
    assert candidacy.is_pending()
    return contender, candidacy


def await_leader(detector: Any, expected: Any, previous: Any = None) -> Any:
    """Follows `detect` until the leader is `expected` (None: nobody); returns it."""
    deadline = time.monotonic() + WAIT
    leader = previous
    while True:
        leader = detector.detect(leader).get(max(0.1, deadline - time.monotonic()))
        if leader == expected:
            return leader
        assert time.monotonic() < deadline, f"Still {leader} after {WAIT} s"


def test_first_contender_leads_then_the_second(zk_url: str, zk: KazooClient) -> None:
    """This test ensures that the first of two contenders leads, that the detector reports
    its whole MasterInfo, and that when the leader's session closes the second leads."""
    a, b = master(5050, "A"), master(5051, "B")
    contender_a, _ = contender_for(zk_url, a)
    contender_b, _ = contender_for(zk_url, b)
    detector = ZooKeeperMasterDetector(zk_url, SESSION_TIMEOUT)

    leader = detector.detect(None).get(WAIT)
    assert leader == a
    assert leader.address.port == 6050 and leader.pid == "master@127.0.0.1:5050"

    change = detector.detect(a)
    contender_a.terminate()  # Closes A's session: its ephemeral znode goes at once.
    assert change.get(WAIT) == b
    contender_b.terminate()
    assert detector.detect(b).get(WAIT) is None


def test_candidacy_znode_is_what_mesos_writes(zk_url: str, zk: KazooClient) -> None:
    """This test ensures that a candidacy is an ephemeral sequential `json.info_<10 digits>`
    znode under the URL's path holding the MasterInfo JSON, as a Mesos master makes it."""
    info = master(5050, "A")
    contender, _ = contender_for(zk_url, info)
    path = "/mesos"

    children = zk.get_children(path)
    assert len(children) == 1 and children[0].startswith("json.info_")
    assert len(children[0]) == len("json.info_") + 10 and children[0][-10:].isdigit()
    data, stat = zk.get(f"{path}/{children[0]}")
    assert data == master_info_to_json(info)
    assert stat.ephemeralOwner != 0

    assert contender.withdraw().get(WAIT) is True
    assert zk.get_children(path) == []


def test_mesos_written_znodes_are_detected_and_others_ignored(zk_url: str,
                                                             zk: KazooClient) -> None:
    """This test ensures that the detector reads a candidacy as a real Mesos master writes
    it, and ignores children that are not members (`log_replicas`, garbage) whatever their
    data; then that a later candidate leads only once the first is gone."""
    path = "/mesos"
    zk.create(f"{path}/log_replicas/0000000000", b"log-replica(1)@127.0.0.1:1",
              makepath=True)
    zk.create(f"{path}/garbage", b"\x00not json")
    zk.create(f"{path}/json.info_abc", b"{}")
    # `stringify(JSON::protobuf(info))` of a Mesos 1.12 master at 10.0.0.7:5050.
    written_by_mesos = (
        b'{"address":{"hostname":"m7","ip":"10.0.0.7","port":5050},'
        b'"capabilities":[{"type":"AGENT_UPDATE"}],"hostname":"m7",'
        b'"id":"6f1c2a9e-52b4-4c8e-9a43-0d1e2f3a4b5c","ip":117440522,'
        b'"pid":"master@10.0.0.7:5050","port":5050,"version":"1.12.0"}')
    first = zk.create(f"{path}/json.info_", written_by_mesos, ephemeral=True, sequence=True)
    detector = ZooKeeperMasterDetector(zk_url, SESSION_TIMEOUT)
    leader = detector.detect(None).get(WAIT)
    assert leader.pid == "master@10.0.0.7:5050"
    assert leader.address.ip == "10.0.0.7" and leader.address.port == 5050
    assert leader.id == "6f1c2a9e-52b4-4c8e-9a43-0d1e2f3a4b5c"

    contender_for(zk_url, master(5050, "A"))
    later = detector.detect(leader)
    zk.delete(first)
    assert later.get(WAIT) == master(5050, "A")


def test_session_expiry_loses_the_candidacy(zk_url: str, zookeeper: ZooKeeperChroot,
                                           zk: KazooClient) -> None:
    """This test ensures that when the leader's session expires on the server its
    candidacy future completes (the master would then exit), the next candidate leads, and
    the loser can contend again (as a follower does) on a new session."""
    a, b = master(5050, "A"), master(5051, "B")
    contender_a, candidacy_a = contender_for(zk_url, a)
    _, candidacy_b = contender_for(zk_url, b)
    detector = ZooKeeperMasterDetector(zk_url, SESSION_TIMEOUT)
    assert detector.detect(None).get(WAIT) == a
    change = detector.detect(a)

    client = contender_a.group.zookeeper_client().get(WAIT)
    zookeeper.expire_session(client)

    candidacy_a.get(WAIT)  # Ready: lost, not withdrawn by anyone.
    assert change.get(WAIT) == b
    assert candidacy_b.is_pending()

    # A follower that lost its candidacy contends again, on its new session, behind B.
    again = contender_a.contend().get(WAIT)
    assert again.is_pending()
    assert len(zk.get_children("/mesos")) == 2
    assert detector.detect(None).get(WAIT) == b


def test_deleted_znode_loses_the_candidacy(zk_url: str, zk: KazooClient) -> None:
    """This test ensures that a candidacy whose znode is deleted (by an operator) is lost."""
    _, candidacy = contender_for(zk_url, master(5050, "A"))
    path = "/mesos"
    for child in zk.get_children(path):
        zk.delete(f"{path}/{child}")
    candidacy.get(WAIT)


def test_detector_session_expiry_reports_no_leader_then_the_leader(
        zk_url: str, zookeeper: ZooKeeperChroot) -> None:
    """This test ensures that a detector whose own session expires reports "no leader"
    (as Mesos's group does), starts a new session, rebuilds its watch and reports the leader
    again, and then still follows changes."""
    a, b = master(5050, "A"), master(5051, "B")
    contender_a, _ = contender_for(zk_url, a)
    detector = ZooKeeperMasterDetector(zk_url, SESSION_TIMEOUT)
    assert detector.detect(None).get(WAIT) == a

    none = detector.detect(a)
    zookeeper.expire_session(detector.group.zookeeper_client().get(WAIT))
    assert none.get(WAIT) is None
    assert detector.detect(None).get(WAIT) == a

    # The new session watches the group: a change is still seen.
    _, _ = contender_for(zk_url, b)
    change = detector.detect(a)
    contender_a.terminate()
    assert change.get(WAIT) == b


def test_zookeeper_down_and_back(zk_url: str, zookeeper: ZooKeeperChroot) -> None:
    """This test ensures that while ZooKeeper is down the leader loses its candidacy after
    the session timeout and nobody leads, and that once it is back detection resumes and
    reports the new leader."""
    a, b = master(5050, "A"), master(5051, "B")
    _, candidacy_a = contender_for(zk_url, a)
    detector = ZooKeeperMasterDetector(zk_url, SESSION_TIMEOUT)
    assert detector.detect(None).get(WAIT) == a
    nobody = detector.detect(a)

    zookeeper.server.stop()  # The shared server: the `zookeeper` fixture restarts it if needed.
    try:
        candidacy_a.get(WAIT)  # Lost once the session timeout passes without ZooKeeper.
        assert nobody.get(WAIT) is None
    finally:
        zookeeper.server.start()

    # A master that starts now (A would have exited) is elected once A's old session,
    # which the restarted server still remembers, has expired.
    contender_for(zk_url, b)
    await_leader(detector, b)


def test_file_url_names_the_zookeeper_url(zk_url: str, tmp_path: Path) -> None:
    """This test ensures that `file:///path` holding a `zk://` URL works for the contender
    and the detector, as `--zk` and `--master` accept it."""
    path = tmp_path / "zk"
    path.write_text(zk_url + "\n")
    contender = create_master_contender(f"file://{path}", SESSION_TIMEOUT)
    assert isinstance(contender, ZooKeeperMasterContender)
    contender.initialize(master(5050, "A"))
    contender.contend().get(WAIT)
    detector = create_master_detector(f"file://{path}", SESSION_TIMEOUT)
    assert isinstance(detector, ZooKeeperMasterDetector)
    assert detector.detect(None).get(WAIT) == master(5050, "A")


def test_scheduler_driver_detector_for_zk(zk_url: str, tmp_path: Path) -> None:
    """This test ensures that the scheduler driver's `create_detector` gives a working
    ZooKeeper detector for `zk://` (and for a `file://` holding one)."""
    contender_for(zk_url, master(5050, "A"))
    detector = create_detector(zk_url)
    assert detector.detect(None).get(WAIT) == master(5050, "A")
    path = tmp_path / "master"
    path.write_text(zk_url)
    from_file = create_detector(f"file://{path}")
    assert from_file.detect(None).get(WAIT) == master(5050, "A")
