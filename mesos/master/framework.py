"""The master's record of one framework (port of `Framework` in `src/master/master.hpp` and
`src/master/framework.cpp`), and the task-state helpers the master's bookkeeping shares.

Plain data with checked transitions: only the master's thread touches a `Framework`, and the
master sends the messages; this class only keeps the books (tasks, executors, offers and the
resources they hold).
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from libprocess import UPID
from mesos.common.framework_info import framework_roles, has_capability
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2

if TYPE_CHECKING:
    from mesos.master.scheduler_api import HttpConnection

__all__ = [
    "TERMINAL_STATES",
    "Framework",
    "FrameworkState",
    "framework_roles",
    "has_capability",
    "is_terminal_state",
    "task_resources",
]

TaskState = mesos_pb2.TaskState
Capability = mesos_pb2.FrameworkInfo.Capability

# `protobuf::isTerminalState`: TASK_LOST is terminal although the task may come back.
TERMINAL_STATES = frozenset({
    mesos_pb2.TASK_FINISHED,
    mesos_pb2.TASK_FAILED,
    mesos_pb2.TASK_KILLED,
    mesos_pb2.TASK_ERROR,
    mesos_pb2.TASK_LOST,
    mesos_pb2.TASK_DROPPED,
    mesos_pb2.TASK_GONE,
    mesos_pb2.TASK_GONE_BY_OPERATOR,
})


def is_terminal_state(state: int) -> bool:
    return state in TERMINAL_STATES


def holds_resources(task: Any) -> bool:
    """True while a task's resources count as used (neither terminal nor unreachable)."""
    return task.state not in TERMINAL_STATES and task.state != mesos_pb2.TASK_UNREACHABLE


def task_resources(task: Any) -> Resources:
    return Resources(task.resources)


class FrameworkState(enum.Enum):
    """Where a framework stands with this master (Mesos's `Framework::State` plus `active`).

    RECOVERED: known only from agents' reports after a master failover, never connected here.
    DISCONNECTED: was connected, its scheduler is gone; the failover timeout runs.
    INACTIVE: connected, but receives no offers (deactivated by the scheduler or the master).
    ACTIVE: connected and offered resources.
    """

    RECOVERED = "recovered"
    DISCONNECTED = "disconnected"
    INACTIVE = "inactive"
    ACTIVE = "active"


