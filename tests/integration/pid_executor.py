"""A custom executor for the integration tests (not a test module), written only against
`mesos.interface` / `mesos.native`: runs each task "forever" (until killed), reporting
TASK_RUNNING and sending its OS pid to the framework as a framework message."""

from __future__ import annotations

import os
import sys

from mesos.interface import Executor, mesos_pb2
from mesos.native import MesosExecutorDriver


class PidExecutor(Executor):
    def launchTask(self, driver, task):  # type: ignore[no-untyped-def]
        status = mesos_pb2.TaskStatus(state=mesos_pb2.TASK_RUNNING)
        status.task_id.CopyFrom(task.task_id)
        driver.sendStatusUpdate(status)
        driver.sendFrameworkMessage(str(os.getpid()).encode())

    def killTask(self, driver, taskId):  # type: ignore[no-untyped-def]
        status = mesos_pb2.TaskStatus(state=mesos_pb2.TASK_KILLED)
        status.task_id.CopyFrom(taskId)
        driver.sendStatusUpdate(status)


if __name__ == "__main__":
    driver = MesosExecutorDriver(PidExecutor())
    sys.exit(0 if driver.run() == mesos_pb2.DRIVER_STOPPED else 1)
