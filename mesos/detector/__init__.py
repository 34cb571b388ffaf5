"""Master contenders and detectors: who may lead, and who leads.

A *contender* enters its master into the election (`initialize(master_info)`, then
`contend()`, a future of the candidacy future, which completes when the candidacy is lost); a
*detector* tells anyone (masters, agents, scheduler drivers) which master leads
(`detect(previous)`, a future of the `MasterInfo` or None once it differs from `previous`).
Two flavours, as in Mesos: standalone (one master, always elected; `appoint()` in tests) and
ZooKeeper (ephemeral sequential `<path>/json.info_<seq>` znodes holding `MasterInfo` as JSON;
the lowest sequence leads). `create_master_contender` and `create_master_detector` pick one
from a `--zk` / `--master` value, as `MasterContender::create` and `MasterDetector::create` do.
"""

from __future__ import annotations

from typing import Any

from mesos.detector.master_info import (
    MASTER_INFO_JSON_LABEL,
    MASTER_INFO_LABEL,
    master_info_from_json,
    master_info_to_json,
    parse_master_info,
)
from mesos.detector.standalone import StandaloneMasterContender, StandaloneMasterDetector
from mesos.detector.zookeeper import (
    MASTER_CONTENDER_ZK_SESSION_TIMEOUT,
    MASTER_DETECTOR_ZK_SESSION_TIMEOUT,
    Group,
    Membership,
    ZooKeeperMasterContender,
    ZooKeeperMasterDetector,
)
from mesos.sched.detector import DetectorError

__all__ = [
    "MASTER_CONTENDER_ZK_SESSION_TIMEOUT",
    "MASTER_DETECTOR_ZK_SESSION_TIMEOUT",
    "MASTER_INFO_JSON_LABEL",
    "MASTER_INFO_LABEL",
    "DetectorError",
    "Group",
    "Membership",
    "StandaloneMasterContender",
    "StandaloneMasterDetector",
    "ZooKeeperMasterContender",
    "ZooKeeperMasterDetector",
    "create_master_contender",
    "create_master_detector",
    "master_info_from_json",
    "master_info_to_json",
    "parse_master_info",
]


def _read_file_url(text: str) -> str:
    path = text[len("file://"):]
    try:
        with open(path) as f:
            content = f.read().strip()
    except OSError as e:
        raise DetectorError(f"Failed to read from file at '{path}': {e}") from None
    if content.startswith("file://"):
        raise DetectorError(f"The file '{path}' names another file: '{content}'")
    return content


def create_master_contender(
        zk: str | None = None,
        zk_session_timeout: float = MASTER_CONTENDER_ZK_SESSION_TIMEOUT) -> Any:
    """The master's contender for `--zk` (port of `MasterContender::create`).

    None gives a `StandaloneMasterContender`; `zk://...` a `ZooKeeperMasterContender`;
    `file:///path` reads the URL from that file. Raises `DetectorError` otherwise.
    """
    if zk is None:
        return StandaloneMasterContender()
    text = zk.strip()
    if text.startswith("file://"):
        return create_master_contender(_read_file_url(text), zk_session_timeout)
    if text.startswith("zk://"):
        try:
            return ZooKeeperMasterContender(text, zk_session_timeout)
        except ValueError as e:
            raise DetectorError(f"Failed to parse '{text}': {e}") from None
    raise DetectorError(f"Failed to parse '{zk}': expected 'zk://host:port/path' or "
                        "'file:///path'")


def create_master_detector(
        master: str | None = None,
        zk_session_timeout: float = MASTER_DETECTOR_ZK_SESSION_TIMEOUT) -> Any:
    """The detector for a `--zk` / `--master` value (port of `MasterDetector::create`).

    None gives a `StandaloneMasterDetector` with nobody appointed; `zk://...` a
    `ZooKeeperMasterDetector`; `file:///path` reads the value from that file; anything else
    (`host:port`, `master@ip:port`) is the scheduler driver's standalone detector
    (`mesos.sched.detector.create_detector`). Raises `DetectorError` for a bad value.
    """
    if master is None:
        return StandaloneMasterDetector()
    text = master.strip()
    if text.startswith("file://"):
        return create_master_detector(_read_file_url(text), zk_session_timeout)
    if text.startswith("zk://"):
        try:
            return ZooKeeperMasterDetector(text, zk_session_timeout)
        except ValueError as e:
            raise DetectorError(f"Failed to parse '{text}': {e}") from None
    from mesos.sched.detector import create_detector

    return create_detector(text)
