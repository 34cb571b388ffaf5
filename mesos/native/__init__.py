"""The `mesos.native` drop-in: the drivers of the official Python bindings, on this port.

`from mesos.native import MesosSchedulerDriver, MesosExecutorDriver` gives
`mesos.sched.driver.MesosSchedulerDriver` and `mesos.exec.driver.MesosExecutorDriver`, with
the same constructors, methods and callbacks as the official binding.
"""

from mesos.exec.driver import MesosExecutorDriver
from mesos.sched.driver import MesosSchedulerDriver

__all__ = ["MesosExecutorDriver", "MesosSchedulerDriver"]
