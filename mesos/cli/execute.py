"""`mesos-execute`: a tiny framework that launches one command task and prints its updates.

Port of Mesos's `src/cli/execute.cpp` (its v0-driver subset): subscribes as a framework,
takes the first offer that holds `--resources`, launches `--command` as a command task
(run by the command executor on the agent), prints every status update, and exits 0 when
the task finishes (`TASK_FINISHED`), 1 when it ends in any other terminal state. Written
against `mesos.interface` / `mesos.native` only, like any framework. Its callbacks run on the
driver's thread; `main` runs on the caller's.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence

from mesos.common.flags import BOOL, JSON, STRING, Flag, Flags, load_or_exit
from mesos.common.resources import Resources, ResourcesError
from mesos.interface import Scheduler, mesos_pb2
from mesos.native import MesosSchedulerDriver

TERMINAL_STATES = frozenset({
    mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_FAILED, mesos_pb2.TASK_KILLED,
    mesos_pb2.TASK_ERROR, mesos_pb2.TASK_LOST, mesos_pb2.TASK_DROPPED, mesos_pb2.TASK_GONE,
    mesos_pb2.TASK_GONE_BY_OPERATOR,
})


def _resources(text: str) -> str:
    Resources.parse(text)  # Raises `ResourcesError` naming the bad token.
    return text


RESOURCES = type(STRING)("resources", _resources, str)


class ExecuteFlags(Flags):
    """The flags of `mesos-execute` (Mesos spelling)."""

    master = Flag(STRING, required=True,
                  help="The master to connect to: 'host:port' or 'zk://host:port/path'.")
    name = Flag(STRING, required=True, help="The name of the framework and of its task.")
    command = Flag(STRING, required=True, help="The shell command to launch.")
    resources = Flag(RESOURCES, default="cpus:1;mem:128",
                     help="The resources the task needs, as a Mesos resources string.")
    role = Flag(STRING, default="*", help="The role to subscribe with.")
    checkpoint = Flag(BOOL, default=False,
                      help="Whether the framework checkpoints (survives agent restarts).")
    shell = Flag(BOOL, default=True,
                 help="Run the command through '/bin/sh -c' (false: split into argv).")
    env = Flag(JSON, default=None,
               help='Environment for the command, as JSON: {"NAME": "value", ...}.')
    partition_aware = Flag(BOOL, default=False,
                           help="Subscribe with the PARTITION_AWARE capability.")


class ExecuteScheduler(Scheduler):
    """Launches the one task on the first fitting offer and records its terminal state."""

    def __init__(self, flags: ExecuteFlags) -> None:
        self.flags = flags
        # Offers of a MULTI_ROLE framework carry `allocation_info`; so must the task's.
        self.needed = Resources.parse(flags.resources).allocate(flags.role)
        self.launched = False
        self.final_state: int | None = None
        self.done = threading.Event()

    def registered(self, driver, frameworkId, masterInfo):
        print(f"Subscribed with ID {frameworkId.value}", flush=True)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            offered = Resources(list(offer.resources))
            if self.launched or not offered.contains(self.needed):
                driver.declineOffer(offer.id)
                continue
            task = mesos_pb2.TaskInfo()
            task.name = self.flags.name
            task.task_id.value = self.flags.name
            task.slave_id.value = offer.slave_id.value
            task.resources.extend(self.needed.to_protobuf_list())
            task.command.shell = self.flags.shell
            if self.flags.shell:
                task.command.value = self.flags.command
            else:
                argv = self.flags.command.split()
                task.command.value = argv[0]
                task.command.arguments.extend(argv)
            for key, value in (self.flags.env or {}).items():
                variable = task.command.environment.variables.add()
                variable.name = key
                variable.value = str(value)
            print(f"Submitted task '{task.name}' to agent '{offer.slave_id.value}'",
                  flush=True)
            driver.launchTasks(offer.id, [task])
            self.launched = True

    def statusUpdate(self, driver, status):
        state = mesos_pb2.TaskState.Name(status.state)
        print(f"Received status update {state} for task '{status.task_id.value}'",
              flush=True)
        if status.message:
            print(f"  message: '{status.message}'", flush=True)
        if status.HasField("reason"):
            print(f"  reason: {mesos_pb2.TaskStatus.Reason.Name(status.reason)}", flush=True)
        if status.state in TERMINAL_STATES:
            self.final_state = status.state
            self.done.set()
            driver.stop()

    def error(self, driver, message):
        print(f"Error: {message}", file=sys.stderr, flush=True)
        self.done.set()


def main(argv: Sequence[str] | None = None) -> int:
    flags = load_or_exit(ExecuteFlags, list(sys.argv if argv is None else argv), os.environ)
    try:
        Resources.parse(flags.resources)
    except ResourcesError as e:
        print(f"mesos-execute: bad --resources: {e}", file=sys.stderr)
        return 1
    framework = mesos_pb2.FrameworkInfo()
    framework.user = os.environ.get("USER", "root")
    framework.name = flags.name
    framework.checkpoint = flags.checkpoint
    framework.roles.append(flags.role)
    framework.capabilities.add().type = mesos_pb2.FrameworkInfo.Capability.MULTI_ROLE
    if flags.partition_aware:
        framework.capabilities.add().type = mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE
    scheduler = ExecuteScheduler(flags)
    driver = MesosSchedulerDriver(scheduler, framework, flags.master)
    status = driver.run()
    if scheduler.final_state == mesos_pb2.TASK_FINISHED:
        return 0
    if status != mesos_pb2.DRIVER_STOPPED:
        print(f"mesos-execute: driver ended {mesos_pb2.Status.Name(status)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
