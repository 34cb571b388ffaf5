"""The `mesos.interface` drop-in: what Python frameworks written for Apache Mesos import.

`from mesos.interface import Scheduler, SchedulerDriver, Executor, ExecutorDriver, mesos_pb2`
works as with the official bindings (`src/python/interface` in Apache Mesos): the four classes
have the official method names and signatures, and `mesos_pb2` is the very module object
`mesos.protos.mesos.mesos_pb2`, so messages built through either name are the same classes.

`Scheduler` and `Executor` are the callback interfaces a framework subclasses (every callback
has a do-nothing default, except `error`, which prints the message to stderr).
`SchedulerDriver` and `ExecutorDriver` describe the drivers; the real ones live in
`mesos.native`. Nothing here owns state or threads: a driver calls a scheduler's callbacks on
its own thread (see `mesos.native.MesosSchedulerDriver`).
"""

from __future__ import annotations

import sys
from typing import Any

from mesos.protos.mesos import mesos_pb2

__all__ = ["Executor", "ExecutorDriver", "Scheduler", "SchedulerDriver", "mesos_pb2"]


class Scheduler:
    """The callbacks of a framework scheduler; subclass it and override what you need.

    A `MesosSchedulerDriver` calls these one at a time on its own thread (the driver's
    process thread). A callback may call back into the driver. An exception escaping a
    callback other than `error` aborts the driver, as the official bindings do.
    """

    def registered(self, driver: Any, frameworkId: Any, masterInfo: Any) -> None:
        """The framework registered with a master, which assigned it `frameworkId`.

        Also called when a framework that was started with an existing id fails over.
        `masterInfo` (a `MasterInfo`) describes the master.
        """

    def reregistered(self, driver: Any, masterInfo: Any) -> None:
        """The framework, registered before, registered again with a (possibly new) master."""

    def disconnected(self, driver: Any) -> None:
        """The driver lost its master (it failed, or another master was elected).

        The driver keeps looking for a master and registers again by itself.
        """

    def resourceOffers(self, driver: Any, offers: Any) -> None:
        """New offers (a list of `Offer`); each offer holds resources of one agent.

        Answer with `launchTasks`, `acceptOffers` or `declineOffer`. The resources are not
        offered to this framework again until it answers or the offer is rescinded.
        """

    def offerRescinded(self, driver: Any, offerId: Any) -> None:
        """The offer `offerId` is no longer valid (for example its agent was lost)."""

    def statusUpdate(self, driver: Any, status: Any) -> None:
        """A task changed state (`status` is a `TaskStatus`).

        With implicit acknowledgements (the default) returning from this callback
        acknowledges the update. With explicit ones the framework calls
        `driver.acknowledgeStatusUpdate(status)` once it has handled the update.
        """

    def frameworkMessage(self, driver: Any, executorId: Any, slaveId: Any,
                         message: Any) -> None:
        """An executor sent `message` (bytes). Delivery is best effort, never retried."""

    def slaveLost(self, driver: Any, slaveId: Any) -> None:
        """The agent `slaveId` is gone or unreachable. Not reliably delivered."""

    def executorLost(self, driver: Any, executorId: Any, slaveId: Any,
                     status: Any) -> None:
        """The executor exited with `status` (an int). Not reliably delivered."""

    def error(self, driver: Any, message: Any) -> None:
        """An unrecoverable error; the driver has been aborted before this is called."""
        print(f"Error from Mesos: {message} ", file=sys.stderr)


