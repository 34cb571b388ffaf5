"""The agent's task status update manager: the `task-status-update-manager(N)` process and the
`TaskStatusUpdateManager` facade the agent holds.

Port of `TaskStatusUpdateManager` / `TaskStatusUpdateManagerProcess`
(src/slave/task_status_update_manager.{hpp,cpp}). It makes every status update an executor sends
reach the master at least once and in order per task: one `TaskStatusUpdateStream` per task
(the pure core, `mesos.agent.status_update_stream`), only the stream's head in flight, the head
resent on the libprocess clock until the scheduler's acknowledgement comes back (10 s, doubling,
capped at 10 min), every stream paused while the agent has no master and all heads resent at
once on `resume()`. For checkpointing frameworks each update and acknowledgement is appended to
the task's `task.updates` before it is acknowledged to anybody, and `recover()` replays those
files after an agent restart.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import libprocess
from libprocess import ID, Future, Process, Timer
from mesos.agent.status_update_stream import (
    CheckpointError,
    StatusUpdateStreamError,
    TaskStatusUpdateStream,
    describe,
    format_uuid,
)
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

__all__ = [
    "STATUS_UPDATE_RETRY_INTERVAL_MAX",
    "STATUS_UPDATE_RETRY_INTERVAL_MIN",
    "CheckpointedTask",
    "TaskStatusUpdateManager",
    "TaskStatusUpdateManagerProcess",
    "task_updates_path",
]

log = logging.getLogger(__name__)

# src/slave/constants.hpp: the first resend of an unacknowledged head, then doubling up to the
# maximum; there is no retry limit.
STATUS_UPDATE_RETRY_INTERVAL_MIN = 10.0
STATUS_UPDATE_RETRY_INTERVAL_MAX = 10 * 60.0

Forward = Callable[[messages_pb2.StatusUpdate], Any]


def task_updates_path(work_dir: str, slave_id: mesos_pb2.SlaveID,
                      framework_id: mesos_pb2.FrameworkID, executor_id: mesos_pb2.ExecutorID,
                      container_id: mesos_pb2.ContainerID, task_id: mesos_pb2.TaskID) -> str:
    """`<work_dir>/meta/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>/tasks/<tid>/
    task.updates`, as `paths::getTaskUpdatesPath(paths::getMetaRootDir(work_dir), ...)`."""
    return os.path.join(work_dir, "meta", "slaves", slave_id.value, "frameworks",
                        framework_id.value, "executors", executor_id.value, "runs",
                        container_id.value, "tasks", task_id.value, "task.updates")


@dataclass(frozen=True)
class CheckpointedTask:
    """One task whose `task.updates` the agent found while recovering its state: what
    `recover()` needs to rebuild its stream. A relative `path` is taken under `root`."""

    framework_id: mesos_pb2.FrameworkID
    task_id: mesos_pb2.TaskID
    path: str
    slave_id: mesos_pb2.SlaveID | None = None


@dataclass
class _Retry:
    """The resend timer of one stream's head: cancelled on acknowledgement and on pause."""

    timer: Timer
    interval: float
    token: int


def _key(framework_id: mesos_pb2.FrameworkID, task_id: mesos_pb2.TaskID) -> tuple[str, str]:
    return (framework_id.value, task_id.value)


