"""The scheduler driver (port of `src/sched/`): `SchedulerProcess`, the `MesosSchedulerDriver`
facade that `mesos.native` exports, and the standalone master detector the driver uses."""

from mesos.sched.detector import (
    DetectorError,
    StandaloneMasterDetector,
    create_detector,
    parse_master,
)
from mesos.sched.driver import MesosSchedulerDriver, SchedulerProcess

__all__ = [
    "DetectorError",
    "MesosSchedulerDriver",
    "SchedulerProcess",
    "StandaloneMasterDetector",
    "create_detector",
    "parse_master",
]
