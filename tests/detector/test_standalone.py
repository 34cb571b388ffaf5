"""Election without ZooKeeper: the standalone contender and detector, and the factories that
pick a flavour from `--zk` / `--master`."""

from __future__ import annotations

import pytest

from mesos.detector import (
    DetectorError,
    StandaloneMasterContender,
    StandaloneMasterDetector,
    create_master_contender,
    create_master_detector,
)
from mesos.sched.detector import master_info_from_pid


def test_contender_is_elected_until_it_withdraws() -> None:
    """This test ensures that a standalone contender's candidacy is obtained at once and is
    lost only when it withdraws or contends again."""
    contender = StandaloneMasterContender()
    assert contender.contend().is_failed()  # Not initialized yet.

    contender.initialize(master_info_from_pid("master@127.0.0.1:5050"))
    first = contender.contend().get(1)
    assert first.is_pending()

    second = contender.contend().get(1)
    assert first.is_ready()  # Contending again withdraws the previous candidacy.
    assert second.is_pending()

    assert contender.withdraw().get(1) is True
    assert second.is_ready()
    assert contender.withdraw().get(1) is False


def test_standalone_detector_reports_appointed_masters() -> None:
    """This test ensures that the standalone detector reports the appointed master and a
    later change, which is how tests stage a failover without ZooKeeper."""
    detector = create_master_detector(None)
    assert isinstance(detector, StandaloneMasterDetector)
    try:
        first = master_info_from_pid("master@127.0.0.1:5050")
        change = detector.detect(None)
        detector.appoint(first)
        assert change.get(5) == first
        change = detector.detect(first)
        detector.appoint(None)
        assert change.get(5) is None
    finally:
        detector.terminate()


def test_factories_refuse_bad_values() -> None:
    """This test ensures that no `--zk` means standalone, and that `--zk` values that are
    neither `zk://` nor `file://` (or name a missing file, or the root path) are refused
    with a clear error."""
    assert isinstance(create_master_contender(None), StandaloneMasterContender)
    with pytest.raises(DetectorError, match="zk://"):
        create_master_contender("host:2181/mesos")
    with pytest.raises(DetectorError, match="Failed to read"):
        create_master_contender("file:///does/not/exist")
    with pytest.raises(DetectorError, match="chroot"):
        create_master_contender("zk://127.0.0.1:2181/")
    with pytest.raises(DetectorError, match="chroot"):
        create_master_detector("zk://127.0.0.1:2181")