class TaskStatusUpdateManagerProcess(Process):
    """The process `task-status-update-manager(N)` (port of `TaskStatusUpdateManagerProcess`).

    Owns every task's `TaskStatusUpdateStream` (keyed by framework then task), the resend timer
    of each stream's head, the `paused` flag and the `forward` callback. Everything runs on this
    process's thread, reached through the `TaskStatusUpdateManager` facade; `forward` is called
    on this thread too (the agent passes a `defer` so it lands on the agent's).
    """

    def __init__(self, work_dir: str | None = None) -> None:
        super().__init__(ID.generate("task-status-update-manager"))
        self.work_dir = work_dir
        self.paused = False
        self.forward_: Forward | None = None
        self.streams: dict[str, dict[str, TaskStatusUpdateStream]] = {}
        self._retries: dict[tuple[str, str], _Retry] = {}
        self._tokens = 0

    def finalize(self) -> None:
        for retry in self._retries.values():
            retry.timer.cancel()
        self._retries.clear()
        for tasks in self.streams.values():
            for stream in tasks.values():
                stream.close()
        self.streams.clear()

    # The API (each reached by one dispatch from the facade).

    def initialize_forward(self, forward: Forward) -> None:
        """Port of `initialize(forward)`: the callback each forwarded update is given to."""
        self.forward_ = forward

    def pause(self) -> None:
        """Stops forwarding and resending until `resume()` (the agent lost its master)."""
        log.info("Pausing sending task status updates")
        self.paused = True
        for retry in self._retries.values():
            retry.timer.cancel()
        self._retries.clear()

    def resume(self) -> None:
        """Forwards every stream's head again at once, each with a fresh resend interval."""
        log.info("Resuming sending task status updates")
        self.paused = False
        for tasks in list(self.streams.values()):
            for stream in list(tasks.values()):
                if stream.pending:
                    log.warning("Resending task status update %s", describe(stream.pending[0]))
                    self.forward(stream, STATUS_UPDATE_RETRY_INTERVAL_MIN)

    def update(self, update: messages_pb2.StatusUpdate, slave_id: mesos_pb2.SlaveID,
               checkpoint: bool = False, executor_id: mesos_pb2.ExecutorID | None = None,
               container_id: mesos_pb2.ContainerID | None = None,
               path: str | None = None) -> Future[None] | None:
        """Port of `_update`: records (and checkpoints) the update, then forwards it at once if
        it is its stream's head and the manager is not paused.

        Ready once the update is recorded, also for a duplicate (the agent still acknowledges
        it to the executor); failed when the stream refuses it (no uuid, a checkpoint write
        error, a checkpoint flag different from the stream's, a closed stream).
        """
        task_id = update.status.task_id
        framework_id = update.framework_id
        log.info("Received task status update %s", describe(update))

        stream = self._stream(framework_id, task_id)
        if stream is None:
            checkpoint_path: str | None = None
            if checkpoint:
                checkpoint_path = path or self._checkpoint_path(
                    update, slave_id, executor_id, container_id)
                if checkpoint_path is None:
                    return Future.failed(
                        f"Cannot checkpoint task status update {describe(update)}: no "
                        "work_dir, executor id and container id to place 'task.updates' under")
            stream = self._create_stream(task_id, framework_id, slave_id, checkpoint_path)

        # A task's updates are all checkpointed or none is; a mix means an agent bug.
        if stream.checkpoint != checkpoint:
            return Future.failed(
                f"Mismatched checkpoint value for task status update {describe(update)} "
                f"(expected checkpoint={stream.checkpoint} actual checkpoint={checkpoint})")

        try:
            if not stream.update(update):
                return None
        except StatusUpdateStreamError as e:
            return Future.failed(str(e))

        # Only a new head goes out now; the updates behind it go when it is acknowledged.
        if not self.paused and len(stream.pending) == 1:
            self.forward(stream, STATUS_UPDATE_RETRY_INTERVAL_MIN)
        return None

    def acknowledgement(self, task_id: mesos_pb2.TaskID, framework_id: mesos_pb2.FrameworkID,
                        uuid: bytes) -> Future[bool] | bool:
        """Port of `acknowledgement`: acknowledges the head and forwards the next update.

        True when handled and the stream stays open; False when handled and the acknowledged
        update was terminal, which closes the stream. Failed when there is no stream for the
        task (never created, or cleaned up), nothing is pending, or the uuid is a duplicate or
        does not match the head (stale): those are ignored and forward nothing.
        """
        log.info("Received task status update acknowledgement (UUID: %s) for task %s of "
                 "framework %s", format_uuid(uuid), task_id.value, framework_id.value)

        stream = self._stream(framework_id, task_id)
        if stream is None:
            return Future.failed(
                f"Cannot find the task status update stream for task {task_id.value} of "
                f"framework {framework_id.value}")

        try:
            head = stream.next()
            if head is None:
                return Future.failed(
                    f"Unexpected task status update acknowledgement (UUID: {format_uuid(uuid)})"
                    f" for task {task_id.value} of framework {framework_id.value}")
            if not stream.acknowledgement(task_id, framework_id, uuid, head):
                reason = ("it is a duplicate" if uuid in stream.acknowledged else
                          f"the pending update has UUID {format_uuid(head.uuid)}")
                return Future.failed(
                    f"Ignoring task status update acknowledgement (UUID: {format_uuid(uuid)}) "
                    f"for task {task_id.value} of framework {framework_id.value} because "
                    f"{reason}")
            following = stream.next()
        except StatusUpdateStreamError as e:
            return Future.failed(str(e))

        self._cancel_retry(framework_id, task_id)

        if stream.terminated:
            if following is not None:
                log.warning("Acknowledged a terminal task status update %s but updates are "
                            "still pending", describe(head))
            self._cleanup_stream(framework_id, task_id)
        elif not self.paused and following is not None:
            self.forward(stream, STATUS_UPDATE_RETRY_INTERVAL_MIN)
        return not stream.terminated

    def recover(self, root: str, state: Iterable[CheckpointedTask] | None,
                strict: bool = True) -> Future[None] | None:
        """Rebuilds the streams of checkpointed tasks from their `task.updates` files.

        Pending updates are not forwarded here: they go out when the agent reregisters and
        calls `resume()`. Streams whose terminal update was acknowledged are dropped; a task
        with no update is skipped. Fails with the file and reason when a file cannot be read
        (strict) or replayed; a non-strict read recovers up to a truncated or corrupt record.
        """
        log.info("Recovering task status update manager")
        if state is None:
            return None

        for task in state:
            path = task.path if os.path.isabs(task.path) else os.path.join(root, task.path)
            what = f"task {task.task_id.value} of framework {task.framework_id.value}"
            if self._stream(task.framework_id, task.task_id) is not None:
                log.warning("Skipping recovering the task status updates of %s because its "
                            "stream exists already", what)
                continue
            try:
                stream, errors = TaskStatusUpdateStream.recover(
                    task.task_id, task.framework_id, task.slave_id, path, strict)
            except (CheckpointError, StatusUpdateStreamError, OSError) as e:
                return Future.failed(f"Failed to replay status updates for {what}: {e}")
            if errors:
                log.warning("Recovered the task status updates of %s from '%s' with %d "
                            "error(s)", what, path, errors)
            if not stream.received:
                log.warning("No status updates found for %s", what)
                stream.close()
                continue
            if stream.terminated:
                stream.close()
                continue
            self.streams.setdefault(task.framework_id.value, {})[task.task_id.value] = stream
        return None

    def cleanup(self, framework_id: mesos_pb2.FrameworkID) -> None:
        """Closes every stream of the framework; their pending updates are no longer resent."""
        log.info("Closing task status update streams for framework %s", framework_id.value)
        for task_value in list(self.streams.get(framework_id.value, {})):
            self._cleanup_stream(framework_id, mesos_pb2.TaskID(value=task_value))

    # Forwarding and resending.

    def forward(self, stream: TaskStatusUpdateStream, interval: float) -> None:
        """Gives the stream's head (with `latest_state`) to `forward`, then arms its resend
        after `interval` of clock time."""
        if self.paused:
            raise RuntimeError("Forwarding a task status update while paused")
        update = stream.next_to_forward()
        if update is None:
            return
        log.debug("Forwarding task status update %s to the agent", describe(update))
        if self.forward_ is None:
            log.warning("Not forwarding task status update %s because no forward callback is "
                        "set", describe(update))
        else:
            try:
                self.forward_(update)
            except Exception:
                log.exception("The forward callback failed for task status update %s",
                              describe(update))

        key = _key(stream.framework_id, stream.task_id)
        self._cancel_retry(stream.framework_id, stream.task_id)
        self._tokens += 1
        timer = libprocess.delay(interval, self, self.timeout, key[0], key[1], self._tokens,
                                 interval)
        self._retries[key] = _Retry(timer, interval, self._tokens)

    def timeout(self, framework: str, task: str, token: int, interval: float) -> None:
        """Resends a head that was not acknowledged within `interval` (bounded exponential
        backoff). A timer that was cancelled or replaced (the head was acknowledged, the
        manager paused, the stream closed) finds a different token and does nothing."""
        retry = self._retries.get((framework, task))
        if retry is None or retry.token != token or self.paused:
            return
        del self._retries[(framework, task)]
        stream = self.streams.get(framework, {}).get(task)
        if stream is None or not stream.pending:
            return
        log.warning("Resending task status update %s", describe(stream.pending[0]))
        self.forward(stream, min(interval * 2, STATUS_UPDATE_RETRY_INTERVAL_MAX))

    # Helpers.

    def _checkpoint_path(self, update: messages_pb2.StatusUpdate, slave_id: mesos_pb2.SlaveID,
                         executor_id: mesos_pb2.ExecutorID | None,
                         container_id: mesos_pb2.ContainerID | None) -> str | None:
        if executor_id is None and update.HasField("executor_id"):
            executor_id = update.executor_id
        if self.work_dir is None or executor_id is None or container_id is None:
            return None
        return task_updates_path(self.work_dir, slave_id, update.framework_id, executor_id,
                                 container_id, update.status.task_id)

    def _stream(self, framework_id: mesos_pb2.FrameworkID,
                task_id: mesos_pb2.TaskID) -> TaskStatusUpdateStream | None:
        return self.streams.get(framework_id.value, {}).get(task_id.value)

    def _create_stream(self, task_id: mesos_pb2.TaskID, framework_id: mesos_pb2.FrameworkID,
                       slave_id: mesos_pb2.SlaveID,
                       path: str | None) -> TaskStatusUpdateStream:
        log.debug("Creating status update stream for task %s of framework %s", task_id.value,
                  framework_id.value)
        stream = TaskStatusUpdateStream(task_id, framework_id, slave_id, path)
        self.streams.setdefault(framework_id.value, {})[task_id.value] = stream
        return stream

    def _cancel_retry(self, framework_id: mesos_pb2.FrameworkID,
                      task_id: mesos_pb2.TaskID) -> None:
        retry = self._retries.pop(_key(framework_id, task_id), None)
        if retry is not None:
            retry.timer.cancel()

    def _cleanup_stream(self, framework_id: mesos_pb2.FrameworkID,
                        task_id: mesos_pb2.TaskID) -> None:
        log.debug("Cleaning up status update stream for task %s of framework %s",
                  task_id.value, framework_id.value)
        self._cancel_retry(framework_id, task_id)
        tasks = self.streams.get(framework_id.value, {})
        stream = tasks.pop(task_id.value, None)
        if not tasks:
            self.streams.pop(framework_id.value, None)
        if stream is not None:
            stream.close()


