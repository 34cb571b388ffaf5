"""The agent: the `slave(N)` process (port of `src/slave/slave.{hpp,cpp}`).

The agent registers with the master (with the Mesos backoff), answers its pings, runs the
tasks the master sends it inside executors, which are real OS processes started by the POSIX
containerizer in sandboxes under `--work_dir`, and relays everything between executors and the
master: status updates (reliably, through the task status update manager), kills, framework
messages and shutdowns. The behaviour is Mesos's (`shared/reference/mesos-behaviour.md`
§1.3, §1.4, §2.3, §2.4, §2.8, §2.9); method names are Mesos's in snake_case
(`Slave::statusUpdate` is `status_update`). Mesos names later stages with more leading
underscores, which Python would mangle, so the stages here have names of their own:
`status_update` -> `_status_update` -> `_record_update` -> `_status_update_recorded`.

Checkpointing and recovery (§2.7, §2.8; `Slave::recover`, `_recover`, `__recover`): the
agent's `SlaveInfo` and, for frameworks with `checkpoint=true`, their frameworks, executors,
runs, pids, tasks and status updates are written under `--work_dir/meta` (`mesos.agent.state`)
and their executors outlive the agent. A restarted agent reads them back, replays the update
streams, adopts the executors still running, asks them to reregister
(`ReconnectExecutorMessage`), destroys those that do not within
`--executor_reregistration_timeout`, and only then reregisters with the master under the same
agent id (`--recover=cleanup` kills them and exits instead).

HTTP executors (the v1 executor API, `executor_api.py`) subscribe through
`subscribe_executor` instead of registering; an executor then has a subscription stream
(`Executor.http`) instead of a pid, and everything the agent sends it goes through
`Executor.send`, which writes a v1 event on the stream or sends the message to the pid. A
checkpointing framework's HTTP executor gets an `http.marker` instead of a checkpointed pid:
a restarted agent waits for it to subscribe again (it sends it no ReconnectExecutorMessage).

Threads: everything here runs on the agent's own thread. The containerizer's waiter threads,
the master detector (a process of its own, following the leader) and the status update manager
come back through `defer`.

Not yet ported (later issues): garbage collection of sandboxes (`--gc_delay`),
authentication, resource providers and task groups.
"""

from __future__ import annotations

import collections
import enum
import logging
import os
import random
import socket
import sys
import uuid
from collections.abc import Iterable
from typing import Any

import libprocess
from libprocess import UPID, Future, Process, Promise, Timer, UPIDError, clock, defer, delay
from libprocess import metrics as _metrics
from mesos.agent import paths
from mesos.agent import state as slave_state
from mesos.agent.containerizer import (
    DEFAULT_PATH,
    ContainerTermination,
    PosixContainerizer,
    RecoveredContainer,
    detect_resources,
    wait_status_text,
)
from mesos.agent.executor_api import ExecutorConnection, subscribed_event
from mesos.agent.flags import REGISTER_RETRY_INTERVAL_MAX, AgentFlags
from mesos.agent.status_update_manager import (
    CheckpointedTask,
    TaskStatusUpdateManager,
    task_updates_path,
)
from mesos.common.attributes import parse_attributes
from mesos.common.durations import format_duration
from mesos.common.framework_info import framework_roles, has_capability
from mesos.common.resources import Resources
from mesos.detector import (
    MASTER_DETECTOR_ZK_SESSION_TIMEOUT,
    DetectorError,
    StandaloneMasterDetector,
)
from mesos.detector import create_master_detector as _create_master_detector
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

__all__ = [
    "MESOS_VERSION",
    "Agent",
    "Executor",
    "ExecutorState",
    "Framework",
    "FrameworkState",
    "StandaloneMasterDetector",
    "State",
    "create_master_detector",
    "create_status_update",
    "create_task",
]

log = logging.getLogger(__name__)

MESOS_VERSION = "1.12.0"

# `src/slave/constants.hpp`.
DEFAULT_MASTER_PING_TIMEOUT = 15.0 * 5
DEFAULT_EXECUTOR_CPUS = 0.1
DEFAULT_EXECUTOR_MEM_MB = 32
MAX_COMPLETED_FRAMEWORKS = 50
MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK = 150
MAX_COMPLETED_TASKS_PER_EXECUTOR = 200
# `process::MAX_REAP_INTERVAL()`: added to a kill policy's grace period for the command
# executor's shutdown, so the container is not destroyed before TASK_KILLED is sent.
MAX_REAP_INTERVAL = 1.0

# Registration retries start this small even with `--registration_backoff_factor=0`, so a
# zero factor retries quickly instead of in a hot loop.
MIN_REGISTRATION_BACKOFF = 0.001

# How often a failed master detection (the detector failed: its ZooKeeper group broke) is
# retried: from the minimum, doubling up to the maximum.
DETECTION_RETRY_INTERVAL_MIN = 1.0
DETECTION_RETRY_INTERVAL_MAX = 60.0

MESOS_EXECUTOR = "mesos-executor"
COMMAND_EXECUTOR_MODULE = "mesos.exec.command_executor"

# What this agent can do (`AGENT_CAPABILITIES()`, minus what the port lacks: resource
# providers, volume resizing, operation feedback, draining and task resource limits).
AGENT_CAPABILITIES = (
    mesos_pb2.SlaveInfo.Capability.MULTI_ROLE,
    mesos_pb2.SlaveInfo.Capability.HIERARCHICAL_ROLE,
    mesos_pb2.SlaveInfo.Capability.RESERVATION_REFINEMENT,
)

TaskStatus = mesos_pb2.TaskStatus

TERMINAL_STATES = frozenset({
    mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_FAILED, mesos_pb2.TASK_KILLED,
    mesos_pb2.TASK_ERROR, mesos_pb2.TASK_LOST, mesos_pb2.TASK_DROPPED, mesos_pb2.TASK_GONE,
    mesos_pb2.TASK_GONE_BY_OPERATOR,
})


def is_terminal_state(state: int) -> bool:
    return state in TERMINAL_STATES


def _state_name(state: int) -> str:
    try:
        return mesos_pb2.TaskState.Name(state)
    except ValueError:
        return str(state)


def _copy(message: Any) -> Any:
    out = type(message)()
    out.CopyFrom(message)
    return out


def _uuid_text(value: bytes) -> str:
    try:
        return str(uuid.UUID(bytes=value))
    except ValueError:
        return value.hex()


def _parse_upid(text: str) -> UPID | None:
    """A non-empty UPID from a message field, or None (empty or malformed)."""
    if not text:
        return None
    try:
        upid = UPID(text)
    except UPIDError:
        return None
    return upid if upid else None


# ---------------------------------------------------------------------------------------
# Protobuf helpers (`src/common/protobuf_utils.cpp`).


def create_status_update(framework_id: Any, slave_id: Any, task_id: Any, state: Any,
                         source: Any, message: str | None = None, reason: Any = None,
                         executor_id: Any = None) -> messages_pb2.StatusUpdate:
    """A status update the agent itself generates, with a fresh uuid (port of
    `protobuf::createStatusUpdate`)."""
    update = messages_pb2.StatusUpdate()
    update.timestamp = clock.now()
    update.uuid = uuid.uuid4().bytes
    update.framework_id.CopyFrom(framework_id)
    if slave_id is not None and slave_id.value:
        update.slave_id.CopyFrom(slave_id)
    status = update.status
    status.task_id.CopyFrom(task_id)
    status.state = state
    status.source = source
    if message is not None:
        status.message = message
    if reason is not None:
        status.reason = reason
    if executor_id is not None:
        update.executor_id.CopyFrom(executor_id)
        status.executor_id.CopyFrom(executor_id)
    status.timestamp = update.timestamp
    status.uuid = update.uuid
    if update.HasField("slave_id"):
        status.slave_id.CopyFrom(update.slave_id)
    return update


def status_update_from_status(framework_id: Any, status: Any,
                              slave_id: Any) -> messages_pb2.StatusUpdate:
    """The `StatusUpdate` an HTTP executor's `TaskStatus` stands for (port of the
    `protobuf::createStatusUpdate(frameworkId, status, slaveId)` overload): the status's
    executor id, timestamp (now if it has none) and uuid, and this agent's id where the
    status has none."""
    update = messages_pb2.StatusUpdate()
    update.framework_id.CopyFrom(framework_id)
    if status.HasField("executor_id"):
        update.executor_id.CopyFrom(status.executor_id)
    update.status.CopyFrom(status)
    update.slave_id.CopyFrom(slave_id)
    if not status.HasField("slave_id"):
        update.status.slave_id.CopyFrom(slave_id)
    update.timestamp = status.timestamp if status.HasField("timestamp") else clock.now()
    if status.HasField("uuid"):
        update.uuid = status.uuid
    return update


class HttpExecutorSender:
    """The sender of a status update that came from an HTTP executor (Mesos passes `None`
    for its pid): the acknowledgement goes to the executor of the update's task as an
    ACKNOWLEDGED event. Updates the agent generates have no sender (None)."""

    def __str__(self) -> str:
        return "an HTTP executor"


HTTP_EXECUTOR = HttpExecutorSender()

# Who sent a status update: an executor's pid, an HTTP executor, or nobody (the agent).
Sender = UPID | HttpExecutorSender | None


def create_task(task: Any, state: Any, framework_id: Any) -> Any:
    """The `Task` the agent keeps for a `TaskInfo` (port of `protobuf::createTask`)."""
    t = mesos_pb2.Task()
    t.framework_id.CopyFrom(framework_id)
    t.state = state
    t.name = task.name
    t.task_id.CopyFrom(task.task_id)
    t.slave_id.CopyFrom(task.slave_id)
    t.resources.extend(task.resources)
    if task.HasField("executor"):
        t.executor_id.CopyFrom(task.executor.executor_id)
    for name in ("labels", "discovery", "container", "health_check", "kill_policy"):
        if task.HasField(name):
            getattr(t, name).CopyFrom(getattr(task, name))
    if task.HasField("command") and task.command.HasField("user"):
        t.user = task.command.user
    for name, value in task.limits.items():
        t.limits[name].CopyFrom(value)
    return t


def _partition_aware(info: Any) -> bool:
    return has_capability(info, mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE)


# ---------------------------------------------------------------------------------------
# Master detection: the shared detectors of `mesos.detector`, whose `detect(previous)` gives
# a future of the leading `MasterInfo` (None: nobody leads) once it differs from `previous`.
# `--master=host:port` is resolved over HTTP by the standalone detector, `master@ip:port` is
# used as is, `zk://` follows the ZooKeeper election and `file://` names a file holding one
# of those (`StandaloneMasterDetector.appoint` stages a failover in tests).


def create_master_detector(master: str,
                           zk_session_timeout: float = MASTER_DETECTOR_ZK_SESSION_TIMEOUT,
                           ) -> Any:
    """The detector for a `--master` value (port of `MasterDetector::create`); a spawned
    process, terminated with `terminate()`. Raises `DetectorError` (a `ValueError`) for a
    value that names no master."""
    return _create_master_detector(master, zk_session_timeout)


def _resolves_address(detector: Any) -> bool:
    """Whether `detector` finds its master by resolving an HTTP address: it must then be
    told (`lost`) when the master it found dies, to find a master restarted elsewhere (at a
    new transport port). Election-based detectors notice a dead master themselves."""
    process = getattr(detector, "process", None)
    return (getattr(detector, "lost", None) is not None
            and getattr(process, "address", None) is not None)


# ---------------------------------------------------------------------------------------
# The agent's books: frameworks and executors (port of `Framework` and `Executor` in
# `src/slave/slave.hpp`). Plain data, touched only on the agent's thread.


class State(enum.Enum):
    """The agent's state (`Slave::State`)."""

    # Reading checkpointed state and waiting for the recovered executors to reregister.
    RECOVERING = "RECOVERING"
    # No master, or not (re)registered with it yet.
    DISCONNECTED = "DISCONNECTED"
    # Registered with the master.
    RUNNING = "RUNNING"
    # Shutting down: executors are being shut down, then the process terminates.
    TERMINATING = "TERMINATING"


class FrameworkState(enum.Enum):
    """A framework's state on this agent (`Framework::State`)."""

    RUNNING = "RUNNING"
    TERMINATING = "TERMINATING"


class ExecutorState(enum.Enum):
    """An executor's state (`Executor::State`)."""

    # Launched; not registered yet.
    REGISTERING = "REGISTERING"
    # Registered; tasks are sent to it.
    RUNNING = "RUNNING"
    # Asked to shut down (or being destroyed); waiting for its container to end.
    TERMINATING = "TERMINATING"
    # Its container ended; kept until every task's last update is acknowledged.
    TERMINATED = "TERMINATED"


