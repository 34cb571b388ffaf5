"""Tests of the driver's master detection: `parse_master` and `StandaloneMasterDetector`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import libprocess
from libprocess import UPID, spawn
from libprocess.testing import future_dispatch, settle
from mesos.sched.detector import (
    DEFAULT_MASTER_PORT,
    RESOLUTION_BACKOFF_MAX,
    RESOLUTION_BACKOFF_MIN,
    DetectorError,
    StandaloneMasterDetector,
    create_detector,
    master_info_from_pid,
    parse_master,
)

TIMEOUT = 10


@pytest.mark.parametrize(("text", "kind", "host", "port"), [
    ("localhost:5050", "http", "localhost", 5050),
    ("10.0.0.5", "http", "10.0.0.5", DEFAULT_MASTER_PORT),
    ("http://master.example:8080/", "http", "master.example", 8080),
    ("[::1]:5050", "http", "::1", 5050),
    ("master@10.0.0.5:41234", "upid", "10.0.0.5", 41234),
])
def test_parse_master(text: str, kind: str, host: str, port: int) -> None:
    """This test ensures that the master forms users type are told apart: an HTTP address
    (default port 5050) or a libprocess UPID."""
    address = parse_master(text)
    assert (address.kind, address.host, address.port) == (kind, host, port)


def test_parse_master_reads_a_file(tmp_path: Path) -> None:
    """This test ensures that `file://` names a file holding the master."""
    path = tmp_path / "master"
    path.write_text("master@127.0.0.1:7000\n")
    address = parse_master(f"file://{path}")
    assert address.pid == UPID("master@127.0.0.1:7000")


@pytest.mark.parametrize("text", ["", "host:notaport", "host:70000", "a b:5050",
                                  "master@nowhere", "file:///does/not/exist"])
def test_parse_master_rejects_bad_input(text: str) -> None:
    """This test ensures that a bad master string fails with a `DetectorError` that says
    what was wrong."""
    with pytest.raises(DetectorError):
        parse_master(text)


def test_zookeeper_master_gets_a_zookeeper_detector() -> None:
    """This test ensures that a `zk://` master is recognised and gets a ZooKeeper detector
    (which works against a real server: see tests/detector), and that a URL without a
    chroot path is refused as Mesos refuses it."""
    from mesos.detector import ZooKeeperMasterDetector

    assert parse_master("zk://zk1:2181,zk2:2181/mesos").kind == "zk"
    detector = create_detector("zk://127.0.0.1:1/mesos")
    try:
        assert isinstance(detector, ZooKeeperMasterDetector)
    finally:
        detector.terminate()
    with pytest.raises(DetectorError, match="chroot"):
        create_detector("zk://zk1:2181/")


def test_master_info_from_pid() -> None:
    """This test ensures that a MasterInfo made from a UPID carries it, with the IP in
    network order as Mesos stores it."""
    info = master_info_from_pid(UPID("master@10.0.0.5:41234"), http_port=5050)
    assert info.pid == "master@10.0.0.5:41234"
    assert info.ip == 0x0500000A
    assert info.port == 5050 and info.address.port == 5050
    assert info.IsInitialized()


def test_detect_waits_for_a_change() -> None:
    """This test ensures that `detect(previous)` answers at once when the leader differs from
    `previous`, and otherwise waits for the next appointment."""
    detector = StandaloneMasterDetector()

    # 1. No leader: `detect(None)` waits.
    waiting = detector.detect(None)
    settle()
    assert waiting.is_pending()

    # 2. An appointment wakes it.
    detector.appoint(UPID("master@127.0.0.1:7000"))
    leader = waiting.get(timeout=TIMEOUT)
    assert leader.pid == "master@127.0.0.1:7000"

    # 3. Asking with another previous answers at once; with the same one, it waits.
    assert detector.detect(None).get(timeout=TIMEOUT).pid == leader.pid
    same = detector.detect(leader)
    settle()
    assert same.is_pending()


def test_lost_master_is_forgotten() -> None:
    """This test ensures that reporting the leader lost makes waiters see "no master", and
    that reporting a master that is no longer the leader changes nothing."""
    detector = StandaloneMasterDetector(UPID("master@127.0.0.1:7000"))
    leader = detector.detect(None).get(timeout=TIMEOUT)

    # 1. Another master's loss is ignored.
    waiting = detector.detect(leader)
    detector.lost(master_info_from_pid("master@127.0.0.1:7001"))
    settle()
    assert waiting.is_pending()

    # 2. The leader's loss is not.
    detector.lost(leader)
    assert waiting.get(timeout=TIMEOUT) is None


def test_http_resolution_retries_with_backoff(clock: Any, kit: Any) -> None:
    """This test ensures that a detector made from an HTTP address keeps asking, with a
    doubling backoff on the clock, until a master answers, and then appoints it."""
    ip, http_port = libprocess.http_address()

    # 1. Nobody answers at first.
    first = future_dispatch(None, "_resolved")
    detector = create_detector(f"{ip}:{http_port}")
    waiting = detector.detect(None)
    assert isinstance(first.get(timeout=TIMEOUT)[0], str)
    settle()

    # 2. The first retry comes after the minimum backoff, and fails too.
    second = future_dispatch(detector.process, "_resolved")
    clock.advance(RESOLUTION_BACKOFF_MIN)
    assert isinstance(second.get(timeout=TIMEOUT)[0], str)
    settle()
    assert detector.process.backoff == min(4 * RESOLUTION_BACKOFF_MIN, RESOLUTION_BACKOFF_MAX)

    # 3. A master comes up; the next retry (twice the minimum) finds it.
    master = kit.FakeMaster("master")
    spawn(master)
    clock.advance(2 * RESOLUTION_BACKOFF_MIN)
    leader = waiting.get(timeout=TIMEOUT)
    assert leader.pid == str(master.upid)
    assert leader.port == http_port
    assert leader.id == master.master_id