class TaskStatusUpdateManager:
    """The facade the agent holds (port of `TaskStatusUpdateManager`).

    Spawns and owns a `TaskStatusUpdateManagerProcess`; every method is one `dispatch` onto it
    and returns the future of the call, so it may be called from any thread (normally the
    agent's). `work_dir` is the agent's `--work_dir`, under which checkpointed updates go.
    """

    def __init__(self, work_dir: str | None = None) -> None:
        self.process = TaskStatusUpdateManagerProcess(work_dir)
        libprocess.spawn(self.process)

    def finalize(self, timeout: float = 10.0) -> None:
        """Terminates the process and waits (real time) for it to finish."""
        libprocess.terminate(self.process)
        libprocess.wait(self.process, timeout)

    def initialize(self, forward: Forward) -> Future[None]:
        """Sets the callback each update to forward to the master is given to."""
        return libprocess.dispatch(self.process, self.process.initialize_forward, forward)

    def update(self, update: messages_pb2.StatusUpdate, slave_id: mesos_pb2.SlaveID,
               checkpoint: bool = False, executor_id: mesos_pb2.ExecutorID | None = None,
               container_id: mesos_pb2.ContainerID | None = None,
               path: str | None = None) -> Future[None]:
        """Records the update (appending it to `task.updates` when `checkpoint`) and sends it
        reliably. The file is `path`, or the Mesos path under `work_dir` for `executor_id`
        (default: the update's) and `container_id`. Ready once recorded, duplicates included;
        failed when the update is refused."""
        return libprocess.dispatch(self.process, self.process.update, _copy_update(update),
                                   _copy(mesos_pb2.SlaveID, slave_id), checkpoint,
                                   _copy_opt(mesos_pb2.ExecutorID, executor_id),
                                   _copy_opt(mesos_pb2.ContainerID, container_id), path)

    def acknowledgement(self, task_id: mesos_pb2.TaskID, framework_id: mesos_pb2.FrameworkID,
                        uuid: bytes) -> Future[bool]:
        """True: handled, stream open; False: handled, a terminal update closed the stream;
        failed: unknown stream, nothing pending, duplicate or stale uuid."""
        return libprocess.dispatch(self.process, self.process.acknowledgement,
                                   _copy(mesos_pb2.TaskID, task_id),
                                   _copy(mesos_pb2.FrameworkID, framework_id), bytes(uuid))

    def recover(self, root: str, state: Iterable[CheckpointedTask] | None,
                strict: bool = True) -> Future[None]:
        """Rebuilds the checkpointed streams; their heads go out at the next `resume()`."""
        tasks = None if state is None else list(state)
        return libprocess.dispatch(self.process, self.process.recover, root, tasks, strict)

    def pause(self) -> Future[None]:
        return libprocess.dispatch(self.process, self.process.pause)

    def resume(self) -> Future[None]:
        return libprocess.dispatch(self.process, self.process.resume)

    def cleanup(self, framework_id: mesos_pb2.FrameworkID) -> Future[None]:
        return libprocess.dispatch(self.process, self.process.cleanup,
                                   _copy(mesos_pb2.FrameworkID, framework_id))


def _copy(cls: Any, message: Any) -> Any:
    # The caller keeps its message; the process works on its own copy.
    copy = cls()
    copy.CopyFrom(message)
    return copy


def _copy_opt(cls: Any, message: Any) -> Any:
    return None if message is None else _copy(cls, message)


def _copy_update(update: messages_pb2.StatusUpdate) -> messages_pb2.StatusUpdate:
    return _copy(messages_pb2.StatusUpdate, update)
