"""The `mesos.native` drop-in: the drivers of the official Python bindings, on this port.

`from mesos.native import MesosSchedulerDriver` gives `mesos.sched.driver.MesosSchedulerDriver`
(same constructor, methods and callbacks as the official binding). `MesosExecutorDriver` comes
with the executor driver.
"""

from mesos.sched.driver import MesosSchedulerDriver

__all__ = ["MesosSchedulerDriver"]
