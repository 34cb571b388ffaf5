"""A framework for the integration tests (not a test module), written only against
`mesos.interface` / `mesos.native`.

Usage: `python batch_framework.py MASTER SPEC_JSON`, where the spec is
`{"tasks": {"<task id>": "<shell command>" | {"executor": "<executor command>"}, ...},
  "checkpoint": false, "framework_id": null, "stop_when_done": true}`.
Tasks are packed into offers (0.1 cpus, 32 MB each); a task given as `{"executor": ...}` runs
under a custom executor (one per task) started with that command. Every callback is printed
as one JSON line on stdout (`registered`, `reregistered`, `update`, `message`,
`executor_lost`, `slave_lost`, `error`, `disconnected`), so a test can follow it. With
`stop_when_done`, the driver stops once every task has reached a terminal state.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from mesos.interface import Scheduler, mesos_pb2
from mesos.native import MesosSchedulerDriver

TERMINAL = {mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_FAILED, mesos_pb2.TASK_KILLED,
            mesos_pb2.TASK_ERROR, mesos_pb2.TASK_LOST, mesos_pb2.TASK_DROPPED,
            mesos_pb2.TASK_GONE, mesos_pb2.TASK_GONE_BY_OPERATOR}


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


class BatchScheduler(Scheduler):
    def __init__(self, spec: dict[str, Any]) -> None:
        self.pending = dict(spec["tasks"])
        self.total = len(self.pending)
        self.states: dict[str, int] = {}
        self.stop_when_done = spec.get("stop_when_done", True)

    def registered(self, driver, frameworkId, masterInfo):  # type: ignore[no-untyped-def]
        emit("registered", framework_id=frameworkId.value, master=masterInfo.pid)

    def reregistered(self, driver, masterInfo):  # type: ignore[no-untyped-def]
        emit("reregistered", master=masterInfo.pid)

    def disconnected(self, driver):  # type: ignore[no-untyped-def]
        emit("disconnected")

    def resourceOffers(self, driver, offers):  # type: ignore[no-untyped-def]
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            tasks = []
            while self.pending and cpus >= 0.2 - 1e-9 and mem >= 64 - 1e-9:
                task_id, command = self.pending.popitem()
                tasks.append(self.task(offer, task_id, command))
                cpus -= 0.2
                mem -= 64
            if tasks:
                driver.launchTasks(offer.id, tasks)
            else:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=1.0))

    def task(self, offer: Any, task_id: str, command: Any) -> mesos_pb2.TaskInfo:
        task = mesos_pb2.TaskInfo(name=task_id)
        task.task_id.value = task_id
        task.slave_id.value = offer.slave_id.value
        role = offer.allocation_info.role or "*"
        for name, amount in (("cpus", 0.1), ("mem", 32.0)):
            resource = task.resources.add(name=name, type=mesos_pb2.Value.SCALAR)
            resource.scalar.value = amount
            resource.allocation_info.role = role
        if isinstance(command, str):
            task.command.value = command
        else:
            executor = task.executor
            executor.executor_id.value = f"executor-{task_id}"
            executor.command.value = command["executor"]
            for name, amount in (("cpus", 0.1), ("mem", 32.0)):
                resource = executor.resources.add(name=name, type=mesos_pb2.Value.SCALAR)
                resource.scalar.value = amount
                resource.allocation_info.role = role
        return task

    def statusUpdate(self, driver, status):  # type: ignore[no-untyped-def]
        emit("update", task=status.task_id.value, state=mesos_pb2.TaskState.Name(status.state),
             message=status.message,
             reason=(mesos_pb2.TaskStatus.Reason.Name(status.reason)
                     if status.HasField("reason") else None),
             agent=status.slave_id.value)
        self.states[status.task_id.value] = status.state
        if (self.stop_when_done and len(self.states) == self.total
                and all(s in TERMINAL for s in self.states.values())):
            driver.stop()

    def frameworkMessage(self, driver, executorId, slaveId, message):  # type: ignore
        emit("message", executor=executorId.value, agent=slaveId.value,
             data=message.decode() if isinstance(message, bytes) else message)

    def executorLost(self, driver, executorId, slaveId, status):  # type: ignore
        emit("executor_lost", executor=executorId.value, agent=slaveId.value, status=status)

    def slaveLost(self, driver, slaveId):  # type: ignore[no-untyped-def]
        emit("slave_lost", agent=slaveId.value)

    def error(self, driver, message):  # type: ignore[no-untyped-def]
        emit("error", message=message)


def main() -> int:
    master, spec = sys.argv[1], json.loads(sys.argv[2])
    framework = mesos_pb2.FrameworkInfo(user=os.environ.get("USER", "") or "root",
                                        name="batch framework",
                                        checkpoint=spec.get("checkpoint", False),
                                        failover_timeout=spec.get("failover_timeout", 0.0))
    if spec.get("framework_id"):
        framework.id.value = spec["framework_id"]
    framework.roles.append("*")
    framework.capabilities.add().type = mesos_pb2.FrameworkInfo.Capability.MULTI_ROLE
    driver = MesosSchedulerDriver(BatchScheduler(spec), framework, master)
    status = driver.run()
    emit("stopped", status=mesos_pb2.Status.Name(status))
    return 0 if status == mesos_pb2.DRIVER_STOPPED else 1


if __name__ == "__main__":
    sys.exit(main())
