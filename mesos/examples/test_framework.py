"""A sample framework: launches `--tasks` short command tasks and prints their states.

Written only against the official Python API (`mesos.interface`, `mesos.native`), the way a
framework author writes one. Usage: `python -m mesos.examples.test_framework HOST:PORT
[--tasks N]`. Exits 0 when every task finished, 1 otherwise. Callbacks run on the driver's
thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

from mesos.interface import Scheduler, mesos_pb2
from mesos.native import MesosSchedulerDriver

TASK_CPUS = 0.1
TASK_MEM = 32.0
TERMINAL = {mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_FAILED, mesos_pb2.TASK_KILLED,
            mesos_pb2.TASK_ERROR, mesos_pb2.TASK_LOST, mesos_pb2.TASK_DROPPED,
            mesos_pb2.TASK_GONE, mesos_pb2.TASK_GONE_BY_OPERATOR}


class TestScheduler(Scheduler):
    """Packs tasks into offers until `total` are launched; stops once all have ended."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.launched = 0
        self.states: dict[str, int] = {}
        self.done = threading.Event()

    def registered(self, driver, frameworkId, masterInfo):
        print(f"Registered with framework ID {frameworkId.value}", flush=True)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            tasks = []
            while (self.launched < self.total and cpus >= TASK_CPUS - 1e-9
                   and mem >= TASK_MEM - 1e-9):
                self.launched += 1
                tasks.append(self._task(offer, self.launched))
                cpus -= TASK_CPUS
                mem -= TASK_MEM
            if tasks:
                print(f"Launching {len(tasks)} task(s) on {offer.hostname}", flush=True)
                driver.launchTasks(offer.id, tasks)
            else:
                driver.declineOffer(offer.id)

    def _task(self, offer, n: int) -> mesos_pb2.TaskInfo:
        task = mesos_pb2.TaskInfo()
        task.task_id.value = f"task-{n}"
        task.slave_id.value = offer.slave_id.value
        task.name = f"task {n}"
        task.command.value = f"echo 'hello from task {n}' && sleep 0.1"
        role = offer.allocation_info.role or "*"
        for name, amount in (("cpus", TASK_CPUS), ("mem", TASK_MEM)):
            resource = task.resources.add()
            resource.name = name
            resource.type = mesos_pb2.Value.SCALAR
            resource.scalar.value = amount
            resource.allocation_info.role = role
        return task

    def statusUpdate(self, driver, update):
        state = mesos_pb2.TaskState.Name(update.state)
        print(f"Task {update.task_id.value} is in state {state}"
              + (f" ({update.message})" if update.message else ""), flush=True)
        self.states[update.task_id.value] = update.state
        ended = [s for s in self.states.values() if s in TERMINAL]
        if len(ended) == self.total:
            driver.stop()
            self.done.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("master", help="host:port of the master")
    parser.add_argument("--tasks", type=int, default=5)
    args = parser.parse_args(argv)
    framework = mesos_pb2.FrameworkInfo()
    framework.user = os.environ.get("USER", "") or "root"
    framework.name = "Test Framework (Python)"
    framework.roles.append("*")
    framework.capabilities.add().type = mesos_pb2.FrameworkInfo.Capability.MULTI_ROLE
    scheduler = TestScheduler(args.tasks)
    driver = MesosSchedulerDriver(scheduler, framework, args.master)
    status = driver.run()
    finished = sum(1 for s in scheduler.states.values() if s == mesos_pb2.TASK_FINISHED)
    print(f"{finished} of {args.tasks} tasks finished; driver {mesos_pb2.Status.Name(status)}",
          flush=True)
    return 0 if finished == args.tasks else 1


if __name__ == "__main__":
    sys.exit(main())