class Executor:
    """One executor run on this agent: its container, pid and tasks (port of `Executor`).

    Tasks move from `queued_tasks` (TaskInfos waiting for the executor) to `launched_tasks`
    (sent to it) to `terminated_tasks` (a terminal update was seen) to `completed_tasks`
    (the terminal update was acknowledged). Touched only on the agent's thread.
    """

    def __init__(self, agent: Agent, framework_id: Any, info: Any, container_id: str,
                 directory: str, checkpoint: bool) -> None:
        self.agent = agent
        self.state = ExecutorState.REGISTERING
        self.id: str = info.executor_id.value
        self.info = _copy(info)
        self.framework_id = _copy(framework_id)
        self.container_id = container_id
        self.directory = directory
        self.checkpoint = checkpoint
        self.pid: UPID | None = None
        # The subscription stream of an HTTP executor (None for a PID executor, or one not
        # subscribed yet); `http_marker`: a recovered executor that was an HTTP executor,
        # expected to subscribe again.
        self.http: ExecutorConnection | None = None
        self.http_marker = False
        self.queued_tasks: dict[str, Any] = {}
        self.launched_tasks: dict[str, Any] = {}
        self.terminated_tasks: dict[str, Any] = {}
        self.completed_tasks: collections.deque[Any] = collections.deque(
            maxlen=MAX_COMPLETED_TASKS_PER_EXECUTOR)
        # Why the agent ended the executor (registration timeout, launch failure, ...): the
        # state, reason and message its remaining tasks are failed with.
        self.pending_termination: ContainerTermination | None = None
        self.generated_for_command_task = is_command_executor(info, agent.flags.launcher_dir)

    def __str__(self) -> str:
        text = f"'{self.id}' of framework {self.framework_id.value}"
        if self.http is not None:
            text += " (via HTTP)"
        elif self.pid is not None:
            text += f" at {self.pid}"
        return text

    def connected(self) -> bool:
        """Whether the agent has a way to reach the executor: a stream or a pid."""
        return self.http is not None or self.pid is not None

    def send(self, message: Any) -> None:
        """Sends what the agent tells its executor (port of `Executor::send`): a v1 event on
        an HTTP executor's stream (evolved from `message`, or `message` itself if it is an
        event), or `message` to a PID executor's pid."""
        if self.http is not None:
            if not self.http.send(message):
                log.warning("Unable to send %s to executor %s: connection closed",
                            message.DESCRIPTOR.name, self)
            return
        if self.pid is None:
            log.warning("Unable to send %s to executor %s because it has no pid",
                        message.DESCRIPTOR.name, self)
            return
        self.agent.send(self.pid, message)

    def close_http_connection(self) -> None:
        """Ends the executor's stream, if any (port of `Executor::closeHttpConnection`)."""
        if self.http is not None:
            self.http.close()
            self.http = None

    def enqueue_task(self, task: Any) -> None:
        self.queued_tasks[task.task_id.value] = _copy(task)
        if self.checkpoint:
            self.checkpoint_task(create_task(task, mesos_pb2.TASK_STAGING, self.framework_id))

    def checkpoint_task(self, task: Any) -> None:
        """Port of `Executor::checkpointTask`: `task.info` of a checkpointing framework's
        task, written before the task can reach the executor."""
        self.agent.checkpoint("task", slave_state.checkpoint_task, self.agent.meta_dir,
                              self.agent.info.id, self.framework_id, self.info.executor_id,
                              self.container_id, task)

    def recover_task(self, state: Any) -> None:
        """Port of `Executor::recoverTask`: a checkpointed task, with the state its
        checkpointed updates left it in. A terminal update already acknowledged completes
        it; the first update not yet acknowledged (the one the status update manager will
        resend) is its `status_update_state`, as the master last heard."""
        if state.info is None:
            log.warning("Skipping recovery of task %s because its info cannot be recovered",
                        state.id)
            return
        task = _copy(state.info)
        self.launched_tasks[state.id] = task
        for update in state.updates:
            error = self.update_task_state(update.status)
            if error is not None:
                # Duplicate terminal updates are checkpointed sometimes: not a problem.
                log.warning("Failed to update state of recovered task '%s' to %s: %s",
                            state.id, _state_name(update.status.state), error)
                continue
            if is_terminal_state(update.status.state):
                if update.uuid in state.acks:
                    self.complete_task(state.id)
                break
        pending = next((u for u in state.updates if u.uuid not in state.acks), None)
        if pending is not None:
            task.status_update_state = pending.status.state
            task.status_update_uuid = pending.uuid

    def dequeue_task(self, task_id: str) -> Any | None:
        return self.queued_tasks.pop(task_id, None)

    def add_launched_task(self, task: Any) -> Any:
        t = create_task(task, mesos_pb2.TASK_STAGING, self.framework_id)
        self.launched_tasks[task.task_id.value] = t
        return t

    def complete_task(self, task_id: str) -> None:
        task = self.terminated_tasks.pop(task_id, None)
        if task is not None:
            log.debug("Completing task %s", task_id)
            self.completed_tasks.append(task)

    def update_task_state(self, status: Any) -> str | None:
        """Records a status on its task (port of `Executor::updateTaskState`); the error
        text if the update cannot apply (unknown task, already terminated, non-terminal
        update for a queued task)."""
        terminal = is_terminal_state(status.state)
        task_id = status.task_id.value
        if task_id in self.queued_tasks:
            if not terminal:
                return "Cannot send non-terminal update for queued task"
            info = self.dequeue_task(task_id)
            task = create_task(info, status.state, self.framework_id)
        elif task_id in self.launched_tasks:
            task = self.launched_tasks[task_id]
            if terminal:
                del self.launched_tasks[task_id]
        elif task_id in self.terminated_tasks:
            return ("Task is already terminated with state "
                    f"{_state_name(self.terminated_tasks[task_id].state)}")
        else:
            return "Task is unknown"

        if task.statuses and task.statuses[-1].state == status.state:
            del task.statuses[-1]
        task.statuses.add().CopyFrom(status)
        task.state = status.state

        if terminal:
            self.terminated_tasks[task_id] = task
            self.agent.metrics.task_terminated(status.state)
        return None

    def incomplete_tasks(self) -> bool:
        return bool(self.queued_tasks or self.launched_tasks or self.terminated_tasks)

    def ever_sent_task(self) -> bool:
        """Whether the executor was ever given a task (port of `everSentTask`)."""
        if self.launched_tasks:
            return True
        for task in list(self.terminated_tasks.values()) + list(self.completed_tasks):
            if any(s.source == TaskStatus.SOURCE_EXECUTOR for s in task.statuses):
                return True
        return False

    def task_resources(self) -> Resources:
        """The resources of the executor's live tasks (queued and launched)."""
        resources = Resources()
        for info in self.queued_tasks.values():
            resources = resources + Resources(info.resources)
        for task in self.launched_tasks.values():
            resources = resources + Resources(task.resources)
        return resources

    def allocated_resources(self) -> Resources:
        """The executor's own resources plus its live tasks' (`allocatedResources`)."""
        return Resources(self.info.resources) + self.task_resources()


class Framework:
    """A framework with executors on this agent (port of `Framework`); agent thread only."""

    def __init__(self, info: Any, pid: UPID | None) -> None:
        self.state = FrameworkState.RUNNING
        self.info = _copy(info)
        self.id: str = info.id.value
        self.pid = pid
        self.executors: dict[str, Executor] = {}
        self.completed_executors: collections.deque[Executor] = collections.deque(
            maxlen=MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK)

    def get_executor(self, executor_id: str) -> Executor | None:
        return self.executors.get(executor_id)

    def get_executor_for_task(self, task_id: str) -> Executor | None:
        for executor in self.executors.values():
            if (task_id in executor.queued_tasks or task_id in executor.launched_tasks
                    or task_id in executor.terminated_tasks):
                return executor
        return None

    def has_task(self, task_id: str) -> bool:
        return self.get_executor_for_task(task_id) is not None

    def idle(self) -> bool:
        return not self.executors

    def destroy_executor(self, executor_id: str) -> None:
        executor = self.executors.pop(executor_id, None)
        if executor is not None:
            self.completed_executors.append(executor)

    def allocated_resources(self) -> Resources:
        resources = Resources()
        for executor in self.executors.values():
            resources = resources + executor.allocated_resources()
        return resources


def is_command_executor(info: Any, launcher_dir: str | None) -> bool:
    """Whether an `ExecutorInfo` is one the agent generated to run a command task (the
    command executor). Mesos tells by the executor's path; so does this port, recognising
    both `<launcher_dir>/mesos-executor` and `python -m mesos.exec.command_executor`."""
    command = info.command
    arguments = list(command.arguments)
    for i, argument in enumerate(arguments[:-1]):
        if argument == "-m" and arguments[i + 1] == COMMAND_EXECUTOR_MODULE:
            return True
    if launcher_dir:
        path = os.path.realpath(os.path.join(launcher_dir, MESOS_EXECUTOR))
        if command.value == path:
            return True
    return False


# ---------------------------------------------------------------------------------------
# Metrics (`src/slave/metrics.cpp`).


class AgentMetrics:
    """The agent's `slave/*` metrics. Counters are bumped on the agent's thread; gauges are
    `PullGauge`s read on it when a snapshot is taken."""

    _COUNTERS = (
        "tasks_finished", "tasks_failed", "tasks_killed", "tasks_lost", "tasks_gone",
        "valid_status_updates", "invalid_status_updates", "valid_framework_messages",
        "invalid_framework_messages", "executors_terminated", "executors_preempted",
        "container_launch_errors", "recovery_errors",
    )

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.counters: dict[str, _metrics.Counter] = {
            name: _metrics.Counter(f"slave/{name}") for name in self._COUNTERS}
        gauges: dict[str, Any] = {
            "uptime_secs": lambda: clock.now() - agent.start_time,
            "registered": lambda: 1.0 if agent.state is State.RUNNING else 0.0,
            "recovery_time_secs": lambda: agent.recovery_time_secs,
            "frameworks_active": lambda: float(len(agent.frameworks)),
            "tasks_staging": lambda: agent._count_tasks(mesos_pb2.TASK_STAGING, queued=True),
            "tasks_starting": lambda: agent._count_tasks(mesos_pb2.TASK_STARTING),
            "tasks_running": lambda: agent._count_tasks(mesos_pb2.TASK_RUNNING),
            "tasks_killing": lambda: agent._count_tasks(mesos_pb2.TASK_KILLING),
            "executors_registering": lambda: agent._count_executors(ExecutorState.REGISTERING),
            "executors_running": lambda: agent._count_executors(ExecutorState.RUNNING),
            "executors_terminating": lambda: agent._count_executors(ExecutorState.TERMINATING),
        }
        for resource in ("cpus", "mem", "disk", "gpus"):
            gauges[f"{resource}_total"] = lambda r=resource: agent._resources_total(r)
            gauges[f"{resource}_used"] = lambda r=resource: agent._resources_used(r)
            gauges[f"{resource}_percent"] = lambda r=resource: agent._resources_percent(r)
        self.gauges = [_metrics.PullGauge(f"slave/{name}", fn, agent)
                       for name, fn in gauges.items()]

    def __getattr__(self, name: str) -> _metrics.Counter:
        counters = self.__dict__.get("counters", {})
        if name in counters:
            return counters[name]
        raise AttributeError(name)

    def add(self) -> None:
        for metric in [*self.counters.values(), *self.gauges]:
            _metrics.add(metric)

    def remove(self) -> None:
        # Another agent of this OS process may have replaced a name since: leave its own.
        for metric in [*self.counters.values(), *self.gauges]:
            if _metrics.get(metric.name) is metric:
                _metrics.remove(metric)

    def task_terminated(self, state: Any) -> None:
        names: dict[Any, str] = {
            mesos_pb2.TASK_FINISHED: "tasks_finished",
            mesos_pb2.TASK_FAILED: "tasks_failed",
            mesos_pb2.TASK_KILLED: "tasks_killed",
            mesos_pb2.TASK_LOST: "tasks_lost",
            mesos_pb2.TASK_GONE: "tasks_gone",
        }
        name = names.get(state)
        if name is None:
            log.error("Unexpected terminal task state %s", _state_name(state))
            return
        self.counters[name].inc()


# ---------------------------------------------------------------------------------------
# The agent.


