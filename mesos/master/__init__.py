"""The Mesos master (port of `src/master/`): the `Master` process, its framework and agent
bookkeeping, validation, endpoints, metrics and flags. `mesos-master` is `main.main`."""

from mesos.master.flags import MasterFlags
from mesos.master.framework import Framework, FrameworkState
from mesos.master.master import Master, SlaveObserver
from mesos.master.slave import Slave, SlaveState

__all__ = [
    "Framework",
    "FrameworkState",
    "Master",
    "MasterFlags",
    "Slave",
    "SlaveObserver",
    "SlaveState",
]
