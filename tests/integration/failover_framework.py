"""A failing-over framework for the integration tests (not a test module), written only
against `mesos.interface` / `mesos.native`.

Usage: `python failover_framework.py MASTER [--framework-id ID] [--failover-timeout SECS]
[--tasks N] [--command CMD] [--reconcile TASK[@AGENT],...]`.

- With `--tasks N` it launches N tasks `task-0` ... `task-<N-1>` running CMD (default
  `sleep 1000`, under the command executor) on its first offers, then declines every other
  offer and just stays registered: it is meant to be killed (`kill -9`).
- With `--framework-id` it subscribes with that id, i.e. as a failed-over scheduler.
- With `--reconcile`, once (re)registered it reconciles explicitly the listed tasks (with
  their agent ids when given as `task@agent`); when every one of them has answered, it
  reconciles implicitly (an empty list).

Every callback is printed as one JSON line on stdout: `registered`, `reregistered`,
`update` (with `phase`: `launch`, `explicit` or `implicit`, the reconciliation in progress
when it arrived), `reconciling`, `error`, `disconnected`, `stopped` (the driver's status).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from mesos.interface import Scheduler, mesos_pb2
from mesos.native import MesosSchedulerDriver


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


class FailoverScheduler(Scheduler):
    def __init__(self, tasks: int, command: str, reconcile: list[tuple[str, str]]) -> None:
        self.pending = [f"task-{n}" for n in range(tasks)]
        self.command = command
        self.reconcile = reconcile
        self.phase = "launch"
        # The explicitly reconciled tasks that have not answered yet. (Callbacks all run
        # on the driver's thread: no lock.)
        self.unanswered: set[str] = set()

    def registered(self, driver, frameworkId, masterInfo):
        emit("registered", framework_id=frameworkId.value, master=masterInfo.pid)
        self.start_reconciliation(driver)

    def reregistered(self, driver, masterInfo):
        emit("reregistered", master=masterInfo.pid)
        self.start_reconciliation(driver)

    def disconnected(self, driver):
        emit("disconnected")

    def start_reconciliation(self, driver: Any) -> None:
        if not self.reconcile:
            return
        statuses = []
        for task_id, agent_id in self.reconcile:
            # `state` is a required field; the master ignores it.
            status = mesos_pb2.TaskStatus(state=mesos_pb2.TASK_STAGING)
            status.task_id.value = task_id
            if agent_id:
                status.slave_id.value = agent_id
            statuses.append(status)
        self.phase = "explicit"
        self.unanswered = {task_id for task_id, _ in self.reconcile}
        emit("reconciling", phase="explicit", tasks=[t for t, _ in self.reconcile])
        driver.reconcileTasks(statuses)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            tasks = []
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            while self.pending and cpus >= 0.1 - 1e-9 and mem >= 32 - 1e-9:
                tasks.append(self.task(offer, self.pending.pop(0)))
                cpus -= 0.1
                mem -= 32
            if tasks:
                driver.launchTasks(offer.id, tasks)
            else:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=3600.0))

    def task(self, offer: Any, task_id: str) -> mesos_pb2.TaskInfo:
        task = mesos_pb2.TaskInfo(name=task_id)
        task.task_id.value = task_id
        task.slave_id.value = offer.slave_id.value
        task.command.value = self.command
        role = offer.allocation_info.role or "*"
        for name, amount in (("cpus", 0.1), ("mem", 32.0)):
            resource = task.resources.add(name=name, type=mesos_pb2.Value.SCALAR)
            resource.scalar.value = amount
            resource.allocation_info.role = role
        return task

    def statusUpdate(self, driver, status):
        reconciliation = status.reason == mesos_pb2.TaskStatus.REASON_RECONCILIATION
        phase = self.phase
        done = False
        if reconciliation and phase == "explicit":
            self.unanswered.discard(status.task_id.value)
            done = not self.unanswered
            if done:
                self.phase = "implicit"
        emit("update", task=status.task_id.value, state=mesos_pb2.TaskState.Name(status.state),
             reason=(mesos_pb2.TaskStatus.Reason.Name(status.reason)
                     if status.HasField("reason") else None),
             source=(mesos_pb2.TaskStatus.Source.Name(status.source)
                     if status.HasField("source") else None),
             message=status.message, agent=status.slave_id.value, phase=phase)
        if done:
            emit("reconciling", phase="implicit", tasks=[])
            driver.reconcileTasks([])

    def error(self, driver, message):
        emit("error", message=message)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("master")
    parser.add_argument("--framework-id", default="")
    parser.add_argument("--failover-timeout", type=float, default=0.0)
    parser.add_argument("--tasks", type=int, default=0)
    parser.add_argument("--command", default="sleep 1000")
    parser.add_argument("--reconcile", default="")
    args = parser.parse_args()

    reconcile = [(item.partition("@")[0], item.partition("@")[2])
                 for item in args.reconcile.split(",") if item]
    framework = mesos_pb2.FrameworkInfo(user=os.environ.get("USER", "") or "root",
                                        name="failover framework",
                                        failover_timeout=args.failover_timeout)
    if args.framework_id:
        framework.id.value = args.framework_id
    framework.roles.append("*")
    framework.capabilities.add().type = mesos_pb2.FrameworkInfo.Capability.MULTI_ROLE
    scheduler = FailoverScheduler(args.tasks, args.command, reconcile)
    driver = MesosSchedulerDriver(scheduler, framework, args.master)
    status = driver.run()
    emit("stopped", status=mesos_pb2.Status.Name(status))
    return 0 if status == mesos_pb2.DRIVER_STOPPED else 1


if __name__ == "__main__":
    sys.exit(main())
