"""The executor driver: `ExecutorProcess` and its facade `MesosExecutorDriver`.

Port of `src/exec/exec.cpp`. `MesosExecutorDriver` is the drop-in for the official
`mesos.native.MesosExecutorDriver`: same constructor, same methods (each returns a
`mesos_pb2.Status`), same callbacks. An executor is its own OS process, started by an agent
with the executor environment (`MESOS_SLAVE_PID`, `MESOS_FRAMEWORK_ID`, ...); `start()` reads
it, initializes libprocess if needed and spawns the `ExecutorProcess` (`executor(N)`), which
talks to the agent (mesos-behaviour.md §1.4, §2.8) and calls the executor's callbacks on its
own thread, one at a time.

Reliability is the agent's business, as in Mesos: the driver sends each status update once
and keeps it (and every task it was given) until the agent acknowledges it; only a
reregistration with a restarted agent carries the unacknowledged ones again.
"""

from __future__ import annotations

import enum
import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

import libprocess
from libprocess import ID, UPID, Future, Process, Promise, UPIDError, clock, delay, dispatch
from libprocess import spawn as _spawn
from libprocess import terminate as _terminate
from mesos.common.durations import format_duration, parse_duration
from mesos.interface import ExecutorDriver
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

__all__ = [
    "DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
    "RECOVERY_TIMEOUT",
    "ExecutorEnvironment",
    "ExecutorProcess",
    "MesosExecutorDriver",
    "ShutdownProcess",
]

log = logging.getLogger(__name__)

DRIVER_NOT_STARTED = mesos_pb2.DRIVER_NOT_STARTED
DRIVER_RUNNING = mesos_pb2.DRIVER_RUNNING
DRIVER_ABORTED = mesos_pb2.DRIVER_ABORTED
DRIVER_STOPPED = mesos_pb2.DRIVER_STOPPED

# `src/slave/constants.hpp`: what an executor waits for a restarted agent (the agent's
# `--recovery_timeout` reaches it as `MESOS_RECOVERY_TIMEOUT`), and the grace period of a
# shutdown when the agent does not say (`MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`).
RECOVERY_TIMEOUT = 15 * 60.0
DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD = 5.0

_MESOS_VERSION = "1.12.0"


def _copy(message: Any) -> Any:
    out = type(message)()
    out.CopyFrom(message)
    return out


def _uuid_text(value: bytes) -> str:
    try:
        return str(uuid.UUID(bytes=value))
    except ValueError:
        return value.hex()


# The executor environment.