class Framework:
    """The master's books about one framework; touched only on the master's thread.

    Holds the `FrameworkInfo`, the scheduler's connection (a PID scheduler's `pid`, or an
    HTTP scheduler's subscription stream `http`; never both), the state, the framework's
    tasks (live, unreachable and a bounded list of completed ones), its executors and offers,
    and the resources they use or are offered, per agent.
    """

    def __init__(self, info: Any, pid: UPID | None, now: float, *,
                 http: HttpConnection | None = None,
                 max_completed_tasks: int = 1000, max_unreachable_tasks: int = 1000) -> None:
        self.info = mesos_pb2.FrameworkInfo()
        self.info.CopyFrom(info)
        self.id: str = info.id.value
        self.pid: UPID | None = pid
        self.http: HttpConnection | None = http
        self.state = (FrameworkState.INACTIVE if pid or http is not None
                      else FrameworkState.RECOVERED)
        self.registered_time = now
        self.reregistered_time = now
        self.unregistered_time = 0.0
        # Bumped on every (re)connection: a failover timer armed for an older connection
        # must not remove a framework that reconnected meanwhile.
        self.connection_epoch = 0

        self.tasks: dict[str, Any] = {}
        self.completed_tasks: deque[Any] = deque(maxlen=max(0, max_completed_tasks))
        self._max_unreachable_tasks = max(0, max_unreachable_tasks)
        self.unreachable_tasks: OrderedDict[str, Any] = OrderedDict()
        # slave id -> executor id -> ExecutorInfo.
        self.executors: dict[str, dict[str, Any]] = {}
        self.offers: set[str] = set()

        self.used_resources: dict[str, Resources] = {}
        self.total_used_resources = Resources()
        self.offered_resources: dict[str, Resources] = {}
        self.total_offered_resources = Resources()

    def __repr__(self) -> str:
        return f"{self.id} ({self.info.name}) at {self.pid or self.http or '<no pid>'}"

    # -- identity --------------------------------------------------------------------------

    @property
    def roles(self) -> frozenset[str]:
        return framework_roles(self.info)

    @property
    def partition_aware(self) -> bool:
        return has_capability(self.info, Capability.PARTITION_AWARE)

    @property
    def multi_role(self) -> bool:
        return has_capability(self.info, Capability.MULTI_ROLE)

    @property
    def reservation_refinement(self) -> bool:
        return has_capability(self.info, Capability.RESERVATION_REFINEMENT)

    def update(self, info: Any) -> None:
        """Replaces the `FrameworkInfo` (immutable fields were preserved by the caller)."""
        self.info.CopyFrom(info)

    # -- state -----------------------------------------------------------------------------

    def connected(self) -> bool:
        return self.state in (FrameworkState.ACTIVE, FrameworkState.INACTIVE)

    def active(self) -> bool:
        return self.state is FrameworkState.ACTIVE

    def recovered(self) -> bool:
        return self.state is FrameworkState.RECOVERED

    def update_connection(self, pid: UPID) -> None:
        """A scheduler (re)connected from `pid`: connected, but not yet active. An HTTP
        stream it had is closed (a downgrade from HTTP to PID)."""
        if self.http is not None:
            self.close_http_connection()
        self.pid = pid
        self.connection_epoch += 1
        if not self.connected():
            self.state = FrameworkState.INACTIVE

    def update_connection_http(self, http: HttpConnection) -> None:
        """A scheduler (re)subscribed over the HTTP stream `http`: connected, but not yet
        active. Its pid is forgotten (an upgrade from PID to HTTP), or its previous stream
        closed."""
        if self.http is not None:
            self.close_http_connection()
        self.pid = None
        self.http = http
        self.connection_epoch += 1
        if not self.connected():
            self.state = FrameworkState.INACTIVE

    def close_http_connection(self) -> None:
        """Ends the framework's HTTP stream (and its heartbeats) and forgets it."""
        if self.http is None:
            raise RuntimeError(f"Framework {self} has no HTTP connection")
        self.http.close()
        self.http = None

    def activate(self) -> bool:
        """Makes a connected framework active; False if it already was."""
        if self.state is FrameworkState.ACTIVE:
            return False
        if not self.connected():
            raise RuntimeError(f"Cannot activate framework {self} in state {self.state.name}")
        self.state = FrameworkState.ACTIVE
        return True

    def deactivate(self) -> bool:
        """Makes an active framework inactive; False if it was not active."""
        if self.state is not FrameworkState.ACTIVE:
            return False
        self.state = FrameworkState.INACTIVE
        return True

    def disconnect(self) -> bool:
        """Marks a connected framework disconnected (an HTTP scheduler's stream is closed
        and forgotten); False if it was not connected."""
        if not self.connected():
            return False
        if self.state is FrameworkState.ACTIVE:
            raise RuntimeError(f"Deactivate framework {self} before disconnecting it")
        if self.http is not None:
            self.close_http_connection()
        self.state = FrameworkState.DISCONNECTED
        return True

    # -- tasks -----------------------------------------------------------------------------

    def get_task(self, task_id: str) -> Any | None:
        return self.tasks.get(task_id)

    def add_task(self, task: Any) -> None:
        task_id = task.task_id.value
        if task_id in self.tasks:
            raise RuntimeError(f"Duplicate task {task_id} of framework {self.id}")
        self.tasks[task_id] = task
        if holds_resources(task):
            self._use(task.slave_id.value, task_resources(task))

    def recover_resources(self, task: Any) -> None:
        """Releases a task's resources (it became terminal or unreachable)."""
        self._release(task.slave_id.value, task_resources(task))

    def remove_task(self, task: Any, unreachable: bool = False) -> None:
        """Moves a task out of the live tasks, to the unreachable or the completed ones."""
        task_id = task.task_id.value
        if self.tasks.get(task_id) is not task:
            raise RuntimeError(f"Unknown task {task_id} of framework {self.id}")
        if holds_resources(task):
            self.recover_resources(task)
        if unreachable:
            self.add_unreachable_task(task)
        else:
            self.add_completed_task(task)
        del self.tasks[task_id]

    def add_completed_task(self, task: Any) -> None:
        if self.completed_tasks.maxlen:
            self.completed_tasks.append(task)

    def add_unreachable_task(self, task: Any) -> None:
        if self._max_unreachable_tasks == 0:
            return
        self.unreachable_tasks.pop(task.task_id.value, None)
        while len(self.unreachable_tasks) >= self._max_unreachable_tasks:
            self.unreachable_tasks.popitem(last=False)
        self.unreachable_tasks[task.task_id.value] = task

    def forget_completed_task(self, task_id: str) -> None:
        """Drops a completed task that an agent reports alive again (MESOS-9940)."""
        kept = [t for t in self.completed_tasks if t.task_id.value != task_id]
        if len(kept) != len(self.completed_tasks):
            self.completed_tasks.clear()
            self.completed_tasks.extend(kept)

    # -- executors -------------------------------------------------------------------------

    def has_executor(self, slave_id: str, executor_id: str) -> bool:
        return executor_id in self.executors.get(slave_id, {})

    def add_executor(self, slave_id: str, executor: Any) -> None:
        executor_id = executor.executor_id.value
        if self.has_executor(slave_id, executor_id):
            raise RuntimeError(f"Duplicate executor '{executor_id}' of framework {self.id}"
                               f" on agent {slave_id}")
        self.executors.setdefault(slave_id, {})[executor_id] = executor
        self._use(slave_id, Resources(executor.resources))

    def remove_executor(self, slave_id: str, executor_id: str) -> None:
        executors = self.executors.get(slave_id, {})
        executor = executors.pop(executor_id, None)
        if executor is None:
            raise RuntimeError(f"Unknown executor '{executor_id}' of framework {self.id}"
                               f" on agent {slave_id}")
        if not executors:
            del self.executors[slave_id]
        self._release(slave_id, Resources(executor.resources))

    # -- offers ----------------------------------------------------------------------------

    def add_offer(self, offer_id: str, slave_id: str, resources: Resources) -> None:
        self.offers.add(offer_id)
        self.offered_resources[slave_id] = (
            self.offered_resources.get(slave_id, Resources()) + resources)
        self.total_offered_resources = self.total_offered_resources + resources

    def remove_offer(self, offer_id: str, slave_id: str, resources: Resources) -> None:
        self.offers.discard(offer_id)
        left = self.offered_resources.get(slave_id, Resources()) - resources
        if left:
            self.offered_resources[slave_id] = left
        else:
            self.offered_resources.pop(slave_id, None)
        self.total_offered_resources = self.total_offered_resources - resources

    # -- resources -------------------------------------------------------------------------

    def _use(self, slave_id: str, resources: Resources) -> None:
        if not resources:
            return
        self.used_resources[slave_id] = self.used_resources.get(slave_id, Resources()) + resources
        self.total_used_resources = self.total_used_resources + resources

    def _release(self, slave_id: str, resources: Resources) -> None:
        if not resources:
            return
        left = self.used_resources.get(slave_id, Resources()) - resources
        if left:
            self.used_resources[slave_id] = left
        else:
            self.used_resources.pop(slave_id, None)
        self.total_used_resources = self.total_used_resources - resources

    def all_tasks(self) -> Iterable[Any]:
        """Live, unreachable and completed tasks, in that order."""
        yield from self.tasks.values()
        yield from self.unreachable_tasks.values()
        yield from self.completed_tasks