class SchedulerDriver:
    """What a scheduler driver offers a framework; `mesos.native.MesosSchedulerDriver` is one.

    Every method returns the driver's status, a `mesos_pb2.Status` value (`DRIVER_RUNNING`,
    ...). Useful as the base of a mock in tests.
    """

    def start(self) -> Any:
        """Starts the driver; call it before any other method."""

    def stop(self, failover: bool = False) -> Any:
        """Stops the driver.

        With `failover=False` the framework is torn down (its tasks are killed). With
        `failover=True` tasks keep running so that a new scheduler can take over within the
        framework's failover timeout.
        """

    def abort(self) -> Any:
        """Stops calling the scheduler and tells the master to stop sending to it.

        `join()` then returns `DRIVER_ABORTED`, so a program can tell an abort from a stop.
        """

    def join(self) -> Any:
        """Blocks until the driver is stopped or aborted; returns its status."""

    def run(self) -> Any:
        """`start()` and then `join()`."""

    def requestResources(self, requests: Any) -> Any:
        """Asks the allocator for resources (a list of `Request`)."""

    def launchTasks(self, offerIds: Any, tasks: Any, filters: Any = None) -> Any:
        """Launches `tasks` (a list of `TaskInfo`) on one offer id or a list of them.

        The offers must come from one agent; their unused resources are declined with
        `filters`. An empty task list declines the offers.
        """

    def killTask(self, taskId: Any) -> Any:
        """Asks to kill a task. Not reliable: dropped while disconnected."""

    def acceptOffers(self, offerIds: Any, operations: Any, filters: Any = None) -> Any:
        """Accepts offers with a list of `Offer.Operation`s; unused resources are declined."""

    def declineOffer(self, offerId: Any, filters: Any = None) -> Any:
        """Declines a whole offer, applying `filters` to its resources."""

    def reviveOffers(self) -> Any:
        """Clears the framework's filters and asks for offers again."""

    def suppressOffers(self) -> Any:
        """Asks the master to stop sending offers until `reviveOffers()`."""

    def acknowledgeStatusUpdate(self, status: Any) -> Any:
        """Acknowledges a status update (only with explicit acknowledgements)."""

    def sendFrameworkMessage(self, executorId: Any, slaveId: Any, data: Any) -> Any:
        """Sends `data` to an executor. Best effort, never retried."""

    def reconcileTasks(self, tasks: Any) -> Any:
        """Asks for the latest state of the given tasks (`TaskStatus` list; empty: all)."""


class Executor:
    """The callbacks of an executor; subclass it and override what you need.

    An executor driver calls these one at a time on its own thread.
    """

    def registered(self, driver: Any, executorInfo: Any, frameworkInfo: Any,
                   slaveInfo: Any) -> None:
        """The executor registered with its agent."""

    def reregistered(self, driver: Any, slaveInfo: Any) -> None:
        """The executor registered again with a restarted agent."""

    def disconnected(self, driver: Any) -> None:
        """The executor lost its agent (for example, the agent is restarting)."""

    def launchTask(self, driver: Any, task: Any) -> None:
        """Run `task` (a `TaskInfo`); no other callback runs until this one returns."""

    def killTask(self, driver: Any, taskId: Any) -> None:
        """Kill the task; the executor itself sends the terminal update (e.g. TASK_KILLED)."""

    def frameworkMessage(self, driver: Any, message: Any) -> None:
        """The scheduler sent `message` (bytes). Best effort, never retried."""

    def shutdown(self, driver: Any) -> None:
        """Stop every task this executor runs; the executor is about to be terminated."""

    def error(self, driver: Any, message: Any) -> None:
        """An unrecoverable error; the driver has been aborted before this is called."""
        print(f"Error from Mesos: {message}", file=sys.stderr)


class ExecutorDriver:
    """What an executor driver offers an executor. Useful as the base of a mock in tests."""

    def start(self) -> Any:
        """Starts the driver; call it before any other method."""

    def stop(self) -> Any:
        """Stops the driver."""

    def abort(self) -> Any:
        """Stops calling the executor; `join()` then returns `DRIVER_ABORTED`."""

    def join(self) -> Any:
        """Blocks until the driver is stopped or aborted; returns its status."""

    def run(self) -> Any:
        """`start()` and then `join()`."""

    def sendStatusUpdate(self, status: Any) -> Any:
        """Sends a `TaskStatus` to the scheduler; the agent retries it until acknowledged."""

    def sendFrameworkMessage(self, data: Any) -> Any:
        """Sends `data` to the scheduler. Best effort, never retried."""