@dataclass(frozen=True)
class ExecutorEnvironment:
    """What an agent tells its executor through the environment (`MESOS_*` variables).

    Built by `parse`, a pure function of the environment; durations are float seconds.
    """

    slave_pid: UPID
    slave_id: str | None
    framework_id: str
    executor_id: str
    directory: str
    checkpoint: bool
    recovery_timeout: float
    shutdown_grace_period: float
    subscription_backoff_max: float | None
    local: bool

    @staticmethod
    def parse(env: Mapping[str, str]) -> ExecutorEnvironment:
        """Reads the executor environment; raises `ValueError` with a one-line message naming
        the variable that is missing or malformed (port of `MesosExecutorDriver::start`)."""

        def required(name: str) -> str:
            value = env.get(name)
            if value is None:
                raise ValueError(f"Expecting '{name}' to be set in the environment")
            return value

        def duration(name: str, default: float | None) -> float | None:
            text = env.get(name)
            if text is None:
                return default
            try:
                return parse_duration(text)
            except ValueError as e:
                raise ValueError(f"Failed to parse value '{text}' of '{name}': {e}") from None

        text = required("MESOS_SLAVE_PID")
        try:
            slave_pid = UPID(text)
        except UPIDError as e:
            raise ValueError(f"Cannot parse MESOS_SLAVE_PID '{text}': {e}") from None
        if not slave_pid:
            raise ValueError(f"Cannot parse MESOS_SLAVE_PID '{text}': expected id@ip:port")

        framework_id = required("MESOS_FRAMEWORK_ID")
        executor_id = required("MESOS_EXECUTOR_ID")
        directory = required("MESOS_DIRECTORY")

        grace = duration("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                         DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD)
        assert grace is not None
        checkpoint = env.get("MESOS_CHECKPOINT") == "1"
        # As in Mesos, the recovery timeout is read only for checkpointing frameworks.
        recovery = RECOVERY_TIMEOUT
        if checkpoint:
            parsed = duration("MESOS_RECOVERY_TIMEOUT", RECOVERY_TIMEOUT)
            assert parsed is not None
            recovery = parsed
        # Only HTTP executors use it; it is validated here so a bad value is reported early.
        backoff_max = duration("MESOS_SUBSCRIPTION_BACKOFF_MAX", None)

        return ExecutorEnvironment(
            slave_pid=slave_pid,
            slave_id=env.get("MESOS_SLAVE_ID"),
            framework_id=framework_id,
            executor_id=executor_id,
            directory=directory,
            checkpoint=checkpoint,
            recovery_timeout=recovery,
            shutdown_grace_period=grace,
            subscription_backoff_max=backoff_max,
            local="MESOS_LOCAL" in env,
        )


# The process.


class State(enum.Enum):
    """The driver's connection with its agent."""

    # `RegisterExecutorMessage` sent; no answer yet.
    REGISTERING = "REGISTERING"
    # Registered or reregistered with the agent.
    CONNECTED = "CONNECTED"
    # The agent exited; a checkpointing executor waits here for a restarted agent.
    DISCONNECTED = "DISCONNECTED"


def _kill_process_group() -> None:
    """Kills this OS process's process group, this process included (the last resort of a
    shutdown). Module-level so that tests, which share the test runner's process group,
    can replace it."""
    log.info("Committing suicide by killing the process group")
    try:
        os.killpg(0, signal.SIGKILL)
    finally:
        # The signal may not be delivered at once; never outlive the grace period.
        os._exit(1)


class ShutdownProcess(Process):
    """`exec-shutdown(N)`: kills the executor's process group once the grace period is over.

    Port of Mesos's `ShutdownProcess`: a process of its own, so the deadline holds even if
    the executor's callbacks block or the driver has been stopped. Runs on its own thread.
    """

    def __init__(self, grace_period: float) -> None:
        super().__init__(ID.generate("exec-shutdown"))
        self.grace_period = grace_period

    def initialize(self) -> None:
        log.info("Scheduling shutdown of the executor in %s",
                 format_duration(self.grace_period))
        delay(self.grace_period, self, self.kill)

    def kill(self) -> None:
        _kill_process_group()


class ExecutorProcess(Process):
    """The driver's actor (`executor(N)`): the conversation with the agent, and callbacks.

    Owns the connection state, the agent's pid and id, the unacknowledged status updates
    and tasks. Everything here runs on this process's thread, including every call into the
    framework's `Executor`. Shared with the facade, as in the C++ driver: `aborted` (a
    `threading.Event` the facade sets on `abort()` so that messages already queued are not
    handed to the executor any more) and `latch` (set when the driver stops or aborts;
    `join()` waits on it).
    """

    def __init__(self, driver: MesosExecutorDriver, executor: Any, env: ExecutorEnvironment,
                 aborted: threading.Event, latch: threading.Event) -> None:
        super().__init__(ID.generate("executor"))
        self.driver = driver
        self.executor = executor
        self.slave = env.slave_pid
        self.slave_id = mesos_pb2.SlaveID()
        if env.slave_id is not None:
            self.slave_id.value = env.slave_id
        self.framework_id = mesos_pb2.FrameworkID(value=env.framework_id)
        self.executor_id = mesos_pb2.ExecutorID(value=env.executor_id)
        self.directory = env.directory
        self.local = env.local
        self.checkpoint = env.checkpoint
        self.recovery_timeout = env.recovery_timeout
        self.shutdown_grace_period = env.shutdown_grace_period
        self.aborted = aborted
        self.latch = latch

        self.state = State.REGISTERING
        # Bumped at every (re)registration, so a recovery timer armed before a
        # reregistration knows it is stale.
        self.connection = 0
        # Set once the executor was asked to shut down: acknowledgements are still recorded
        # then (nothing is called for them), so an executor can wait for its last updates.
        self.shutting_down = False

        # Unacknowledged status updates (uuid bytes -> `StatusUpdate`) and tasks (task id ->
        # `TaskInfo`), in the order they came; a restarted agent gets them back.
        self.updates: dict[bytes, Any] = {}
        self.tasks: dict[str, Any] = {}
        # Promises of `updates_acknowledged`: (task id or None for all, promise).
        self.acknowledgement_waiters: list[tuple[str | None, Promise[None]]] = []

        # Messages ignored because of their sender or the driver's state.
        self.ignored_messages = 0

    # Lifecycle.

    def initialize(self) -> None:
        log.info("Version: %s", _MESOS_VERSION)

        self.install(messages_pb2.ExecutorRegisteredMessage, self.registered,
                     "executor_info", "framework_id", "framework_info", "slave_id",
                     "slave_info")
        self.install(messages_pb2.ExecutorReregisteredMessage, self.reregistered,
                     "slave_id", "slave_info")
        self.install(messages_pb2.ReconnectExecutorMessage, self.reconnect, "slave_id")
        self.install(messages_pb2.RunTaskMessage, self.run_task, "task")
        self.install(messages_pb2.KillTaskMessage, self.kill_task, "task_id")
        self.install(messages_pb2.StatusUpdateAcknowledgementMessage,
                     self.status_update_acknowledgement,
                     "slave_id", "framework_id", "task_id", "uuid")
        self.install(messages_pb2.FrameworkToExecutorMessage, self.framework_message,
                     "slave_id", "framework_id", "executor_id", "data")
        self.install(messages_pb2.ShutdownExecutorMessage, self.shutdown_message)

        log.info("Executor started at %s with pid %d", self.upid, os.getpid())
        self.link(self.slave)

        message = messages_pb2.RegisterExecutorMessage()
        message.framework_id.CopyFrom(self.framework_id)
        message.executor_id.CopyFrom(self.executor_id)
        self.send(self.slave, message)

    def finalize(self) -> None:
        waiters, self.acknowledgement_waiters = self.acknowledgement_waiters, []
        for _, promise in waiters:
            promise.discard()
        # Nobody must wait forever on a driver whose process is gone.
        self.latch.set()

    # The agent's messages.

    def registered(self, from_: UPID, executor_info: Any, framework_id: Any,
                   framework_info: Any, slave_id: Any, slave_info: Any) -> None:
        what = "registered message"
        if not (self._check_aborted(what, from_) and self._from_agent(what, from_)):
            return
        log.info("Executor registered on agent %s", slave_id.value)
        self.state = State.CONNECTED
        self.connection += 1
        self.slave_id.CopyFrom(slave_id)
        self._call("registered", executor_info, framework_info, slave_info)

    def reregistered(self, from_: UPID, slave_id: Any, slave_info: Any) -> None:
        what = "reregistered message"
        if not (self._check_aborted(what, from_) and self._from_agent(what, from_)):
            return
        log.info("Executor reregistered on agent %s", slave_id.value)
        self.state = State.CONNECTED
        self.connection += 1
        self.slave_id.CopyFrom(slave_id)
        self._call("reregistered", slave_info)

    def reconnect(self, from_: UPID, slave_id: Any) -> None:
        """A restarted agent asks for a reregistration: answer with what it has not
        acknowledged (it relaunches nothing the executor already has)."""
        what = "reconnect message"
        if not self._check_aborted(what, from_):
            return
        if self.slave_id.value and slave_id.value != self.slave_id.value:
            self._ignore(what, from_, f"it is from agent {slave_id.value}, not "
                                      f"{self.slave_id.value}")
            return
        log.info("Received reconnect request from agent %s", slave_id.value)

        # The restarted agent may listen at a new address.
        self.slave = from_
        # A fresh connection: the old one may be half-open without us knowing.
        self.link(self.slave, reconnect=True)

        message = messages_pb2.ReregisterExecutorMessage()
        message.executor_id.CopyFrom(self.executor_id)
        message.framework_id.CopyFrom(self.framework_id)
        for update in self.updates.values():
            message.updates.add().CopyFrom(update)
        for task in self.tasks.values():
            message.tasks.add().CopyFrom(task)
        self.send(self.slave, message)

    def run_task(self, from_: UPID, task: Any) -> None:
        what = f"run task message for task {task.task_id.value}"
        if not (self._check_aborted(what, from_) and self._from_agent(what, from_)):
            return
        if self.state is not State.CONNECTED:
            self._ignore(what, from_, f"the driver is {self.state.value.lower()}")
            return
        if task.task_id.value in self.tasks:
            self._ignore(what, from_, "the task is a duplicate")
            return
        self.tasks[task.task_id.value] = _copy(task)
        log.debug("Executor asked to run task '%s'", task.task_id.value)
        self._call("launchTask", task)

    def kill_task(self, from_: UPID, task_id: Any) -> None:
        what = f"kill task message for task {task_id.value}"
        if not (self._check_aborted(what, from_) and self._from_agent(what, from_)):
            return
        # Not dropped while disconnected: the executor may still want to act on it.
        if self.state is not State.CONNECTED:
            log.warning("Executor received kill task message for task %s while %s",
                        task_id.value, self.state.value.lower())
        log.debug("Executor asked to kill task '%s'", task_id.value)
        self._call("killTask", task_id)

    def status_update_acknowledgement(self, from_: UPID, slave_id: Any, framework_id: Any,
                                      task_id: Any, uuid_bytes: bytes) -> None:
        what = (f"status update acknowledgement {_uuid_text(uuid_bytes)} for task "
                f"{task_id.value} of framework {framework_id.value}")
        if self.aborted.is_set() and not self.shutting_down:
            self._ignore(what, from_, "the driver is aborted")
            return
        if not self._from_agent(what, from_):
            return
        if self.state is not State.CONNECTED:
            self._ignore(what, from_, f"the driver is {self.state.value.lower()}")
            return
        if len(uuid_bytes) != 16:
            self._ignore(what, from_, "its uuid is not 16 bytes")
            return
        if uuid_bytes not in self.updates:
            self._ignore(what, from_, "the update is unknown")
            return
        log.debug("Executor received %s", what)
        del self.updates[uuid_bytes]
        self.tasks.pop(task_id.value, None)
        self._notify_acknowledgement_waiters()

    def framework_message(self, from_: UPID, slave_id: Any, framework_id: Any,
                          executor_id: Any, data: bytes) -> None:
        what = "framework message"
        if not (self._check_aborted(what, from_) and self._from_agent(what, from_)):
            return
        if self.state is not State.CONNECTED:
            self._ignore(what, from_, f"the driver is {self.state.value.lower()}")
            return
        self._call("frameworkMessage", data)

    def shutdown_message(self, from_: UPID, message: Any) -> None:
        what = "shutdown message"
        if not (self._check_aborted(what, from_) and self._from_agent(what, from_)):
            return
        log.info("Executor asked to shutdown")
        self._shutdown()

    def exited(self, upid: UPID) -> None:
        """The link to the agent broke: wait for a restarted agent, or shut down."""
        if self.aborted.is_set():
            log.debug("Ignoring the exit of %s because the driver is aborted", upid)
            return
        if upid != self.slave:
            log.debug("Ignoring the exit of %s because it is not the agent %s", upid,
                      self.slave)
            return

        # A checkpointing framework's agent can come back and reconnect (agent recovery).
        if self.checkpoint and self.state is State.CONNECTED:
            self.state = State.DISCONNECTED
            log.info("Agent exited, but framework has checkpointing enabled. Waiting %s to "
                     "reconnect with agent %s", format_duration(self.recovery_timeout),
                     self.slave_id.value)
            delay(self.recovery_timeout, self, self._recovery_timeout, self.connection)
            self._call("disconnected")
            return

        log.info("Agent exited ... shutting down")
        self.state = State.DISCONNECTED
        self._shutdown()

    def _recovery_timeout(self, connection: int) -> None:
        if self.state is State.CONNECTED or self.aborted.is_set():
            return
        # A reregistration since the timer was armed makes it stale.
        if connection != self.connection:
            return
        log.info("Recovery timeout of %s exceeded; Shutting down",
                 format_duration(self.recovery_timeout))
        self._shutdown()

    def _shutdown(self) -> None:
        """Port of `ExecutorProcess::shutdown`: the executor's `shutdown()`, then no more
        messages; the whole process group dies after the grace period (unless local)."""
        self.shutting_down = True
        if not self.local:
            _spawn(ShutdownProcess(self.shutdown_grace_period))
        self._call("shutdown")
        self.aborted.set()
        if self.local:
            self.driver.stop()

    # The facade's calls (dispatched from `MesosExecutorDriver`).

    def send_status_update(self, status: Any) -> None:
        if status.state == mesos_pb2.TASK_STAGING:
            log.error("Executor is not allowed to send TASK_STAGING status updates. "
                      "Aborting!")
            self.driver.abort()
            self._call("error", "Attempted to send TASK_STAGING status update")
            return

        message = messages_pb2.StatusUpdateMessage()
        update = message.update
        update.framework_id.CopyFrom(self.framework_id)
        update.executor_id.CopyFrom(self.executor_id)
        update.slave_id.CopyFrom(self.slave_id)
        update.status.CopyFrom(status)
        update.timestamp = clock.now()
        update.status.timestamp = update.timestamp
        update.status.source = mesos_pb2.TaskStatus.SOURCE_EXECUTOR
        # The driver, not the executor, names each update (the agent dedups on it).
        uuid_bytes = uuid.uuid4().bytes
        update.uuid = uuid_bytes
        update.status.uuid = uuid_bytes
        update.status.slave_id.CopyFrom(self.slave_id)
        message.pid = str(self.upid)

        log.debug("Executor sending status update %s for task %s in state %s",
                  _uuid_text(uuid_bytes), status.task_id.value,
                  mesos_pb2.TaskState.Name(status.state))
        self.updates[uuid_bytes] = _copy(update)
        self.send(self.slave, message)

    def send_framework_message(self, data: bytes) -> None:
        message = messages_pb2.ExecutorToFrameworkMessage()
        message.slave_id.CopyFrom(self.slave_id)
        message.framework_id.CopyFrom(self.framework_id)
        message.executor_id.CopyFrom(self.executor_id)
        message.data = data
        self.send(self.slave, message)

    def updates_acknowledged(self, task_id: str | None) -> Future[None]:
        """A future that is ready once every update sent so far (for `task_id`, or for all
        tasks if None) has been acknowledged; discarded if the driver goes away first."""
        promise: Promise[None] = Promise()
        self.acknowledgement_waiters.append((task_id, promise))
        self._notify_acknowledgement_waiters()
        return promise.future

    def stop(self) -> None:
        _terminate(self)
        self.latch.set()

    def abort(self) -> None:
        log.info("Deactivating the executor libprocess")
        self.latch.set()

    # Helpers.

    def _notify_acknowledgement_waiters(self) -> None:
        pending = {update.status.task_id.value for update in self.updates.values()}
        waiting = []
        for task_id, promise in self.acknowledgement_waiters:
            if (task_id is None and not pending) or (task_id is not None and
                                                     task_id not in pending):
                promise.set(None)
            else:
                waiting.append((task_id, promise))
        self.acknowledgement_waiters = waiting

    def _call(self, name: str, *args: Any) -> None:
        """Calls `executor.<name>(driver, *args)`.

        An exception escaping the callback is logged and aborts the driver, as the official
        Python bindings do (except from `error`, after which the driver is aborted already).
        """
        try:
            getattr(self.executor, name)(self.driver, *args)
        except Exception:
            log.exception("The executor's %s callback raised; aborting the driver", name)
            if name != "error":
                self.driver.abort()

    def _ignore(self, what: str, from_: UPID | None, reason: str) -> None:
        self.ignored_messages += 1
        log.warning("Ignoring %s from %s because %s", what, from_ or "the driver", reason)

    def _check_aborted(self, what: str, from_: UPID) -> bool:
        if not self.aborted.is_set():
            return True
        self.ignored_messages += 1
        log.debug("Ignoring %s from %s because the driver is aborted", what, from_)
        return False

    def _from_agent(self, what: str, from_: UPID) -> bool:
        if from_ == self.slave:
            return True
        self._ignore(what, from_, f"it was not sent from the agent ({self.slave})")
        return False


# The facade.


def _message(value: Any, cls: type[Message], what: str) -> Any:
    """A private copy of a protobuf argument; raises if it is not a `cls` or not initialized.

    The copy goes through the wire format, so a message of another module with the same
    type (another `mesos_pb2`) is accepted too.
    """
    name = cls.DESCRIPTOR.full_name
    if getattr(getattr(value, "DESCRIPTOR", None), "full_name", None) != name:
        raise TypeError(f"Expected a {name} for {what}, got {type(value).__name__}")
    out = cls()
    out.ParseFromString(value.SerializeToString())
    return out


def _line_buffered() -> None:
    """Flushes stdout and stderr at each newline, so that an executor's output reaches its
    sandbox files promptly even though they are not terminals (as `setvbuf` in Mesos)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(line_buffering=True)
            except (ValueError, OSError):
                pass


class MesosExecutorDriver(ExecutorDriver):
    """The executor driver of the official Python bindings (`mesos.native`), on this port.

    `MesosExecutorDriver(executor)` reads the executor environment (`MESOS_SLAVE_PID`,
    `MESOS_FRAMEWORK_ID`, `MESOS_EXECUTOR_ID`, `MESOS_DIRECTORY`, `MESOS_CHECKPOINT`,
    `MESOS_RECOVERY_TIMEOUT`, `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`, ...) on `start()`; the
    keyword `environment` (a mapping, as the C++ constructor's second form) replaces
    `os.environ`. Owns the driver's status (guarded by a lock, so every method is safe from
    any thread, including from a callback) and the `ExecutorProcess` it spawns; the
    executor's callbacks run on that process's thread.
    """

    def __init__(self, executor: Any, *, environment: Mapping[str, str] | None = None) -> None:
        self._lock = threading.RLock()
        self._executor = executor
        self._environment = dict(os.environ if environment is None else environment)
        self._process: ExecutorProcess | None = None
        self._aborted = threading.Event()
        self._latch = threading.Event()
        self._status = DRIVER_NOT_STARTED

    @property
    def process(self) -> ExecutorProcess | None:
        """The driver's process once started (for tests and debugging)."""
        return self._process

    def _error(self, message: str) -> None:
        try:
            self._executor.error(self, message)
        except Exception:
            log.exception("The executor's error callback raised")

    def start(self) -> int:
        """Starts the driver. Returns `DRIVER_ABORTED` (and calls the executor's `error`)
        when the environment lacks a required variable or has a malformed one."""
        with self._lock:
            if self._status != DRIVER_NOT_STARTED:
                return self._status
            _line_buffered()
            try:
                env = ExecutorEnvironment.parse(self._environment)
            except ValueError as e:
                log.error("Failed to start the executor driver: %s", e)
                self._status = DRIVER_ABORTED
                self._error(str(e))
                return self._status

            # An executor is an OS process of its own: the runtime may not be up yet. Nobody
            # reads an executor's HTTP endpoints, so none are served unless
            # `LIBPROCESS_HTTP=1` asks for them (it saves a third of a second per launch).
            libprocess.initialize(http=os.environ.get("LIBPROCESS_HTTP") == "1")
            self._process = ExecutorProcess(self, self._executor, env, self._aborted,
                                            self._latch)
            _spawn(self._process)
            self._status = DRIVER_RUNNING
            return self._status

    def stop(self) -> int:
        with self._lock:
            if self._status not in (DRIVER_RUNNING, DRIVER_ABORTED):
                return self._status
            assert self._process is not None
            dispatch(self._process, self._process.stop)
            aborted = self._status == DRIVER_ABORTED
            self._status = DRIVER_STOPPED
            return DRIVER_ABORTED if aborted else DRIVER_STOPPED

    def abort(self) -> int:
        with self._lock:
            if self._status != DRIVER_RUNNING:
                return self._status
            assert self._process is not None
            # Set here, not on the process's thread, so that no further message reaches the
            # executor; requests the executor made before still go out (queued before).
            self._aborted.set()
            dispatch(self._process, self._process.abort)
            self._status = DRIVER_ABORTED
            return self._status

    def join(self) -> int:
        with self._lock:
            if self._status != DRIVER_RUNNING:
                return self._status
        self._latch.wait()
        with self._lock:
            return self._status

    def run(self) -> int:
        status = self.start()
        return status if status != DRIVER_RUNNING else self.join()

    def sendStatusUpdate(self, status: Any) -> int:
        task_status = _message(status, mesos_pb2.TaskStatus, "status")
        with self._lock:
            if self._status != DRIVER_RUNNING:
                return self._status
            assert self._process is not None
            dispatch(self._process, self._process.send_status_update, task_status)
            return self._status

    def sendFrameworkMessage(self, data: Any) -> int:
        if isinstance(data, str):
            data = data.encode()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"Expected bytes for data, got {type(data).__name__}")
        with self._lock:
            if self._status != DRIVER_RUNNING:
                return self._status
            assert self._process is not None
            dispatch(self._process, self._process.send_framework_message, bytes(data))
            return self._status

    def awaitAcknowledgements(self, taskId: Any = None) -> Future[None]:
        """Extension (not in the official bindings): a future that is ready once every
        status update sent so far (for `taskId`, a `TaskID`, or for every task) has been
        acknowledged by the agent. Failed if the driver is not running.

        The command executor waits on it before it exits, so that its terminal update is
        safely with the agent.
        """
        task_id = None if taskId is None else _message(taskId, mesos_pb2.TaskID,
                                                       "taskId").value
        with self._lock:
            if self._process is None or self._status not in (DRIVER_RUNNING,
                                                             DRIVER_ABORTED):
                return Future.failed(f"The driver is {mesos_pb2.Status.Name(self._status)}")
            return dispatch(self._process, self._process.updates_acknowledged, task_id)