class Agent(Process):
    """The agent process `slave(N)` (port of `Slave`).

    Owns the agent's state, its `SlaveInfo`, the master's pid, every framework and executor
    on this agent and their tasks, the registration, ping and detection timers, and the
    status update manager and containerizer it was given (or made). Runs on its own thread;
    the containerizer's and detector's threads and the status update manager reach it only
    through `defer`. `exit_status` is set when it terminates on its own: 0 for a requested
    shutdown, 1 for a fatal error (`mesos-agent` exits with it).
    """

    def __init__(self, flags: AgentFlags, detector: Any = None, *,
                 containerizer: PosixContainerizer | None = None,
                 status_update_manager: TaskStatusUpdateManager | None = None,
                 resources: Resources | None = None, id: str | None = None) -> None:
        super().__init__(id or libprocess.ID.generate("slave"))
        self.flags = flags
        # The master detector; made from `--master` when the agent first detects (it is a
        # process, and the agent's OS process starts its runtime after making the agent),
        # and then owned.
        self.detector = detector
        self._owns_detector = detector is None
        self.containerizer = containerizer if containerizer is not None else (
            PosixContainerizer())
        self.status_update_manager = status_update_manager
        self._owns_status_update_manager = status_update_manager is None
        self._resources = resources

        self.state = State.RECOVERING
        self.info = mesos_pb2.SlaveInfo()
        self.total_resources = Resources()
        self.master: UPID | None = None
        # The leading master as detected (its UPID is `master`).
        self.master_info: Any = None
        self.master_ping_timeout = DEFAULT_MASTER_PING_TIMEOUT
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: collections.OrderedDict[str, Framework] = (
            collections.OrderedDict())
        self.start_time = clock.now()
        self.recovery_time_secs = 0.0
        self.exit_status: int | None = None
        self.fatal_error: str | None = None
        self.metrics = AgentMetrics(self)
        self.http: Any = None

        # Checkpoints (`meta/`) and recovery.
        self.meta_dir = paths.get_meta_root_dir(flags.work_dir)
        # Set once recovery is over (`recoveryInfo.recovered`); until then the agent waits
        # for its recovered executors to reregister.
        self.recovered: Promise[None] = Promise()
        # Whether HTTP executors may subscribe (`recoveryInfo.reconnect`): once the
        # containerizer has recovered, when the agent knows which executors it waits for.
        self.recovery_reconnect = False
        self._reregistration_timer: Timer | None = None
        # The runs (`state.RunState`) of the executors being recovered, by container id.
        self._recovered_runs: dict[str, Any] = {}

        self._registration_timer: Timer | None = None
        self._ping_timer: Timer | None = None
        self._ping_token = 0
        self._detection = 0
        self._detection_future: Future[Any] | None = None
        self._detection_timer: Timer | None = None
        self._detection_backoff = DETECTION_RETRY_INTERVAL_MIN
        self._master_hostnames: dict[str, str] = {}

    # Lifecycle.

    def initialize(self) -> None:
        log.info("Mesos agent started on %s", self.upid)
        self.start_time = clock.now()
        if self.upid.host.startswith("127."):
            log.warning("Agent bound to loopback interface! Cannot communicate with remote "
                        "master(s). You might want to set '--ip' flag to a routable IP "
                        "address.")

        flags = self.flags
        if flags.registration_backoff_factor > REGISTER_RETRY_INTERVAL_MAX:
            self._fail(f"Invalid value '{format_duration(flags.registration_backoff_factor)}'"
                       " for --registration_backoff_factor: Must be less than 1mins")
            return

        try:
            os.makedirs(flags.work_dir, exist_ok=True)
        except OSError as e:
            self._fail(f"Failed to create agent work directory '{flags.work_dir}': "
                       f"{e.strerror or e}")
            return

        try:
            resources = self._resources if self._resources is not None else (
                detect_resources(flags.resources, flags.default_role, flags.work_dir))
            attributes = parse_attributes(flags.attributes) if flags.attributes else []
        except ValueError as e:
            self._fail(f"Failed to determine agent resources: {e}")
            return
        self.total_resources = resources
        log.info("Agent resources: %s", resources)

        self.info.hostname = self._hostname()
        self.info.port = libprocess.http_address()[1]
        self.info.resources.extend(resources)
        self.info.attributes.extend(attributes)
        # Checkpointing of agents is always enabled in Mesos.
        self.info.checkpoint = True
        log.info("Agent hostname: %s", self.info.hostname)

        if self.status_update_manager is None:
            self.status_update_manager = TaskStatusUpdateManager(flags.work_dir)
        self.status_update_manager.initialize(defer(self, self.forward))
        # Nothing is forwarded until the agent (re)registers.
        self.status_update_manager.pause()

        self.metrics.add()

        # The protocol table.
        self.install(messages_pb2.SlaveRegisteredMessage, self.registered,
                     "slave_id", "connection")
        self.install(messages_pb2.SlaveReregisteredMessage, self.reregistered,
                     "slave_id", "reconciliations", "connection")
        self.install(messages_pb2.RunTaskMessage, self.run_task)
        self.install(messages_pb2.KillTaskMessage, self.kill_task)
        self.install(messages_pb2.ShutdownExecutorMessage, self.shutdown_executor,
                     "framework_id", "executor_id")
        self.install(messages_pb2.ShutdownFrameworkMessage, self.shutdown_framework,
                     "framework_id")
        self.install(messages_pb2.FrameworkToExecutorMessage, self.scheduler_message,
                     "slave_id", "framework_id", "executor_id", "data")
        self.install(messages_pb2.UpdateFrameworkMessage, self.update_framework)
        self.install(messages_pb2.StatusUpdateAcknowledgementMessage,
                     self.status_update_acknowledgement,
                     "slave_id", "framework_id", "task_id", "uuid")
        self.install(messages_pb2.RegisterExecutorMessage, self.register_executor,
                     "framework_id", "executor_id")
        self.install(messages_pb2.ReregisterExecutorMessage, self.reregister_executor,
                     "framework_id", "executor_id", "tasks", "updates")
        self.install(messages_pb2.StatusUpdateMessage, self.status_update_message,
                     "update", "pid")
        self.install(messages_pb2.ExecutorToFrameworkMessage, self.executor_message,
                     "slave_id", "framework_id", "executor_id", "data")
        self.install(messages_pb2.ShutdownMessage, self.shutdown, "message")
        self.install(messages_pb2.PingSlaveMessage, self.ping, "connected")

        from mesos.agent.http import AgentHttp

        self.http = AgentHttp(self)
        self.http.install()

        # Recover the checkpointed state (executors of checkpointing frameworks that outlived
        # a previous agent); the master is detected only once that is over.
        self.recover()

    def finalize(self) -> None:
        """Port of `Slave::finalize`: the executors of frameworks that do not checkpoint are
        shut down (and, as a terminated agent cannot wait for grace periods, killed); those
        of checkpointing frameworks keep running, for the next agent to recover. An agent
        that was shutting down (the master's ShutdownMessage, SIGUSR1, `--recover=cleanup`)
        removes `meta/slaves/latest`, so that the next one starts as a new agent."""
        log.info("Agent terminating")
        for timer in (self._registration_timer, self._ping_timer, self._detection_timer,
                      self._reregistration_timer):
            if timer is not None:
                timer.cancel()
        if self._owns_detector and self.detector is not None:
            self.detector.terminate()
        doomed: set[str] = set()
        for framework in list(self.frameworks.values()):
            if framework.info.checkpoint and self.state is not State.TERMINATING:
                continue
            for executor in framework.executors.values():
                doomed.add(executor.container_id)
                if executor.connected() and executor.state in (
                        ExecutorState.REGISTERING, ExecutorState.RUNNING):
                    executor.send(messages_pb2.ShutdownExecutorMessage(
                        executor_id=executor.info.executor_id,
                        framework_id=executor.framework_id))
        # The agent's end breaks every HTTP executor's stream, as the end of a real agent
        # process does: those that outlive it subscribe again to the next agent.
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                executor.close_http_connection()
        self.containerizer.destroy_all(doomed)
        if self.state is State.TERMINATING:
            latest = paths.get_latest_slave_path(self.meta_dir)
            if os.path.lexists(latest):
                try:
                    os.unlink(latest)
                except OSError as e:
                    log.error("Failed to remove latest symlink '%s': %s", latest, e)
        if self.status_update_manager is not None and self._owns_status_update_manager:
            self.status_update_manager.finalize()
        self.metrics.remove()

    def _fail(self, message: str) -> None:
        """A fatal error (Mesos's `EXIT(EXIT_FAILURE)`): log it and terminate."""
        log.error("%s", message)
        self.exit_status = 1
        self.fatal_error = message
        libprocess.terminate(self)

    def _hostname(self) -> str:
        if self.flags.hostname:
            return self.flags.hostname
        ip = self.upid.host
        if not self.flags.hostname_lookup:
            return ip
        try:
            return socket.gethostbyaddr(ip)[0]
        except OSError:
            try:
                return socket.gethostname()
            except OSError:
                return ip

    # Checkpointing and recovery (port of `Slave::recover`, `Slave::_recover`,
    # `Slave::reregisterExecutorTimeout` and `Slave::__recover`).

    def checkpoint(self, what: str, fn: Any, *args: Any) -> bool:
        """Runs one checkpoint write (`fn(*args)`, from `mesos.agent.state`); True if it was
        written. A failure is fatal, as Mesos's `CHECK_SOME` on every checkpoint: an agent
        that cannot write its state can no longer promise to recover it."""
        try:
            fn(*args)
        except (OSError, ValueError) as e:
            self._fail(f"Failed to checkpoint {what}: {e}")
            return False
        return True

    def recover(self) -> None:
        """Port of `state::recover` and `Slave::recover`: read the checkpointed state, check
        the recovered `SlaveInfo` against this agent's, and rebuild the frameworks,
        executors and tasks of the latest agent; then replay the status update streams
        (`_recover_status_updates`). Any error ends in `_recovery_failed` (exit 1)."""
        flags = self.flags
        try:
            state = slave_state.recover(self.meta_dir, flags.strict)
        except slave_state.RecoveryError as e:
            self._recovery_failed(str(e))
            return
        except Exception as e:
            log.exception("Failed to read the checkpointed state")
            self._recovery_failed(f"{type(e).__name__}: {e}")
            return
        if state.errors:
            log.warning("Recovered the checkpointed state with %d error(s) (--strict=false)",
                        state.errors)
            self.metrics.recovery_errors.inc(state.errors)

        slave = state.slave
        if slave is not None and slave.info is None:
            if slave.errors:
                # A `--strict=false` recovery could not read `slave.info`: its id is lost.
                log.warning("Starting as a new agent because the info of the latest agent %s "
                            "could not be recovered", slave.id)
            else:
                log.info("The latest agent %s never registered: starting as a new agent",
                         slave.id)
            slave = None
        if slave is not None:
            assert slave.info is not None
            current = _copy(self.info)
            current.id.value = slave.id
            reason = slave_state.compatible(slave.info, current, flags.reconfiguration_policy)
            if reason is None:
                self.info.id.value = slave.id
                if slave.info != current:
                    log.info("Agent info changed compatibly (--reconfiguration_policy=%s)",
                             flags.reconfiguration_policy)
                    if not self.checkpoint("agent info", slave_state.checkpoint_slave_info,
                                           self.meta_dir, self.info):
                        return
            elif state.rebooted:
                # After a reboot nothing of the old agent runs any more: start afresh, and
                # remove the link so that the decision sticks.
                log.warning("Falling back to recover as a new agent due to error: %s", reason)
                slave = None
                try:
                    os.unlink(paths.get_latest_slave_path(self.meta_dir))
                except OSError as e:
                    log.error("Failed to remove the latest agent link: %s", e)
            else:
                self._recovery_failed(
                    f"{reason}\nTo restart this agent with a new agent id instead, do as "
                    f"follows:\nrm -f {paths.get_latest_slave_path(self.meta_dir)}\nThis "
                    "ensures that the agent does not recover old live executors.")
                return

        if slave is not None:
            log.info("Recovering agent %s", slave.id)
            for framework_state in slave.frameworks.values():
                self.recover_framework(framework_state)

        tasks = []
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                run = self._recovered_runs.get(executor.container_id)
                if run is None:
                    continue
                for task in run.tasks.values():
                    if task.info is None or task.updates_path is None:
                        continue
                    tasks.append(CheckpointedTask(
                        framework.info.id, task.info.task_id, task.updates_path,
                        _copy(self.info.id)))
        assert self.status_update_manager is not None
        self.status_update_manager.recover(self.meta_dir, tasks, flags.strict).on_any(
            defer(self, self._recover_containerizer, state.rebooted))

    def recover_framework(self, state: Any) -> None:
        """Port of `Slave::recoverFramework` and `Framework::recoverExecutor`: a framework
        with its executors' latest runs (an executor whose latest run completed is kept
        among the completed ones). A framework or executor whose info was not recovered is
        skipped."""
        log.info("Recovering framework %s", state.id)
        if state.info is None:
            log.warning("Skipping recovery of framework %s because its info could not be "
                        "recovered", state.id)
            return
        if not state.executors:
            return
        info = _copy(state.info)
        if not info.HasField("id"):
            info.id.value = state.id
        framework = Framework(info, state.pid)
        self.frameworks[framework.id] = framework

        for executor_state in state.executors.values():
            what = f"executor '{executor_state.id}' of framework {framework.id}"
            if executor_state.info is None:
                log.warning("Skipping recovery of %s because its info could not be recovered",
                            what)
                continue
            if executor_state.latest is None:
                log.warning("Skipping recovery of %s because its latest run could not be "
                            "recovered", what)
                continue
            run = executor_state.runs.get(executor_state.latest)
            if run is None:
                log.warning("Skipping recovery of %s because its latest run %s cannot be "
                            "recovered", what, executor_state.latest)
                continue
            directory = paths.get_executor_run_path(
                self.flags.work_dir, self.info.id, framework.id, executor_state.id, run.id)
            executor = Executor(self, framework.info.id, executor_state.info, run.id,
                                directory, framework.info.checkpoint)
            if run.forked_pid is not None:
                # Mesos's convention: a pid for a PID executor; none, with the marker, for
                # an HTTP executor, which subscribes again by itself.
                executor.pid = run.libprocess_pid
                executor.http_marker = bool(run.http)
            for task_state in run.tasks.values():
                executor.recover_task(task_state)
            framework.executors[executor.id] = executor
            if run.completed:
                # Terminated, every update acknowledged: nothing to wait for.
                self.metrics.executors_terminated.inc()
                executor.state = ExecutorState.TERMINATED
                framework.destroy_executor(executor.id)
                continue
            self._recovered_runs[run.id] = run
            log.info("Recovered executor %s with %d task(s)", executor,
                     len(executor.launched_tasks) + len(executor.terminated_tasks))

        if framework.idle():
            self.remove_framework(framework)

    def _recover_containerizer(self, rebooted: bool, future: Future[Any]) -> None:
        """The status update streams are replayed: adopt the executors that still run
        (after a reboot none does), then reconnect with them (`_recover_executors`)."""
        if not future.is_ready():
            self._recovery_failed(
                "Failed to recover the task status update manager: "
                f"{future.failure if future.is_failed() else 'discarded'}")
            return
        if self.state is not State.RECOVERING:
            return
        containers = []
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                run = self._recovered_runs.get(executor.container_id)
                containers.append(RecoveredContainer(
                    executor.container_id, executor.directory,
                    None if run is None else run.forked_pid,
                    None if run is None else run.forked_pid_time,
                    executor.allocated_resources()))
        self._recovered_runs = {}
        orphans = [] if rebooted else self._orphan_containers(
            {container.container_id for container in containers})
        adopted = self.containerizer.recover(containers + orphans, rebooted)
        log.info("Recovered %d of %d executor container(s)",
                 len(adopted) - len(adopted & {o.container_id for o in orphans}),
                 len(containers))
        for orphan in orphans:
            if orphan.container_id in adopted:
                log.warning("Destroying orphaned container %s (sandbox '%s'): its executor "
                            "runs but the agent did not recover it", orphan.container_id,
                            orphan.directory)
                self.containerizer.destroy(orphan.container_id).on_any(
                    defer(self, self._orphan_destroyed, orphan.container_id))
            else:
                self.containerizer.forget(orphan.container_id)
        self._recover_executors()

    def _orphan_destroyed(self, container_id: str, future: Future[bool]) -> None:
        if not future.is_ready():
            log.error("Failed to destroy orphaned container %s: %s", container_id,
                      future.failure if future.is_failed() else "discarded")
        self.containerizer.forget(container_id)

    def _orphan_containers(self, recovered: set[str]) -> list[RecoveredContainer]:
        """The checkpointed runs, of any agent of this work directory, that may still have a
        live executor although no recovered executor owns them: their agent, framework or
        executor info could not be recovered (`--strict=false`), or they belong to an agent
        this one does not recover (`slaves/latest` removed). As Mesos's containerizer does
        with the containers it finds but the agent did not recover, they are destroyed; the
        containerizer adopts (and so kills) only a process that is that executor."""
        orphans = []
        for run in slave_state.checkpointed_runs(self.meta_dir):
            if run.container_id in recovered:
                continue
            try:
                directory = paths.get_executor_run_path(
                    self.flags.work_dir, run.slave_id, run.framework_id, run.executor_id,
                    run.container_id)
            except ValueError:
                continue
            orphans.append(RecoveredContainer(run.container_id, directory, run.forked_pid,
                                              run.forked_pid_time))
        return orphans

    def _recover_executors(self) -> None:
        """Port of `Slave::_recover`: watch every recovered executor's container, and send
        ReconnectExecutorMessage to those with a libprocess pid (`--recover=reconnect`;
        HTTP executors subscribe again by themselves), or shut them down (`cleanup`; an
        HTTP executor hears it when it subscribes). Recovery ends when they have all
        reregistered or terminated, or after `--executor_reregistration_timeout` at the
        latest."""
        self.recovery_reconnect = True
        reconnect = self.flags.recover == "reconnect"
        for framework in list(self.frameworks.values()):
            for executor in list(framework.executors.values()):
                self.containerizer.wait(executor.container_id).on_any(defer(
                    self, self.executor_terminated, framework.id, executor.id,
                    executor.container_id))
                if reconnect:
                    if executor.pid is not None:
                        log.info("Sending reconnect request to executor %s", executor)
                        self.send(executor.pid, messages_pb2.ReconnectExecutorMessage(
                            slave_id=self.info.id))
                    elif executor.http_marker:
                        log.info("Waiting for executor %s to subscribe", executor)
                    else:
                        log.info("Unable to reconnect to executor %s because no libprocess "
                                 "pid or HTTP marker was checkpointed", executor)
                elif executor.pid is not None or executor.http_marker:
                    log.info("Sending shutdown to executor %s", executor)
                    self._shutdown_executor(framework, executor)
                else:
                    log.info("Killing executor %s", executor)
                    executor.state = ExecutorState.TERMINATING
                    self.containerizer.destroy(executor.container_id)

        if self.frameworks and reconnect:
            self._reregistration_timer = delay(self.flags.executor_reregistration_timeout,
                                               self, self.reregister_executor_timeout)
            return
        self._recovered()

    def reregister_executor_timeout(self) -> None:
        """Port of `Slave::reregisterExecutorTimeout`: the recovered executors that have not
        reregistered in time are destroyed; their tasks end TASK_LOST (TASK_GONE for
        partition-aware frameworks) with REASON_EXECUTOR_REREGISTRATION_TIMEOUT. Recovery is
        then over."""
        self._reregistration_timer = None
        if self.state is not State.RECOVERING:
            return
        log.info("Cleaning up un-reregistered executors")
        timeout = format_duration(self.flags.executor_reregistration_timeout)
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                if executor.state is not ExecutorState.REGISTERING:
                    continue
                log.info("Killing un-reregistered executor %s", executor)
                self.containerizer.destroy(executor.container_id)
                executor.state = ExecutorState.TERMINATING
                state = (mesos_pb2.TASK_GONE if _partition_aware(framework.info)
                         else mesos_pb2.TASK_LOST)
                executor.pending_termination = ContainerTermination(
                    None, state, TaskStatus.REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
                    f"Executor did not reregister within {timeout}")
        self._recovered()

    def _check_reregistrations(self) -> None:
        """Ends the wait for reregistrations as soon as no recovered executor is still
        expected to reregister (Mesos waits out the whole timeout; ending early changes
        nothing for executors, and brings the agent back to its master sooner)."""
        if self.state is not State.RECOVERING or self._reregistration_timer is None:
            return
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                if executor.state is ExecutorState.REGISTERING:
                    return
        log.info("Every recovered executor has reregistered or terminated")
        self._recovered()

    def _recovery_failed(self, reason: str) -> None:
        """Port of the failure branch of `Slave::__recover`: exit 1 with what to do."""
        latest = paths.get_latest_slave_path(self.meta_dir)
        self._fail(f"Failed to perform recovery: {reason}\nTo remedy this do as follows:\n"
                   f"Step 1: rm -f {latest}\n        This ensures the agent doesn't recover "
                   "old live executors.\nStep 2: Restart the agent.")

    def _recovered(self) -> None:
        """Port of `Slave::__recover`: recovery is over. The boot id is checkpointed; with
        `--recover=reconnect` the agent detects the master and reregisters (registers, if
        nothing was recovered); with `cleanup` it terminates once the executors it shut down
        are gone."""
        if self.state is not State.RECOVERING:
            return
        if self._reregistration_timer is not None:
            self._reregistration_timer.cancel()
            self._reregistration_timer = None
        log.info("Finished recovery")
        try:
            slave_state.checkpoint_boot_id(self.meta_dir)
        except OSError as e:
            log.error("Could not checkpoint the boot id: %s", e)
        self.recovery_time_secs = clock.now() - self.start_time
        self.recovered.set(None)
        if self.flags.recover == "cleanup":
            log.info("Agent recovery mode is 'cleanup': not registering; terminating once "
                     "every recovered executor is gone")
            self.state = State.TERMINATING
            if self.exit_status is None:
                self.exit_status = 0
            if not self.frameworks:
                libprocess.terminate(self)
            return
        self.state = State.DISCONNECTED
        self.detect()

    # Master detection and registration.

    def detect(self) -> None:
        """Detects the leading master from scratch: the detector reports the current one at
        once, and the agent (re)registers with it. Runs after recovery, and when the master
        seems gone (no ping within the timeout, or a ping saying it lost this agent), as
        Mesos's discard of the pending detection does."""
        if self._detection_timer is not None:
            self._detection_timer.cancel()
            self._detection_timer = None
        if self.detector is None:
            try:
                self.detector = create_master_detector(self.flags.master,
                                                       self.flags.zk_session_timeout)
            except (DetectorError, ValueError) as e:
                self._fail(f"Failed to create a master detector for '{self.flags.master}': "
                           f"{e}")
                return
        self._watch(None)

    def _watch(self, previous: Any) -> None:
        """Waits for the leader to differ from `previous` (a `MasterInfo` or None); an
        earlier detection still pending is discarded (its answer would be stale)."""
        if self._detection_future is not None:
            self._detection_future.discard()
        self._detection += 1
        try:
            future = self.detector.detect(previous)
        except Exception as e:
            future = Future.failed(f"{type(e).__name__}: {e}")
        self._detection_future = future
        future.on_any(defer(self, self.detected, self._detection))

    def detected(self, detection: int, future: Future[Any]) -> None:
        """Port of `Slave::detected`: a new leading master (or none). The agent is
        disconnected and its status updates wait; with a master it (re)registers after a
        random wait within `--registration_backoff_factor`; then it keeps detecting."""
        if detection != self._detection:
            return  # Discarded by a newer detection.
        self._detection_future = None
        if self.state is State.RECOVERING:
            return
        if self.state is not State.TERMINATING:
            self.state = State.DISCONNECTED
        # Pause the status updates until the agent is registered again.
        assert self.status_update_manager is not None
        self.status_update_manager.pause()

        if not future.is_ready():
            self.master = None
            self.master_info = None
            if future.is_discarded():
                log.warning("The master detector went away; no more masters are detected")
                return
            log.warning("Failed to detect a master: %s; retrying in %s", future.failure,
                        format_duration(self._detection_backoff))
            self._detection_timer = delay(self._detection_backoff, self, self.detect)
            self._detection_backoff = min(self._detection_backoff * 2,
                                          DETECTION_RETRY_INTERVAL_MAX)
            return
        self._detection_backoff = DETECTION_RETRY_INTERVAL_MIN

        latest = future.value
        pid = _parse_upid(latest.pid) if latest is not None else None
        if latest is None:
            log.info("Lost leading master")
            self.master = None
            self.master_info = None
        elif pid is None:
            log.error("Ignoring the detected master %s because it has no valid pid: '%s'",
                      latest.id, latest.pid)
            self.master = None
            self.master_info = None
        else:
            self.master = pid
            self.master_info = latest
            log.info("New master detected at %s", pid)
            if self._registration_timer is not None:
                self._registration_timer.cancel()
                self._registration_timer = None
            if self.state is State.TERMINATING:
                log.info("Skipping registration because agent is terminating")
            else:
                # Wait a random time first, so that agents do not all hit a new master at
                # once.
                factor = self.flags.registration_backoff_factor
                self._registration_timer = delay(factor * random.random(), self,
                                                 self.do_reliable_registration, factor * 2)

        # Keep detecting masters.
        self._watch(latest)

    def do_reliable_registration(self, max_backoff: float) -> None:
        """Port of `Slave::doReliableRegistration`: (re)registers and retries with a
        randomized exponential backoff until the master answers."""
        self._registration_timer = None
        if self.master is None:
            log.info("Skipping registration because no master present")
            return
        if self.state is State.RUNNING:
            return
        if self.state is State.TERMINATING:
            log.info("Skipping registration because agent is terminating")
            return
        if self.state is not State.DISCONNECTED:
            log.error("Not registering while %s", self.state.value)
            return

        # Linked only now, after the first random wait (MESOS-5330).
        self.link(self.master)

        if not self.info.HasField("id"):
            message = messages_pb2.RegisterSlaveMessage()
            message.version = MESOS_VERSION
            message.slave.CopyFrom(self.info)
            for capability in AGENT_CAPABILITIES:
                message.agent_capabilities.add().type = capability
            log.info("Registering with master %s", self.master)
            self.send(self.master, message)
        else:
            self.send(self.master, self._reregister_message())

        max_backoff = max(min(max_backoff, REGISTER_RETRY_INTERVAL_MAX),
                          MIN_REGISTRATION_BACKOFF)
        wait = max_backoff * random.random()
        log.debug("Will retry registration in %s if necessary", format_duration(wait))
        self._registration_timer = delay(wait, self, self.do_reliable_registration,
                                         max_backoff * 2)

    def _reregister_message(self) -> messages_pb2.ReregisterSlaveMessage:
        message = messages_pb2.ReregisterSlaveMessage()
        message.version = MESOS_VERSION
        for capability in AGENT_CAPABILITIES:
            message.agent_capabilities.add().type = capability
        message.slave.CopyFrom(self.info)
        for framework in self.frameworks.values():
            message.frameworks.add().CopyFrom(framework.info)
            for executor in framework.executors.values():
                for task in executor.launched_tasks.values():
                    message.tasks.add().CopyFrom(task)
                for task in executor.terminated_tasks.values():
                    message.tasks.add().CopyFrom(task)
                for info in executor.queued_tasks.values():
                    message.tasks.add().CopyFrom(
                        create_task(info, mesos_pb2.TASK_STAGING, executor.framework_id))
                # The master does not keep the executors the agent generated for command
                # tasks, and terminated executors use no resources.
                if (not executor.generated_for_command_task
                        and executor.state is not ExecutorState.TERMINATED):
                    info = message.executor_infos.add()
                    info.CopyFrom(executor.info)
                    if not info.HasField("framework_id"):
                        info.framework_id.CopyFrom(executor.framework_id)
        for framework in self.completed_frameworks.values():
            archived = message.completed_frameworks.add()
            archived.framework_info.CopyFrom(framework.info)
            if framework.pid is not None:
                archived.pid = str(framework.pid)
            for executor in framework.completed_executors:
                for task in executor.terminated_tasks.values():
                    archived.tasks.add().CopyFrom(task)
                for task in executor.completed_tasks:
                    archived.tasks.add().CopyFrom(task)
        log.info("Reregistering with master %s", self.master)
        return message

    def _set_ping_timeout(self, connection: Any) -> None:
        if connection.HasField("total_ping_timeout_seconds"):
            self.master_ping_timeout = float(int(connection.total_ping_timeout_seconds))
        else:
            self.master_ping_timeout = DEFAULT_MASTER_PING_TIMEOUT

    def _arm_ping_timer(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        self._ping_token += 1
        self._ping_timer = delay(self.master_ping_timeout, self, self.ping_timeout,
                                 self._ping_token)

    def registered(self, from_: UPID, slave_id: Any, connection: Any) -> None:
        """Port of `Slave::registered` (SlaveRegisteredMessage)."""
        if self.master != from_:
            log.warning("Ignoring registration message from %s because it is not the expected"
                        " master: %s", from_, self.master)
            return
        self._set_ping_timeout(connection)

        if self.state is State.DISCONNECTED:
            log.info("Registered with master %s; given agent ID %s", self.master,
                     slave_id.value)
            try:
                paths.get_slave_path(self.flags.work_dir, slave_id)
            except ValueError:
                self._fail(f"Registered with an invalid agent ID {slave_id.value!r}")
                return
            self.state = State.RUNNING
            if self._registration_timer is not None:
                self._registration_timer.cancel()
                self._registration_timer = None
            assert self.status_update_manager is not None
            self.status_update_manager.resume()
            self.info.id.CopyFrom(slave_id)
            # The agent's own info is always checkpointed, under `slaves/latest`.
            if not self.checkpoint("agent info", slave_state.checkpoint_slave_info,
                                   self.meta_dir, self.info):
                return
            # The agent would reregister if no ping came for that long (in case none ever
            # comes).
            self._arm_ping_timer()
        elif self.state is State.RUNNING:
            if self.info.id.value != slave_id.value:
                self._fail(f"Registered but got wrong id: {slave_id.value} (expected: "
                           f"{self.info.id.value}). Committing suicide")
                return
            log.warning("Already registered with master %s", self.master)
        elif self.state is State.TERMINATING:
            log.warning("Ignoring registration because agent is terminating")
        else:
            log.error("Ignoring registration message from %s because the agent is %s", from_,
                      self.state.value)

    def reregistered(self, from_: UPID, slave_id: Any, reconciliations: Iterable[Any],
                     connection: Any) -> None:
        """Port of `Slave::reregistered` (SlaveReregisteredMessage), including the master's
        reconciliation requests: tasks the master knows and this agent does not get a
        terminal update (TASK_LOST, or TASK_DROPPED for partition-aware frameworks)."""
        if self.master != from_:
            log.warning("Ignoring re-registration message from %s because it is not the "
                        "expected master: %s", from_, self.master)
            return
        if self.info.id.value != slave_id.value:
            self._fail(f"Re-registered but got wrong id: {slave_id.value} (expected: "
                       f"{self.info.id.value}). Committing suicide")
            return
        self._set_ping_timeout(connection)

        if self.state is State.DISCONNECTED:
            log.info("Re-registered with master %s", self.master)
            self.state = State.RUNNING
            if self._registration_timer is not None:
                self._registration_timer.cancel()
                self._registration_timer = None
            assert self.status_update_manager is not None
            self.status_update_manager.resume()
            self._arm_ping_timer()
        elif self.state is State.RUNNING:
            log.warning("Already reregistered with master %s", self.master)
        else:
            log.warning("Ignoring re-registration because agent is %s", self.state.value)
            return

        for reconcile in reconciliations:
            framework = self.frameworks.get(reconcile.framework_id.value)
            for status in reconcile.statuses:
                known = framework is not None and framework.has_task(status.task_id.value)
                if known:
                    continue
                state = mesos_pb2.TASK_LOST
                if reconcile.HasField("framework") and _partition_aware(reconcile.framework):
                    state = mesos_pb2.TASK_DROPPED
                log.warning("Agent reconciling task %s of framework %s in state %s: task "
                            "unknown to the agent", status.task_id.value,
                            reconcile.framework_id.value, _state_name(state))
                update = create_status_update(
                    reconcile.framework_id, self.info.id, status.task_id, state,
                    TaskStatus.SOURCE_SLAVE, "Reconciliation: task unknown to the agent",
                    TaskStatus.REASON_RECONCILIATION)
                # Not through `status_update`, which drops updates of unknown frameworks.
                self._record_update(update, None, checkpoint=False)

    def ping(self, from_: UPID, connected: bool) -> None:
        """Port of `Slave::ping`: answer every ping (even while recovering) with a pong to
        its sender, the master's `slave-observer`; a ping saying the master thinks this
        agent disconnected forces a reregistration (a one-way partition)."""
        log.debug("Received ping from %s", from_)
        if not connected and self.state is State.RUNNING:
            log.info("Master marked the agent as disconnected but the agent considers itself"
                     " registered! Forcing re-registration.")
            self.detect()
        self._arm_ping_timer()
        self.send(from_, messages_pb2.PongSlaveMessage())

    def ping_timeout(self, token: int) -> None:
        if token != self._ping_token:
            return  # A later ping re-armed the timer.
        log.info("No pings from master received within %s",
                 format_duration(self.master_ping_timeout))
        if self.state is not State.TERMINATING:
            self.detect()

    def exited(self, upid: UPID) -> None:
        log.info("Got exited event for %s", upid)
        if self.master is None or self.master == upid:
            log.warning("Master disconnected! Waiting for a new master to be elected")
            if (self.master is not None and self.master_info is not None
                    and self.state is not State.TERMINATING
                    and _resolves_address(self.detector)):
                self.detector.lost(self.master_info)

    def shutdown(self, from_: UPID | None, message: str = "") -> None:
        """Port of `Slave::shutdown`: a ShutdownMessage from the master, or a local request
        (`from_` None, e.g. on SIGTERM), which also unregisters from the master. Every
        framework is shut down; the agent terminates when the last one is gone."""
        if from_ is not None and self.master != from_:
            log.warning("Ignoring shutdown message from %s because it is not from the "
                        "registered master: %s", from_, self.master)
            return
        if from_ is not None:
            log.info("Agent asked to shut down by %s%s", from_,
                     f" because '{message}'" if message else "")
        elif self.info.HasField("id") and self.master is not None:
            log.info("%s; unregistering and shutting down", message or "Shutting down")
            self.send(self.master, messages_pb2.UnregisterSlaveMessage(slave_id=self.info.id))
        else:
            log.info("%s; shutting down", message or "Shutting down")

        self.state = State.TERMINATING
        if self.exit_status is None:
            self.exit_status = 0
        if not self.frameworks:
            libprocess.terminate(self)
            return
        for framework_id in list(self.frameworks):
            self.shutdown_framework(from_, mesos_pb2.FrameworkID(value=framework_id))

    # Running tasks.

    def run_task(self, from_: UPID, message: Any) -> None:
        """Port of `Slave::runTask` (RunTaskMessage from the master)."""
        task = message.task
        if self.master != from_:
            log.warning("Ignoring run task message from %s because it is not the expected "
                        "master: %s", from_, self.master)
            return
        framework_info = _copy(message.framework)
        if not framework_info.HasField("id"):
            if message.HasField("framework_id"):
                framework_info.id.CopyFrom(message.framework_id)
            else:
                log.error("Ignoring run task message from %s because it does not have a "
                          "framework ID", from_)
                return

        if task.HasField("executor") == task.HasField("command"):
            self._refuse_task(framework_info, task, mesos_pb2.TASK_ERROR,
                              TaskStatus.REASON_TASK_INVALID,
                              "Task should have either CommandInfo or ExecutorInfo set but "
                              "not both")
            return
        if (task.HasField("executor") and task.executor.HasField("framework_id")
                and task.executor.framework_id.value != framework_info.id.value):
            self._refuse_task(framework_info, task, mesos_pb2.TASK_ERROR,
                              TaskStatus.REASON_TASK_INVALID,
                              f"ExecutorInfo has an invalid FrameworkID (Actual: "
                              f"{task.executor.framework_id.value} vs Expected: "
                              f"{framework_info.id.value})")
            return

        executor_info = self.get_executor_info(framework_info, task)
        launch_executor = message.launch_executor if message.HasField("launch_executor") \
            else None
        self.run(framework_info, executor_info, task, _parse_upid(message.pid),
                 launch_executor)

    def _refuse_task(self, framework_info: Any, task: Any, state: int, reason: int,
                     text: str) -> None:
        # A task Mesos would crash on (the master validates it): answer with a terminal
        # update straight through the status update manager, so the scheduler hears of it
        # even though no framework or executor exists here for it.
        log.warning("Refusing task %s of framework %s: %s", task.task_id.value,
                    framework_info.id.value, text)
        update = create_status_update(framework_info.id, self.info.id, task.task_id, state,
                                      TaskStatus.SOURCE_SLAVE, text, reason)
        self._record_update(update, None, checkpoint=False)

    def get_executor_info(self, framework_info: Any, task: Any) -> Any:
        """The task's executor, or for a command task the command executor the agent
        generates for it, with the task id as executor id (`Slave::getExecutorInfo`)."""
        if task.HasField("executor"):
            info = _copy(task.executor)
            if not info.HasField("framework_id"):
                info.framework_id.CopyFrom(framework_info.id)
            return info

        executor = mesos_pb2.ExecutorInfo()
        executor.executor_id.value = task.task_id.value
        executor.framework_id.CopyFrom(framework_info.id)
        if task.HasField("container"):
            executor.container.CopyFrom(task.container)

        command = task.command
        name = f"(Task: {task.task_id.value}) "
        if command.shell:
            if not command.HasField("value"):
                name += "(Command: NO COMMAND)"
            elif len(command.value) > 15:
                name += f"(Command: sh -c '{command.value[:12]}...')"
            else:
                name += f"(Command: sh -c '{command.value}')"
        elif not command.HasField("value"):
            name += "(Command: NO EXECUTABLE)"
        else:
            args = command.value + ", " + ", ".join(command.arguments)
            name += (f"(Command: [{args[:12]}...])" if len(args) > 15
                     else f"(Command: [{args}])")
        executor.name = "Command Executor " + name
        executor.source = task.task_id.value

        executor.command.uris.extend(command.uris)
        if command.HasField("environment"):
            executor.command.environment.CopyFrom(command.environment)
        if task.HasField("labels"):
            executor.labels.CopyFrom(task.labels)
        if task.HasField("discovery"):
            executor.discovery.CopyFrom(task.discovery)
        if task.HasField("kill_policy") and task.kill_policy.HasField("grace_period"):
            grace = task.kill_policy.grace_period.nanoseconds + int(
                (MAX_REAP_INTERVAL + 1.0) * 1e9)
            executor.shutdown_grace_period.nanoseconds = grace
        if command.HasField("user"):
            executor.command.user = command.user

        launcher = self.flags.launcher_dir
        path = os.path.realpath(os.path.join(launcher, MESOS_EXECUTOR)) if launcher else None
        if path is not None and os.access(path, os.X_OK):
            executor.command.shell = False
            executor.command.value = path
            executor.command.arguments.extend([MESOS_EXECUTOR, f"--launcher_dir={launcher}"])
        else:
            # The command executor of this port is a Python module; argv[0] must stay the
            # interpreter so that it finds its own virtual environment.
            executor.command.shell = False
            executor.command.value = sys.executable
            executor.command.arguments.extend([sys.executable, "-m", COMMAND_EXECUTOR_MODULE])
            if launcher:
                executor.command.arguments.append(f"--launcher_dir={launcher}")

        # The command executor's own allowance (a small overcommit, as in Mesos).
        overhead = Resources.parse(
            f"cpus:{DEFAULT_EXECUTOR_CPUS};mem:{DEFAULT_EXECUTOR_MEM_MB}")
        role = next((r.allocation_info.role for r in task.resources
                     if r.HasField("allocation_info")), None)
        if role is not None:
            overhead = overhead.allocate(role)
        executor.resources.extend(overhead)
        return executor

    def _inject_allocation_info(self, resources: Any, framework_info: Any) -> str | None:
        roles = framework_roles(framework_info)
        for resource in resources:
            if not resource.HasField("allocation_info"):
                if len(roles) != 1:
                    return (f"Missing 'Resource.AllocationInfo' for resources allocated to "
                            f"MULTI_ROLE framework '{framework_info.name}'")
                resource.allocation_info.role = next(iter(roles))
        return None

    def run(self, framework_info: Any, executor_info: Any, task: Any, pid: UPID | None,
            launch_executor: bool | None = None) -> None:
        """Port of `Slave::run` and `Slave::__run` (there is no asynchronous authorization
        or GC step in between yet): find or make the framework and executor, launch the
        executor if needed, and queue the task for it or send it on."""
        task = _copy(task)
        framework_id = framework_info.id
        error = (self._inject_allocation_info(executor_info.resources, framework_info)
                 or self._inject_allocation_info(task.resources, framework_info))
        if error is not None:
            self._refuse_task(framework_info, task, mesos_pb2.TASK_ERROR,
                              TaskStatus.REASON_TASK_INVALID, error)
            return
        if task.HasField("executor"):
            self._inject_allocation_info(task.executor.resources, framework_info)

        log.info("Got assigned task '%s' for framework %s", task.task_id.value,
                 framework_id.value)

        if task.slave_id.value != self.info.id.value:
            log.warning("Agent %s ignoring running task '%s' because it was intended for old "
                        "agent %s", self.info.id.value, task.task_id.value, task.slave_id.value)
            return

        if self.state in (State.RECOVERING, State.TERMINATING):
            log.warning("Ignoring running task '%s' because the agent is %s",
                        task.task_id.value, self.state.value)
            return

        framework = self.frameworks.get(framework_id.value)
        if framework is None:
            framework = Framework(framework_info, pid)
            self.frameworks[framework.id] = framework
            completed = self.completed_frameworks.pop(framework.id, None)
            if completed is not None:
                framework.completed_executors = completed.completed_executors
            if framework.info.checkpoint and not self.checkpoint(
                    "framework", slave_state.checkpoint_framework, self.meta_dir,
                    self.info.id, framework.info, framework.pid):
                return

        if framework.state is FrameworkState.TERMINATING:
            log.warning("Ignoring running task '%s' of framework %s because the framework is "
                        "terminating", task.task_id.value, framework.id)
            return

        executor_id = executor_info.executor_id.value
        executor = framework.get_executor(executor_id)

        def drop(reason: int, text: str) -> None:
            # Port of `sendTaskDroppedUpdate`: the task never launched.
            state = mesos_pb2.TASK_DROPPED if _partition_aware(framework_info) \
                else mesos_pb2.TASK_LOST
            self.status_update(create_status_update(
                framework_id, self.info.id, task.task_id, state, TaskStatus.SOURCE_SLAVE,
                text, reason, executor_info.executor_id), None)

        def exited_executor_expected() -> None:
            # The master expects a new executor for this task: keep its books right.
            if launch_executor:
                self.send_exited_executor_message(framework_id, executor_info.executor_id)

        # The agent refuses what it does not have: the task's resources (and a custom
        # executor's, when it starts one) must fit in what its running work leaves free.
        requested = Resources(task.resources).unallocate()
        if executor is None and not is_command_executor(executor_info, self.flags.launcher_dir):
            requested = requested + Resources(executor_info.resources).unallocate()
        available = self.total_resources - self._used_resources()
        if not available.contains(requested):
            drop(TaskStatus.REASON_INVALID_OFFERS,
                 f"Task uses more resources ({requested}) than the agent has available "
                 f"({available})")
            if framework.idle():
                self.remove_framework(framework)
            exited_executor_expected()
            return

        if launch_executor is not None:
            command_task = task.HasField("command")
            if command_task and executor is not None:
                drop(TaskStatus.REASON_EXECUTOR_TERMINATED,
                     "Master wants to launch executor, but one already exists")
                return
            if not command_task:
                if launch_executor and executor is not None:
                    drop(TaskStatus.REASON_EXECUTOR_TERMINATED,
                         "Master wants to launch executor, but one already exists")
                    if executor.state is ExecutorState.TERMINATED:
                        self.send_exited_executor_message(framework_id,
                                                          executor_info.executor_id)
                    else:
                        self._shutdown_executor(framework, executor)
                    return
                if not launch_executor and executor is None:
                    drop(TaskStatus.REASON_EXECUTOR_TERMINATED,
                         "No executor is expected to launch and there is none running")
                    if framework.idle():
                        self.remove_framework(framework)
                    return

        if executor is None:
            try:
                executor = self.add_executor(framework, executor_info)
            except (OSError, ValueError) as e:
                drop(TaskStatus.REASON_EXECUTOR_TERMINATED,
                     f"Failed to create executor directory: {e}")
                if framework.idle():
                    self.remove_framework(framework)
                exited_executor_expected()
                return
            self.launch_executor(framework, executor, task)

        if executor.state in (ExecutorState.TERMINATING, ExecutorState.TERMINATED):
            text = executor.state.value.lower()
            log.warning("Asked to run task '%s' for framework %s with executor '%s' which is "
                        "%s", task.task_id.value, framework.id, executor_id, text)
            drop(TaskStatus.REASON_EXECUTOR_TERMINATED, f"Executor {text}")
        elif executor.state is ExecutorState.REGISTERING:
            executor.enqueue_task(task)
            log.info("Queued task '%s' for executor %s", task.task_id.value, executor)
        elif executor.state is ExecutorState.RUNNING:
            executor.enqueue_task(task)
            log.info("Queued task '%s' for executor %s", task.task_id.value, executor)
            self._send_queued_tasks(framework, executor, [task.task_id.value])

    def add_executor(self, framework: Framework, executor_info: Any) -> Executor:
        """Port of `Framework::addExecutor`: a new executor run with a fresh container id and
        its sandbox. Raises `OSError` if the sandbox cannot be made, `ValueError` if an id
        cannot name a directory."""
        container_id = str(uuid.uuid4())
        directory = paths.create_executor_directory(
            self.flags.work_dir, self.info.id, framework.id, executor_info.executor_id,
            container_id)
        executor = Executor(self, framework.info.id, executor_info, container_id, directory,
                            framework.info.checkpoint)
        if executor.checkpoint:
            # `Executor::checkpointExecutor`: the info, then the run's meta directory.
            slave_state.checkpoint_executor(self.meta_dir, self.info.id, framework.id,
                                            executor.info, container_id)
        framework.executors[executor.id] = executor
        log.info("Launching executor '%s' of framework %s with resources %s in work "
                 "directory '%s'", executor.id, framework.id,
                 Resources(executor_info.resources), directory)
        return executor

    def launch_executor(self, framework: Framework, executor: Executor,
                        task: Any | None) -> None:
        """Port of `Slave::launchExecutor`: starts the executor's container and arms its
        registration timeout."""
        info = _copy(executor.info)
        resources = Resources(info.resources)
        if task is not None:
            # The container gets the first task's resources too (MESOS-600).
            resources = resources + Resources(task.resources)
        environment = self.executor_environment(info, executor.directory,
                                                framework.info.checkpoint)
        user = info.command.user if info.command.HasField("user") else (
            framework.info.user or None)
        log.info("Launching container %s for executor '%s' of framework %s",
                 executor.container_id, executor.id, framework.id)
        pid_path = paths.get_forked_pid_path(
            self.meta_dir, self.info.id, framework.id, executor.info.executor_id,
            executor.container_id) if executor.checkpoint else None
        future = self.containerizer.launch(executor.container_id, info.command,
                                           executor.directory, environment, resources, user,
                                           pid_checkpoint_path=pid_path)
        future.on_any(defer(self, self.executor_launched, framework.id, executor.id,
                            executor.container_id))
        delay(self.flags.executor_registration_timeout, self, self.register_executor_timeout,
              framework.id, executor.id, executor.container_id)

    def executor_environment(self, info: Any, directory: str,
                             checkpoint: bool) -> dict[str, str]:
        """The executor's environment (port of `executorEnvironment` plus what the Mesos
        containerizer adds): the agent's `MESOS_*` variables, then the `CommandInfo`'s."""
        flags = self.flags
        environment: dict[str, str] = {}
        ip = os.environ.get("LIBPROCESS_IP") or self.upid.host
        environment["LIBPROCESS_IP"] = ip
        if flags.executor_environment_variables is not None:
            environment.update(flags.executor_environment_variables)
        elif "PYTHONPATH" in os.environ:
            # Executors of this port are Python programs importing `mesos`; an agent run
            # from a source tree lends them its import path.
            environment["PYTHONPATH"] = os.environ["PYTHONPATH"]
        # Bind the executor's libprocess to any free port.
        environment["LIBPROCESS_PORT"] = "0"
        environment["MESOS_FRAMEWORK_ID"] = info.framework_id.value
        environment["MESOS_EXECUTOR_ID"] = info.executor_id.value
        environment["MESOS_DIRECTORY"] = directory
        environment["MESOS_SANDBOX"] = directory
        environment["MESOS_SLAVE_ID"] = self.info.id.value
        environment["MESOS_SLAVE_PID"] = str(self.upid)
        http_ip, http_port = libprocess.http_address()
        environment["MESOS_AGENT_ENDPOINT"] = f"{http_ip}:{http_port}"
        environment["MESOS_CHECKPOINT"] = "1" if checkpoint else "0"
        environment["MESOS_HTTP_COMMAND_EXECUTOR"] = "0"
        grace = flags.executor_shutdown_grace_period
        if info.HasField("shutdown_grace_period"):
            grace = info.shutdown_grace_period.nanoseconds / 1e9
        environment["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] = format_duration(grace)
        if checkpoint:
            environment["MESOS_RECOVERY_TIMEOUT"] = format_duration(flags.recovery_timeout)
            environment["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = format_duration(
                flags.executor_reregistration_timeout)
        for variable in info.command.environment.variables:
            if variable.type == mesos_pb2.Environment.Variable.SECRET:
                log.warning("Ignoring secret environment variable '%s' of executor '%s': "
                            "secrets are not supported", variable.name, info.executor_id.value)
                continue
            environment[variable.name] = variable.value
        environment.setdefault("PATH", DEFAULT_PATH)
        return environment

    def executor_launched(self, framework_id: str, executor_id: str, container_id: str,
                          future: Future[bool]) -> None:
        """Port of `Slave::executorLaunched`: watch the container's end, and handle a launch
        that failed or is no longer wanted."""
        self.containerizer.wait(container_id).on_any(
            defer(self, self.executor_terminated, framework_id, executor_id, container_id))

        if not future.is_ready():
            failure = future.failure if future.is_failed() else "discarded"
            log.error("Container '%s' for executor '%s' of framework %s failed to start: %s",
                      container_id, executor_id, framework_id, failure)
            self.metrics.container_launch_errors.inc()
            self.containerizer.destroy(container_id)
            executor = self._get_executor(framework_id, executor_id)
            if executor is not None:
                executor.pending_termination = ContainerTermination(
                    None, mesos_pb2.TASK_FAILED, TaskStatus.REASON_CONTAINER_LAUNCH_FAILED,
                    f"Failed to launch container: {failure}")
            return

        framework = self.frameworks.get(framework_id)
        if framework is None:
            log.warning("Framework '%s' for executor '%s' is no longer valid", framework_id,
                        executor_id)
            self.containerizer.destroy(container_id)
            return
        if framework.state is FrameworkState.TERMINATING:
            log.warning("Killing executor '%s' of framework %s because the framework is "
                        "terminating", executor_id, framework_id)
            self.containerizer.destroy(container_id)
            return
        executor = framework.get_executor(executor_id)
        if executor is None or executor.container_id != container_id:
            log.warning("Killing unknown executor '%s' of framework %s", executor_id,
                        framework_id)
            self.containerizer.destroy(container_id)
            return
        if executor.state is ExecutorState.TERMINATING:
            log.warning("Killing executor %s because the executor is terminating", executor)
            self.containerizer.destroy(container_id)

    def register_executor_timeout(self, framework_id: str, executor_id: str,
                                  container_id: str) -> None:
        """Port of `Slave::registerExecutorTimeout`: an executor that has not registered in
        `--executor_registration_timeout` is destroyed; its tasks fail with
        REASON_EXECUTOR_REGISTRATION_TIMEOUT."""
        framework = self.frameworks.get(framework_id)
        if framework is None:
            log.info("Framework %s seems to have exited. Ignoring registration timeout for "
                     "executor '%s'", framework_id, executor_id)
            return
        if framework.state is FrameworkState.TERMINATING:
            log.info("Ignoring registration timeout for executor '%s' because the framework "
                     "%s is terminating", executor_id, framework_id)
            return
        executor = framework.get_executor(executor_id)
        if executor is None:
            log.debug("Executor '%s' of framework %s seems to have exited. Ignoring its "
                      "registration timeout", executor_id, framework_id)
            return
        if executor.container_id != container_id:
            log.info("A new executor %s with run %s seems to be active. Ignoring the "
                     "registration timeout for the old executor run %s", executor,
                     executor.container_id, container_id)
            return
        if executor.state is not ExecutorState.REGISTERING:
            return
        timeout = format_duration(self.flags.executor_registration_timeout)
        log.info("Terminating executor %s because it did not register within %s", executor,
                 timeout)
        self.containerizer.destroy(container_id)
        executor.state = ExecutorState.TERMINATING
        executor.pending_termination = ContainerTermination(
            None, mesos_pb2.TASK_FAILED, TaskStatus.REASON_EXECUTOR_REGISTRATION_TIMEOUT,
            f"Executor did not register within {timeout}")

    def _refuse_executor(self, to: UPID, framework_id: Any, executor_id: Any,
                         reason: str) -> None:
        log.warning("Shutting down executor '%s' of framework %s because %s",
                    executor_id.value, framework_id.value, reason)
        self.send(to, messages_pb2.ShutdownExecutorMessage(executor_id=executor_id,
                                                           framework_id=framework_id))

    def _awaited_executor(self, from_: UPID, framework_id: Any,
                          executor_id: Any) -> tuple[Framework, Executor] | None:
        """The framework and executor a (re)registering executor says it is, when this agent
        waits for that executor to (re)register; otherwise the executor is told to shut
        down (ShutdownExecutorMessage) and the answer is None."""
        framework = self.frameworks.get(framework_id.value)
        reason = None
        executor = None
        if framework is None:
            reason = "the framework is unknown"
        elif framework.state is FrameworkState.TERMINATING:
            reason = "the framework is terminating"
        else:
            executor = framework.get_executor(executor_id.value)
            if executor is None:
                reason = "the executor is unknown"
            elif executor.state is not ExecutorState.REGISTERING:
                reason = f"it is in unexpected state {executor.state.value}"
        if reason is not None:
            self._refuse_executor(from_, framework_id, executor_id, reason)
            return None
        assert framework is not None and executor is not None
        return framework, executor

    def _connect_executor(self, framework: Framework, executor: Executor, pid: UPID,
                          checkpoint_pid: bool) -> bool:
        """The executor runs at `pid`: linked, and (for a checkpointing framework, when
        asked) its pid checkpointed, where a restarted agent finds it to reconnect. False
        if that checkpoint failed (the agent is then on its way out)."""
        executor.state = ExecutorState.RUNNING
        executor.pid = pid
        self.link(pid)
        return not (checkpoint_pid and executor.checkpoint and not self.checkpoint(
            "executor pid", slave_state.checkpoint_libprocess_pid, self.meta_dir,
            self.info.id, framework.id, executor.info.executor_id, executor.container_id,
            pid))

    def register_executor(self, from_: UPID, framework_id: Any, executor_id: Any) -> None:
        """Port of `Slave::registerExecutor` (RegisterExecutorMessage): answers
        ExecutorRegisteredMessage and sends the queued tasks, or tells an executor nobody
        expects to shut down."""
        log.info("Got registration for executor '%s' of framework %s from %s",
                 executor_id.value, framework_id.value, from_)
        if self.state is State.RECOVERING:
            self._refuse_executor(from_, framework_id, executor_id,
                                  "the agent is still recovering")
            return
        if self.state is State.TERMINATING:
            self._refuse_executor(from_, framework_id, executor_id, "the agent is terminating")
            return
        awaited = self._awaited_executor(from_, framework_id, executor_id)
        if awaited is None:
            return
        framework, executor = awaited
        if not self._connect_executor(framework, executor, from_, checkpoint_pid=True):
            return

        # An executor with nothing left to run (its tasks were killed meanwhile) is told to
        # go: the command executor would otherwise wait forever for its task.
        if not executor.ever_sent_task() and not executor.queued_tasks:
            log.warning("Shutting down registering executor %s because it has no tasks to run",
                        executor)
            self._shutdown_executor(framework, executor)
            return

        executor.send(self._executor_registered(framework, executor))

        self._send_queued_tasks(framework, executor, list(executor.queued_tasks))

    def reregister_executor(self, from_: UPID, framework_id: Any, executor_id: Any,
                            tasks: Iterable[Any], updates: Iterable[Any]) -> None:
        """Port of `Slave::reregisterExecutor`: a recovered executor answers the restarted
        agent's ReconnectExecutorMessage with the tasks and updates it has no
        acknowledgement for. The agent adopts them (a task it has no checkpoint of is taken
        as launched; updates it recorded already are duplicates the status update manager
        ignores), answers ExecutorReregisteredMessage, and drops the STAGING tasks the
        executor never got. Refused (ShutdownExecutorMessage) unless the agent is recovering
        and waits for that executor."""
        log.info("Received re-registration message from executor '%s' of framework %s",
                 executor_id.value, framework_id.value)
        if self.state is not State.RECOVERING:
            self._refuse_executor(from_, framework_id, executor_id,
                                  f"the agent is not in recovery mode ({self.state.value})")
            return
        awaited = self._awaited_executor(from_, framework_id, executor_id)
        if awaited is None:
            return
        framework, executor = awaited
        # The executor keeps its pid across agent restarts; one that moved (an executor
        # that never had its pid checkpointed) is checkpointed now.
        if not self._connect_executor(framework, executor, from_,
                                      checkpoint_pid=executor.pid != from_):
            return
        message = messages_pb2.ExecutorReregisteredMessage()
        message.slave_id.CopyFrom(self.info.id)
        message.slave_info.CopyFrom(self.info)
        executor.send(message)

        self._adopt_unacknowledged(framework, executor, tasks,
                                   [_copy(update) for update in updates], from_, adopt=True)

        if not executor.ever_sent_task() and not executor.queued_tasks:
            log.warning("Shutting down reregistering executor %s because it has no tasks to "
                        "run and has never been sent a task", executor)
            self._shutdown_executor(framework, executor)

        self._check_reregistrations()

    def _adopt_unacknowledged(self, framework: Framework, executor: Executor,
                              tasks: Iterable[Any], updates: Iterable[Any], sender: Sender,
                              adopt: bool) -> None:
        """What a (re)connecting executor says it has no acknowledgement for (the
        reregistration of `Slave::reregisterExecutor`, the subscription of
        `Slave::subscribe`): its updates are handled again (those the agent recorded already
        are duplicates the status update manager ignores), and the STAGING tasks it never
        got are dropped (TASK_LOST, or TASK_DROPPED for partition-aware frameworks). With
        `adopt` (a reconnection during recovery), a task the agent has no checkpoint of is
        taken as launched."""
        tasks = list(tasks)
        if adopt:
            for info in tasks:
                task_id = info.task_id.value
                if framework.get_executor_for_task(task_id) is None:
                    # Its checkpoint was lost (a non-strict recovery): the executor runs it.
                    log.warning("Adopting task %s of executor %s that the agent did not "
                                "recover", task_id, executor)
                    task = executor.add_launched_task(info)
                    if executor.checkpoint:
                        executor.checkpoint_task(task)

        for update in updates:
            self.status_update(update, sender)

        unacknowledged = {task.task_id.value for task in tasks}
        for task in list(executor.launched_tasks.values()):
            if task.state == mesos_pb2.TASK_STAGING and task.task_id.value not in unacknowledged:
                state = mesos_pb2.TASK_DROPPED if _partition_aware(framework.info) \
                    else mesos_pb2.TASK_LOST
                log.info("Transitioning STAGED task %s to %s because it is unknown to the "
                         "executor '%s'", task.task_id.value, _state_name(state), executor.id)
                self.status_update(create_status_update(
                    framework.info.id, self.info.id, task.task_id, state,
                    TaskStatus.SOURCE_SLAVE, "Task launched during agent restart",
                    TaskStatus.REASON_SLAVE_RESTARTED, executor.info.executor_id), None)

    def subscribe_executor(self, http: ExecutorConnection, subscribe: Any,
                           framework: Framework, executor: Executor) -> None:
        """Port of `Slave::subscribe`: an HTTP executor's SUBSCRIBE (of `executor_api.py`),
        its first one or a new one (after its stream broke, or after an agent restart). The
        executor is RUNNING on the new stream (a previous one is closed), its unacknowledged
        updates and tasks are taken as a reregistration's are, and it gets SUBSCRIBED and its
        queued tasks; an executor nobody expects is told SHUTDOWN on the stream, which then
        ends."""
        log.info("Received Subscribe request for HTTP executor %s", executor)

        def refuse(reason: str) -> None:
            log.warning("Shutting down executor %s because %s", executor, reason)
            http.send(messages_pb2.ShutdownExecutorMessage(
                executor_id=executor.info.executor_id, framework_id=executor.framework_id))
            http.close()

        if self.state is State.TERMINATING:
            refuse("the agent is terminating")
            return
        if framework.state is FrameworkState.TERMINATING:
            refuse("the framework is terminating")
            return
        if executor.state in (ExecutorState.TERMINATING, ExecutorState.TERMINATED):
            refuse(f"it is in unexpected state {executor.state.value}")
            return

        if executor.http is not None:
            log.warning("Closing already existing HTTP connection from executor %s",
                        executor)
            executor.close_http_connection()
        recovering = self.state is State.RECOVERING
        executor.state = ExecutorState.RUNNING
        executor.http = http
        executor.pid = None
        http.start_heartbeat(self)
        http.closed.on_any(defer(self, self._executor_stream_closed, framework.id,
                                 executor.id, http))
        if executor.checkpoint and not self.checkpoint(
                "HTTP marker", slave_state.checkpoint_http_marker, self.meta_dir, self.info.id,
                framework.id, executor.info.executor_id, executor.container_id):
            return

        updates = [status_update_from_status(framework.info.id, update.status, self.info.id)
                   for update in subscribe.unacknowledged_updates]
        self._adopt_unacknowledged(framework, executor, subscribe.unacknowledged_tasks,
                                   updates, HTTP_EXECUTOR, adopt=recovering)

        if not executor.ever_sent_task() and not executor.queued_tasks:
            log.warning("Shutting down executor %s because it has never been sent a task and "
                        "all of its queued tasks have been killed before delivery", executor)
            self._shutdown_executor(framework, executor)
            self._check_reregistrations()
            return

        executor.send(subscribed_event(self._executor_registered(framework, executor),
                                       executor.container_id))

        self._send_queued_tasks(framework, executor, list(executor.queued_tasks))
        self._check_reregistrations()

    def _executor_stream_closed(self, framework_id: str, executor_id: str,
                                http: ExecutorConnection, closed: Future[None]) -> None:
        """An HTTP executor's stream is over (it went away, or the agent closed it). As for
        a PID executor whose link breaks, nothing else happens: the executor may subscribe
        again, and if it is gone its container's end fails its tasks
        (`executor_terminated`). Its heartbeats stop now."""
        http.close()
        executor = self._get_executor(framework_id, executor_id)
        if executor is None or executor.http is not http:
            return
        log.info("Subscription stream of executor %s closed; waiting for it to subscribe "
                 "again or terminate", executor)

    def http_status_update(self, framework_id: Any, status: Any) -> None:
        """An HTTP executor's UPDATE call (validated): the update is handled as a
        StatusUpdateMessage from the executor, and acknowledged on its stream."""
        self.status_update(status_update_from_status(framework_id, status, self.info.id),
                           HTTP_EXECUTOR)

    def _executor_registered(self, framework: Framework,
                             executor: Executor) -> messages_pb2.ExecutorRegisteredMessage:
        """What an executor is told once it registered or subscribed: its own info, its
        framework's and this agent's (an `ExecutorRegisteredMessage`, which a SUBSCRIBED
        event carries for an HTTP executor)."""
        message = messages_pb2.ExecutorRegisteredMessage()
        message.executor_info.CopyFrom(executor.info)
        message.framework_id.CopyFrom(framework.info.id)
        message.framework_info.CopyFrom(framework.info)
        message.slave_id.CopyFrom(self.info.id)
        message.slave_info.CopyFrom(self.info)
        return message

    def _send_queued_tasks(self, framework: Framework, executor: Executor,
                           task_ids: list[str]) -> None:
        """Port of `Slave::___run`: hands queued tasks to a running executor."""
        if framework.state is FrameworkState.TERMINATING:
            return
        if executor.state is not ExecutorState.RUNNING:
            log.warning("Ignoring sending queued tasks to executor %s because the executor is "
                        "in %s state", executor, executor.state.value)
            return
        for task_id in task_ids:
            info = executor.dequeue_task(task_id)
            if info is None:
                log.warning("Ignoring sending queued task '%s' to executor %s because the "
                            "task has been killed", task_id, executor)
                continue
            executor.add_launched_task(info)
            log.info("Sending queued task '%s' to executor %s", task_id, executor)
            message = messages_pb2.RunTaskMessage()
            message.framework_id.CopyFrom(framework.info.id)
            message.framework.CopyFrom(framework.info)
            message.task.CopyFrom(info)
            # Old executors need `pid` set to decode the message, though they ignore it.
            message.pid = str(framework.pid) if framework.pid is not None else ""
            executor.send(message)

    # Killing and shutting down.

    def kill_task(self, from_: UPID, message: Any) -> None:
        """Port of `Slave::killTask` (KillTaskMessage from the master): a task not yet with
        its executor is TASK_KILLED at once; otherwise the executor is asked to kill it."""
        if self.master != from_:
            log.warning("Ignoring kill task message from %s because it is not the expected "
                        "master: %s", from_, self.master)
            return
        framework_id = message.framework_id
        task_id = message.task_id
        log.info("Asked to kill task %s of framework %s", task_id.value, framework_id.value)

        if self.state in (State.RECOVERING, State.TERMINATING):
            log.warning("Cannot kill task %s of framework %s because the agent is %s",
                        task_id.value, framework_id.value, self.state.value)
            return
        framework = self.frameworks.get(framework_id.value)
        if framework is None:
            log.warning("Ignoring kill task %s of framework %s because no such framework is "
                        "running", task_id.value, framework_id.value)
            return
        if framework.state is FrameworkState.TERMINATING:
            log.warning("Ignoring kill task %s of framework %s because the framework is "
                        "terminating", task_id.value, framework_id.value)
            return

        executor = framework.get_executor_for_task(task_id.value)
        if executor is None:
            log.warning("Cannot kill task %s of framework %s because no corresponding "
                        "executor is running", task_id.value, framework_id.value)
            state = mesos_pb2.TASK_DROPPED if _partition_aware(framework.info) \
                else mesos_pb2.TASK_LOST
            self.status_update(create_status_update(
                framework_id, self.info.id, task_id, state, TaskStatus.SOURCE_SLAVE,
                "Cannot find executor", TaskStatus.REASON_EXECUTOR_TERMINATED), None)
            return

        def killed_before_delivery() -> None:
            self.status_update(create_status_update(
                framework_id, self.info.id, task_id, mesos_pb2.TASK_KILLED,
                TaskStatus.SOURCE_SLAVE, "Killed before delivery to the executor",
                TaskStatus.REASON_TASK_KILLED_DURING_LAUNCH, executor.info.executor_id), None)

        if executor.state is ExecutorState.REGISTERING:
            log.warning("Transitioning the state of task %s of framework %s to TASK_KILLED "
                        "because the executor is not registered", task_id.value,
                        framework_id.value)
            killed_before_delivery()
        elif executor.state is ExecutorState.TERMINATING:
            log.warning("Ignoring kill task %s because the executor %s is terminating",
                        task_id.value, executor)
        elif executor.state is ExecutorState.TERMINATED:
            log.warning("Ignoring kill task %s because the executor %s is terminated",
                        task_id.value, executor)
        elif task_id.value in executor.queued_tasks:
            killed_before_delivery()
            if not executor.ever_sent_task() and not executor.queued_tasks:
                log.warning("Shutting down executor %s because it has never been sent a task "
                            "and all of its queued tasks have been killed before delivery",
                            executor)
                self._shutdown_executor(framework, executor)
        else:
            kill = messages_pb2.KillTaskMessage()
            kill.framework_id.CopyFrom(framework_id)
            kill.task_id.CopyFrom(task_id)
            if message.HasField("kill_policy"):
                kill.kill_policy.CopyFrom(message.kill_policy)
            executor.send(kill)

    def shutdown_framework(self, from_: UPID | None, framework_id: Any) -> None:
        """Port of `Slave::shutdownFramework`: shut down every executor of the framework;
        it is removed once they are all gone."""
        if from_ is not None and self.master != from_:
            log.warning("Ignoring shutdown framework message for %s from %s because it is "
                        "not from the registered master (%s)", framework_id.value, from_,
                        self.master)
            return
        log.debug("Asked to shut down framework %s by %s", framework_id.value, from_)
        if self.state in (State.RECOVERING, State.DISCONNECTED):
            log.warning("Ignoring shutdown framework message for %s because the agent has not"
                        " yet registered with the master", framework_id.value)
            return
        framework = self.frameworks.get(framework_id.value)
        if framework is None:
            log.debug("Cannot shut down unknown framework %s", framework_id.value)
            return
        if framework.state is FrameworkState.TERMINATING:
            log.warning("Ignoring shutdown framework %s because it is terminating",
                        framework.id)
            return

        log.info("Shutting down framework %s", framework.id)
        framework.state = FrameworkState.TERMINATING
        for executor in list(framework.executors.values()):
            if executor.state in (ExecutorState.REGISTERING, ExecutorState.RUNNING):
                self._shutdown_executor(framework, executor)
            elif executor.state is ExecutorState.TERMINATED:
                self.remove_executor(framework, executor)
        if framework.idle():
            self.remove_framework(framework)

    def shutdown_executor(self, from_: UPID, framework_id: Any, executor_id: Any) -> None:
        """Port of `Slave::shutdownExecutor` (ShutdownExecutorMessage from the master)."""
        if self.master != from_:
            log.warning("Ignoring shutdown executor message for executor '%s' of framework "
                        "%s from %s because it is not from the registered master (%s)",
                        executor_id.value, framework_id.value, from_, self.master)
            return
        log.info("Asked to shut down executor '%s' of framework %s by %s", executor_id.value,
                 framework_id.value, from_)
        if self.state in (State.RECOVERING, State.DISCONNECTED):
            log.warning("Ignoring shutdown executor message for executor '%s' of framework %s"
                        " because the agent has not yet registered with the master",
                        executor_id.value, framework_id.value)
            return
        framework = self.frameworks.get(framework_id.value)
        if framework is None:
            log.warning("Cannot shut down executor '%s' of unknown framework %s",
                        executor_id.value, framework_id.value)
            return
        if framework.state is FrameworkState.TERMINATING:
            log.warning("Ignoring shutdown executor '%s' of framework %s because the "
                        "framework is terminating", executor_id.value, framework_id.value)
            return
        executor = framework.get_executor(executor_id.value)
        if executor is None:
            log.warning("Ignoring shutdown of unknown executor '%s' of framework %s",
                        executor_id.value, framework_id.value)
            return
        if executor.state in (ExecutorState.TERMINATING, ExecutorState.TERMINATED):
            log.warning("Ignoring shutdown executor '%s' of framework %s because the executor"
                        " is %s", executor_id.value, framework_id.value,
                        executor.state.value.lower())
            return
        self._shutdown_executor(framework, executor)

    def _shutdown_executor(self, framework: Framework, executor: Executor) -> None:
        """Port of `Slave::_shutdownExecutor`: ask the executor to shut down, and destroy
        its container if it is still there after the grace period."""
        log.info("Shutting down executor %s", executor)
        executor.state = ExecutorState.TERMINATING
        # Dropped if the executor has not registered yet: the timeout below still applies.
        if executor.connected():
            executor.send(messages_pb2.ShutdownExecutorMessage(
                executor_id=executor.info.executor_id, framework_id=executor.framework_id))
        grace = self.flags.executor_shutdown_grace_period
        if executor.info.HasField("shutdown_grace_period"):
            grace = executor.info.shutdown_grace_period.nanoseconds / 1e9
        delay(grace, self, self.shutdown_executor_timeout, framework.id, executor.id,
              executor.container_id)

    def shutdown_executor_timeout(self, framework_id: str, executor_id: str,
                                  container_id: str) -> None:
        executor = self._get_executor(framework_id, executor_id)
        if executor is None:
            log.debug("Executor '%s' of framework %s seems to have exited. Ignoring its "
                      "shutdown timeout", executor_id, framework_id)
            return
        if executor.container_id != container_id:
            log.info("A new executor %s with run %s seems to be active. Ignoring the shutdown"
                     " timeout for the old executor run %s", executor, executor.container_id,
                     container_id)
            return
        if executor.state is ExecutorState.TERMINATING:
            log.info("Killing executor %s", executor)
            self.containerizer.destroy(container_id)
        elif executor.state is ExecutorState.TERMINATED:
            log.info("Executor %s has already terminated", executor)

    def executor_terminated(self, framework_id: str, executor_id: str, container_id: str,
                            future: Future[ContainerTermination | None]) -> None:
        """Port of `Slave::executorTerminated`: the executor's container ended. Its live
        tasks fail (TASK_FAILED, REASON_EXECUTOR_TERMINATED unless the agent ended it for
        another reason), the master hears ExitedExecutorMessage (not for command
        executors, which the master does not know), and the executor is removed once all
        its tasks' updates are acknowledged."""
        termination = future.value if future.is_ready() else None
        if not future.is_ready():
            failure = future.failure if future.is_failed() else "discarded"
            log.error("Termination of executor '%s' of framework %s failed: %s", executor_id,
                      framework_id, failure)
            status = None
        elif termination is None:
            log.error("Termination of executor '%s' of framework %s failed: unknown "
                      "container", executor_id, framework_id)
            status = None
        else:
            status = termination.status
            log.info("Executor '%s' of framework %s %s", executor_id, framework_id,
                     wait_status_text(status))

        framework = self.frameworks.get(framework_id)
        if framework is None:
            log.warning("Framework %s for executor '%s' does not exist", framework_id,
                        executor_id)
            self.containerizer.forget(container_id)
            return
        executor = framework.get_executor(executor_id)
        if executor is None or executor.container_id != container_id:
            log.warning("Executor '%s' of framework %s does not exist", executor_id,
                        framework_id)
            self.containerizer.forget(container_id)
            return
        if executor.state is ExecutorState.TERMINATED:
            log.error("Executor '%s' of framework %s terminated twice", executor_id,
                      framework_id)
            return

        self.metrics.executors_terminated.inc()
        executor.state = ExecutorState.TERMINATED
        # Its stream, if it is an HTTP executor, is over with it (Mesos closes it when the
        # executor is destroyed; the executor's process is gone already).
        executor.close_http_connection()

        # No updates for a terminating framework: nobody would acknowledge them.
        if framework.state is not FrameworkState.TERMINATING:
            for task in list(executor.launched_tasks.values()):
                if not is_terminal_state(task.state):
                    self._send_executor_terminated_status_update(
                        task.task_id, future, framework, executor)
            for info in list(executor.queued_tasks.values()):
                self._send_executor_terminated_status_update(
                    info.task_id, future, framework, executor)

        if not executor.generated_for_command_task:
            self.send_exited_executor_message(framework.info.id, executor.info.executor_id,
                                              status)

        if (self.state is State.TERMINATING or framework.state is FrameworkState.TERMINATING
                or not executor.incomplete_tasks()):
            self.remove_executor(framework, executor)
        if framework.idle():
            self.remove_framework(framework)
        self._check_reregistrations()

    def _send_executor_terminated_status_update(
            self, task_id: Any, future: Future[ContainerTermination | None],
            framework: Framework, executor: Executor) -> None:
        termination = future.value if future.is_ready() else None
        pending = executor.pending_termination
        state = (termination.state if termination is not None and termination.state
                 is not None else pending.state if pending is not None and pending.state
                 is not None else mesos_pb2.TASK_FAILED)
        reason = (termination.reason if termination is not None and termination.reason
                  is not None else pending.reason if pending is not None and pending.reason
                  is not None else TaskStatus.REASON_EXECUTOR_TERMINATED)
        messages = []
        if pending is not None and pending.message:
            messages.append(pending.message)
        if not future.is_ready():
            messages.append("Abnormal executor termination: " + (
                future.failure if future.is_failed() else "discarded future"))
        elif termination is None:
            messages.append("Abnormal executor termination: unknown container")
        elif termination.message:
            messages.append(termination.message)
        text = "; ".join(messages) if messages else "Executor terminated"
        self.status_update(create_status_update(
            framework.info.id, self.info.id, task_id, state, TaskStatus.SOURCE_SLAVE, text,
            reason, executor.info.executor_id), None)

    def send_exited_executor_message(self, framework_id: Any, executor_id: Any,
                                     status: int | None = None) -> None:
        message = messages_pb2.ExitedExecutorMessage()
        message.slave_id.CopyFrom(self.info.id)
        message.framework_id.CopyFrom(framework_id)
        message.executor_id.CopyFrom(executor_id)
        message.status = -1 if status is None else status
        if self.master is not None:
            self.send(self.master, message)

    def remove_executor(self, framework: Framework, executor: Executor) -> None:
        """Port of `Slave::removeExecutor` (its sandbox stays until garbage collection,
        which comes with a later issue)."""
        log.info("Cleaning up executor %s", executor)
        # The run is over and its updates acknowledged: a restarted agent skips it.
        if executor.checkpoint and executor.state is ExecutorState.TERMINATED:
            self.checkpoint("executor sentinel", slave_state.mark_executor_completed,
                            self.meta_dir, self.info.id, framework.id, executor.info.executor_id,
                            executor.container_id)
        self.containerizer.forget(executor.container_id)
        framework.destroy_executor(executor.id)

    def remove_framework(self, framework: Framework) -> None:
        """Port of `Slave::removeFramework`: an idle framework moves to the completed ones;
        a terminating agent terminates once it has none left."""
        log.info("Cleaning up framework %s", framework.id)
        assert self.status_update_manager is not None
        self.status_update_manager.cleanup(framework.info.id)
        self.frameworks.pop(framework.id, None)
        self.completed_frameworks.pop(framework.id, None)
        self.completed_frameworks[framework.id] = framework
        while len(self.completed_frameworks) > MAX_COMPLETED_FRAMEWORKS:
            self.completed_frameworks.popitem(last=False)
        if self.state is State.TERMINATING and not self.frameworks:
            libprocess.terminate(self)

    # Status updates.

    def status_update_message(self, from_: UPID, update: Any, pid: str) -> None:
        """StatusUpdateMessage from an executor: `pid` is the executor's, who gets the
        acknowledgement."""
        sender = _parse_upid(pid)
        if sender is None:
            log.warning("Ignoring status update from %s because its pid '%s' is not a valid "
                        "pid", from_, pid)
            self.metrics.invalid_status_updates.inc()
            return
        self.status_update(_copy(update), sender)

    def status_update(self, update: Any, pid: Sender) -> None:
        """Port of `Slave::statusUpdate`: validate an update (from the executor at `pid`,
        from an HTTP executor when `pid` is `HTTP_EXECUTOR`, or generated by the agent when
        `pid` is None), record the task's new state, and hand it to the status update
        manager; the executor is acknowledged once it is recorded. Invalid updates are
        dropped and counted in `slave/invalid_status_updates`."""
        what = (f"status update {_state_name(update.status.state)} (Status UUID: "
                f"{_uuid_text(update.uuid)}) for task {update.status.task_id.value} of "
                f"framework {update.framework_id.value}")
        log.info("Handling %s%s", what, f" from {pid}" if pid is not None else "")

        def invalid(reason: str) -> None:
            log.warning("Ignoring %s%s because %s", what,
                        f" from {pid}" if pid is not None else "", reason)
            self.metrics.invalid_status_updates.inc()

        if not update.uuid:
            invalid("it has no 'uuid'")
            return
        if len(update.uuid) != 16:
            invalid("its 'uuid' is not 16 bytes")
            return
        if update.slave_id.value != self.info.id.value:
            invalid(f"of an agent ID mismatch; expected '{self.info.id.value}', received "
                    f"'{update.slave_id.value}'")
            return
        if update.status.slave_id.value != self.info.id.value:
            invalid(f"of an agent ID mismatch; expected '{self.info.id.value}', received "
                    f"'{update.status.slave_id.value}'")
            return
        if not update.status.task_id.value:
            invalid("it names no task")
            return

        update.status.uuid = update.uuid
        update.status.source = (TaskStatus.SOURCE_SLAVE if pid is None
                                else TaskStatus.SOURCE_EXECUTOR)
        if update.HasField("executor_id"):
            if (update.status.HasField("executor_id")
                    and update.status.executor_id.value != update.executor_id.value):
                log.warning("Executor ID mismatch in status update%s; overwriting received "
                            "'%s' with expected '%s'", f" from {pid}" if pid else "",
                            update.status.executor_id.value, update.executor_id.value)
            update.status.executor_id.CopyFrom(update.executor_id)

        framework = self.frameworks.get(update.framework_id.value)
        if framework is None:
            invalid("the framework is unknown")
            return
        if framework.state is FrameworkState.TERMINATING:
            invalid("the framework is terminating")
            return

        status = update.status
        executor = framework.get_executor_for_task(status.task_id.value)
        if executor is None:
            # Forwarded anyway: the agent generates updates for tasks without an executor
            # (a kill or launch of an unknown task) and the status update manager expects an
            # acknowledgement for them.
            log.warning("Could not find the executor for %s", what)
            self.metrics.valid_status_updates.inc()
            self._record_update(update, pid, checkpoint=False)
            return

        if status.source == TaskStatus.SOURCE_EXECUTOR and status.state == mesos_pb2.TASK_STAGING:
            log.error("Received TASK_STAGING from executor %s which is not allowed. Shutting "
                      "down the executor", executor)
            self.metrics.invalid_status_updates.inc()
            if executor.state in (ExecutorState.REGISTERING, ExecutorState.RUNNING):
                self._shutdown_executor(framework, executor)
            return

        if isinstance(pid, UPID) and executor.pid is not None and executor.pid != pid:
            log.warning("Received %s from %s on behalf of a different executor '%s' (%s)",
                        what, pid, executor.id, executor.pid)

        self.metrics.valid_status_updates.inc()
        self._status_update(update, pid, executor)

    def _status_update(self, update: Any, pid: Sender, executor: Executor) -> None:
        """Port of `Slave::_statusUpdate`: record the task's latest state at once, so the
        master can learn it (from `latest_state`, or a reregistration) before the update
        itself reaches it."""
        error = executor.update_task_state(update.status)
        if error is not None:
            log.error("Failed to update state of task '%s' to %s: %s",
                      update.status.task_id.value, _state_name(update.status.state), error)
            # Acknowledged anyway, so that the executor does not keep it.
            self._status_update_recorded(update, pid, Future.ready(None))
            return
        self._record_update(update, pid, checkpoint=executor.checkpoint, executor=executor)

    def _record_update(self, update: Any, pid: Sender, checkpoint: bool,
                       executor: Executor | None = None) -> None:
        """Port of `Slave::__statusUpdate`: the status update manager records the update
        (and sends it reliably); then the executor is acknowledged. A checkpointing
        executor's update is appended to its task's `task.updates` first."""
        assert self.status_update_manager is not None
        if checkpoint and executor is not None:
            path = task_updates_path(
                self.flags.work_dir, self.info.id, executor.framework_id,
                executor.info.executor_id, mesos_pb2.ContainerID(value=executor.container_id),
                update.status.task_id)
            future = self.status_update_manager.update(update, self.info.id, True, path=path)
        else:
            future = self.status_update_manager.update(update, self.info.id, False)
        future.on_any(defer(self, self._status_update_recorded, update, pid))

    def _status_update_recorded(self, update: Any, pid: Sender,
                                future: Future[Any]) -> None:
        """Port of `Slave::___statusUpdate`: acknowledge the executor that sent the update,
        now that the status update manager has it."""
        what = (f"status update {_state_name(update.status.state)} (Status UUID: "
                f"{_uuid_text(update.uuid)}) for task {update.status.task_id.value} of "
                f"framework {update.framework_id.value}")
        if not future.is_ready():
            log.error("Failed to handle %s: %s", what,
                      future.failure if future.is_failed() else "discarded")
            return
        log.debug("Task status update manager successfully handled %s", what)
        if pid is None:
            return
        message = messages_pb2.StatusUpdateAcknowledgementMessage()
        message.framework_id.CopyFrom(update.framework_id)
        message.slave_id.CopyFrom(update.slave_id)
        message.task_id.CopyFrom(update.status.task_id)
        message.uuid = update.uuid
        if isinstance(pid, UPID):
            log.info("Sending acknowledgement for %s to %s", what, pid)
            self.send(pid, message)
            return
        # An HTTP executor: ACKNOWLEDGED on the stream of the executor of the task.
        framework = self.frameworks.get(update.framework_id.value)
        if framework is None:
            log.warning("Ignoring sending acknowledgement for %s of unknown framework", what)
            return
        executor = framework.get_executor_for_task(update.status.task_id.value)
        if executor is None:
            log.warning("Ignoring sending acknowledgement for %s of unknown executor", what)
            return
        log.info("Sending acknowledgement for %s to executor %s", what, executor)
        executor.send(message)

    def forward(self, update: Any) -> None:
        """Port of `Slave::forward`: the status update manager's head of a stream goes to
        the master, with the task's latest state; dropped unless the agent is registered."""
        what = (f"status update {_state_name(update.status.state)} (Status UUID: "
                f"{_uuid_text(update.uuid)}) for task {update.status.task_id.value} of "
                f"framework {update.framework_id.value}")
        if self.state is not State.RUNNING or self.master is None:
            log.warning("Dropping %s sent by task status update manager because the agent is "
                        "in %s state", what, self.state.value)
            return
        update = _copy(update)
        update.status.uuid = update.uuid
        framework = self.frameworks.get(update.framework_id.value)
        if framework is not None:
            task_id = update.status.task_id.value
            executor = framework.get_executor_for_task(task_id)
            if executor is not None:
                task = (executor.launched_tasks.get(task_id)
                        or executor.terminated_tasks.get(task_id))
                if task is not None:
                    task.status_update_state = update.status.state
                    task.status_update_uuid = update.uuid
                    update.latest_state = task.state
        log.info("Forwarding %s to %s", what, self.master)
        message = messages_pb2.StatusUpdateMessage()
        message.update.CopyFrom(update)
        # The acknowledgement comes back to the agent first.
        message.pid = str(self.upid)
        self.send(self.master, message)

    def status_update_acknowledgement(self, from_: UPID, slave_id: Any, framework_id: Any,
                                      task_id: Any, uuid_bytes: bytes) -> None:
        """Port of `Slave::statusUpdateAcknowledgement` (from the master, on the scheduler's
        behalf): the status update manager moves the task's stream on. The executor is not
        told: it was acknowledged when the update was recorded, as in Mesos."""
        what = (f"status update acknowledgement (UUID: {_uuid_text(uuid_bytes)}) for task "
                f"{task_id.value} of framework {framework_id.value}")
        if from_.id.startswith("master"):
            if self.state is not State.RUNNING:
                log.warning("Dropping %s because the agent is in %s state", what,
                            self.state.value)
                return
            if self.master != from_:
                log.warning("Ignoring %s from %s because it is not the expected master: %s",
                            what, from_, self.master)
                return
        assert self.status_update_manager is not None
        self.status_update_manager.acknowledgement(task_id, framework_id, uuid_bytes).on_any(
            defer(self, self._status_update_acknowledgement, task_id.value,
                  framework_id.value, what))

    def _status_update_acknowledgement(self, task_id: str, framework_id: str, what: str,
                                       future: Future[bool]) -> None:
        if not future.is_ready():
            log.error("Failed to handle %s: %s", what,
                      future.failure if future.is_failed() else "future discarded")
            return
        framework = self.frameworks.get(framework_id)
        if framework is None:
            log.error("The %s is of an unknown framework", what)
            return
        executor = framework.get_executor_for_task(task_id)
        if executor is None:
            log.error("The %s is of an unknown executor", what)
            return
        # A terminal update acknowledged: the task is complete.
        if task_id in executor.terminated_tasks and not future.value:
            executor.complete_task(task_id)
        if executor.state is ExecutorState.TERMINATED and not executor.incomplete_tasks():
            self.remove_executor(framework, executor)
        if framework.idle():
            self.remove_framework(framework)

    # Framework messages and updates.

    def scheduler_message(self, from_: UPID, slave_id: Any, framework_id: Any,
                          executor_id: Any, data: bytes) -> None:
        """Port of `Slave::schedulerMessage`: FrameworkToExecutorMessage to the executor."""
        def invalid(reason: str) -> None:
            log.warning("Dropping message from framework %s because %s", framework_id.value,
                        reason)
            self.metrics.invalid_framework_messages.inc()

        if self.state is not State.RUNNING:
            invalid(f"the agent is in {self.state.value} state")
            return
        framework = self.frameworks.get(framework_id.value)
        if framework is None:
            invalid("framework does not exist")
            return
        if framework.state is FrameworkState.TERMINATING:
            invalid("framework is terminating")
            return
        executor = framework.get_executor(executor_id.value)
        if executor is None:
            invalid(f"executor '{executor_id.value}' does not exist")
            return
        if executor.state is not ExecutorState.RUNNING:
            invalid(f"executor {executor} is not running")
            return
        message = messages_pb2.FrameworkToExecutorMessage()
        message.slave_id.CopyFrom(slave_id)
        message.framework_id.CopyFrom(framework_id)
        message.executor_id.CopyFrom(executor_id)
        message.data = data
        executor.send(message)
        self.metrics.valid_framework_messages.inc()

    def executor_message(self, from_: UPID, slave_id: Any, framework_id: Any,
                         executor_id: Any, data: bytes) -> None:
        """Port of `Slave::executorMessage`: ExecutorToFrameworkMessage to the scheduler
        (straight to a driver's pid, or through the master for HTTP frameworks)."""
        def invalid(reason: str) -> None:
            log.warning("Dropping framework message from executor '%s' to framework %s "
                        "because %s", executor_id.value, framework_id.value, reason)
            self.metrics.invalid_framework_messages.inc()

        if self.state is not State.RUNNING or self.master is None:
            invalid(f"the agent is in {self.state.value} state")
            return
        framework = self.frameworks.get(framework_id.value)
        if framework is None:
            invalid("framework does not exist")
            return
        if framework.state is FrameworkState.TERMINATING:
            invalid("framework is terminating")
            return
        message = messages_pb2.ExecutorToFrameworkMessage()
        message.slave_id.CopyFrom(slave_id)
        message.framework_id.CopyFrom(framework_id)
        message.executor_id.CopyFrom(executor_id)
        message.data = data
        if framework.pid is not None:
            log.info("Sending message for framework %s to %s", framework.id, framework.pid)
            self.send(framework.pid, message)
        else:
            log.info("Sending message for framework %s through the master %s", framework.id,
                     self.master)
            self.send(self.master, message)
        self.metrics.valid_framework_messages.inc()

    def update_framework(self, from_: UPID, message: Any) -> None:
        """Port of `Slave::updateFramework` (UpdateFrameworkMessage after a scheduler
        failover): the new pid and info, and every pending update resent at once."""
        framework_id = message.framework_id.value
        if self.state is not State.RUNNING:
            log.warning("Dropping updateFramework message for %s because the agent is in %s "
                        "state", framework_id, self.state.value)
            self.metrics.invalid_framework_messages.inc()
            return
        if self.master != from_:
            log.warning("Ignoring updateFramework message for %s from %s because it is not "
                        "the expected master: %s", framework_id, from_, self.master)
            return
        framework = self.frameworks.get(framework_id)
        if framework is None:
            log.info("Ignoring info update for framework %s because it does not exist",
                     framework_id)
            return
        if framework.state is FrameworkState.TERMINATING:
            log.warning("Ignoring info update for framework %s because it is terminating",
                        framework_id)
            return
        pid = _parse_upid(message.pid)
        log.info("Updating info for framework %s%s", framework_id,
                 f" with pid updated to {pid}" if pid is not None else "")
        if message.HasField("framework_info"):
            framework.info.CopyFrom(message.framework_info)
        framework.pid = pid
        if framework.info.checkpoint and not self.checkpoint(
                "framework", slave_state.checkpoint_framework, self.meta_dir, self.info.id,
                framework.info, framework.pid):
            return
        assert self.status_update_manager is not None
        self.status_update_manager.resume()

    # Helpers.

    def _get_executor(self, framework_id: str, executor_id: str) -> Executor | None:
        framework = self.frameworks.get(framework_id)
        return framework.get_executor(executor_id) if framework is not None else None

    def _used_resources(self) -> Resources:
        """What the agent's live work holds, unallocated: every task, plus the executors the
        master knows about (a command executor's small allowance is an overcommit)."""
        used = Resources()
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                if executor.state is ExecutorState.TERMINATED:
                    continue
                used = used + executor.task_resources()
                if not executor.generated_for_command_task:
                    used = used + Resources(executor.info.resources)
        return used.unallocate()

    def _count_tasks(self, state: int, queued: bool = False) -> float:
        count = 0
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                if queued:
                    count += len(executor.queued_tasks)
                count += sum(1 for t in executor.launched_tasks.values() if t.state == state)
        return float(count)

    def _count_executors(self, state: ExecutorState) -> float:
        return float(sum(1 for framework in self.frameworks.values()
                         for executor in framework.executors.values()
                         if executor.state is state))

    def _resources_total(self, name: str) -> float:
        return self.total_resources.get_scalar(name) or 0.0

    def _resources_used(self, name: str) -> float:
        used = Resources()
        for framework in self.frameworks.values():
            used = used + framework.allocated_resources()
        return used.get_scalar(name) or 0.0

    def _resources_percent(self, name: str) -> float:
        total = self._resources_total(name)
        return self._resources_used(name) / total if total else 0.0

    def master_hostname(self) -> str | None:
        """The master's hostname for `/state`: the detected one, else looked up once per
        master address."""
        if self.master is None:
            return None
        if self.master_info is not None and self.master_info.hostname:
            return str(self.master_info.hostname)
        host = self.master.host
        name = self._master_hostnames.get(host)
        if name is None:
            try:
                name = socket.gethostbyaddr(host)[0]
            except OSError:
                name = host
            self._master_hostnames[host] = name
        return name
