"""The master's record of one registered agent (port of `Slave` in `src/master/master.hpp`).

Plain data with checked transitions: only the master's thread touches a `Slave`. It keeps
the agent's identity and connection state, its tasks and executors by framework, the offers
made on it and the resources used, offered and in total.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from libprocess import UPID
from mesos.common.resources import Resources
from mesos.master.framework import holds_resources, task_resources
from mesos.protos.mesos import mesos_pb2

__all__ = ["Slave", "SlaveState"]


class SlaveState(enum.Enum):
    """Where a registered agent stands (Mesos's `connected` and `active` flags in one).

    ACTIVE: connected, and its resources are offered.
    DEACTIVATED: connected, but its resources are not offered (draining or maintenance).
    DISCONNECTED: its connection broke; it has `--agent_reregister_timeout` to come back.
    """

    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    DISCONNECTED = "disconnected"


class Slave:
    """The master's books about one registered agent; touched only on the master's thread."""

    def __init__(self, info: Any, pid: UPID, version: str, capabilities: Iterable[Any],
                 now: float, *, checkpointed_resources: Iterable[Any] = (),
                 executor_infos: Iterable[Any] = (), tasks: Iterable[Any] = ()) -> None:
        self.info = mesos_pb2.SlaveInfo()
        self.info.CopyFrom(info)
        self.id: str = info.id.value
        self.pid = pid
        self.version = version
        # `SlaveInfo.Capability` messages, as the agent sent them.
        self.capabilities = list(capabilities)
        self.registered_time = now
        self.reregistered_time: float | None = None
        self.state = SlaveState.ACTIVE

        self.checkpointed_resources = Resources(list(checkpointed_resources))
        # TODO(issue 5+): apply checkpointed dynamic reservations and volumes to the total.
        self.total_resources = Resources(self.info.resources)

        # framework id -> task id -> Task.
        self.tasks: dict[str, dict[str, Any]] = {}
        # (framework id, task id) of tasks the master asked the agent to kill.
        self.killed_tasks: set[tuple[str, str]] = set()
        # framework id -> executor id -> ExecutorInfo.
        self.executors: dict[str, dict[str, Any]] = {}
        self.offers: set[str] = set()
        self.used_resources: dict[str, Resources] = {}
        self.offered_resources = Resources()
        # The agent's resource version (`UUID.value`), echoed in `RunTaskMessage`s.
        self.resource_version: bytes | None = None

        # The agent's health checker and the timer armed when its connection broke.
        self.observer: Any = None
        self.reregistration_timer: Any = None

        for executor in executor_infos:
            self.add_executor(executor.framework_id.value, executor)
        for task in tasks:
            self.add_task(task)

    def __repr__(self) -> str:
        return f"{self.id} at {self.pid} ({self.info.hostname})"

    # -- state -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.state is not SlaveState.DISCONNECTED

    @property
    def active(self) -> bool:
        return self.state is SlaveState.ACTIVE

    # -- tasks -----------------------------------------------------------------------------

    def get_task(self, framework_id: str, task_id: str) -> Any | None:
        return self.tasks.get(framework_id, {}).get(task_id)

    def add_task(self, task: Any) -> None:
        framework_id = task.framework_id.value
        task_id = task.task_id.value
        tasks = self.tasks.setdefault(framework_id, {})
        if task_id in tasks:
            raise RuntimeError(f"Duplicate task {task_id} of framework {framework_id}"
                               f" on agent {self.id}")
        tasks[task_id] = task
        if holds_resources(task):
            self._use(framework_id, task_resources(task))

    def recover_resources(self, task: Any) -> None:
        self._release(task.framework_id.value, task_resources(task))

    def remove_task(self, task: Any) -> None:
        framework_id = task.framework_id.value
        task_id = task.task_id.value
        tasks = self.tasks.get(framework_id, {})
        if tasks.get(task_id) is not task:
            raise RuntimeError(f"Unknown task {task_id} of framework {framework_id}"
                               f" on agent {self.id}")
        if holds_resources(task):
            self.recover_resources(task)
        del tasks[task_id]
        if not tasks:
            del self.tasks[framework_id]
        self.killed_tasks.discard((framework_id, task_id))

    def all_tasks(self) -> Iterable[Any]:
        for tasks in self.tasks.values():
            yield from tasks.values()

    # -- executors -------------------------------------------------------------------------

    def has_executor(self, framework_id: str, executor_id: str) -> bool:
        return executor_id in self.executors.get(framework_id, {})

    def add_executor(self, framework_id: str, executor: Any) -> None:
        executor_id = executor.executor_id.value
        if self.has_executor(framework_id, executor_id):
            raise RuntimeError(f"Duplicate executor '{executor_id}' of framework"
                               f" {framework_id} on agent {self.id}")
        self.executors.setdefault(framework_id, {})[executor_id] = executor
        self._use(framework_id, Resources(executor.resources))

    def remove_executor(self, framework_id: str, executor_id: str) -> None:
        executors = self.executors.get(framework_id, {})
        executor = executors.pop(executor_id, None)
        if executor is None:
            raise RuntimeError(f"Unknown executor '{executor_id}' of framework"
                               f" {framework_id} on agent {self.id}")
        if not executors:
            del self.executors[framework_id]
        self._release(framework_id, Resources(executor.resources))

    # -- offers ----------------------------------------------------------------------------

    def add_offer(self, offer_id: str, resources: Resources) -> None:
        self.offers.add(offer_id)
        self.offered_resources = self.offered_resources + resources

    def remove_offer(self, offer_id: str, resources: Resources) -> None:
        self.offers.discard(offer_id)
        self.offered_resources = self.offered_resources - resources

    # -- resources -------------------------------------------------------------------------

    def total_used_resources(self) -> Resources:
        total = Resources()
        for resources in self.used_resources.values():
            total = total + resources
        return total

    def _use(self, framework_id: str, resources: Resources) -> None:
        if resources:
            self.used_resources[framework_id] = (
                self.used_resources.get(framework_id, Resources()) + resources)

    def _release(self, framework_id: str, resources: Resources) -> None:
        if not resources:
            return
        left = self.used_resources.get(framework_id, Resources()) - resources
        if left:
            self.used_resources[framework_id] = left
        else:
            self.used_resources.pop(framework_id, None)
