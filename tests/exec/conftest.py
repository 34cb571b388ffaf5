"""Helpers for the executor driver's and the command executor's tests.

Like Mesos's `src/tests/fault_tolerance_tests.cpp` and `command_executor_tests.cpp`: the
executor talks to a `FakeAgent` process living in the test's OS process, which records what
it receives (read with `agent.next(MessageClass)`) and can answer as an agent does
(register, acknowledge updates). `RecordingExecutor` records the driver's callbacks (read
with `executor.next("launchTask")`). For integration tests, `start_command_executor` runs
the command executor as a real OS process pointed at a fake agent.

Every test in this directory runs with `_kill_process_group` replaced: the driver's last
resort (SIGKILL to its own process group) must never reach the test runner.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from libprocess import ID, UPID, Process, dispatch, spawn
from mesos.exec import driver as driver_module
from mesos.exec.driver import MesosExecutorDriver
from mesos.interface import Executor, mesos_pb2
from mesos.protos.messages import messages_pb2

FRAMEWORK_ID = "fake-framework-0000"
EXECUTOR_ID = "fake-executor"
SLAVE_ID = "fake-agent-S0"

DRIVER_RUNNING = mesos_pb2.DRIVER_RUNNING
DRIVER_STOPPED = mesos_pb2.DRIVER_STOPPED
DRIVER_ABORTED = mesos_pb2.DRIVER_ABORTED

TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def suicides(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replaces the driver's process-group kill with a recorder; the list grows by one per
    kill the driver would have done."""
    calls: list[int] = []
    monkeypatch.setattr(driver_module, "_kill_process_group", lambda: calls.append(1))
    return calls


def framework_info(*capabilities: int, checkpoint: bool = False) -> Any:
    info = mesos_pb2.FrameworkInfo(user="tester", name="fake framework",
                                   checkpoint=checkpoint)
    info.id.value = FRAMEWORK_ID
    for capability in capabilities:
        info.capabilities.add().type = capability  # type: ignore[assignment]
    return info


def executor_info() -> Any:
    info = mesos_pb2.ExecutorInfo()
    info.executor_id.value = EXECUTOR_ID
    info.framework_id.value = FRAMEWORK_ID
    info.command.value = "mesos-executor"
    return info


def task_info(task_id: str, command: str | None = None, *, shell: bool = True,
              arguments: list[str] | None = None, grace_period: float | None = None) -> Any:
    task = mesos_pb2.TaskInfo(name=task_id)
    task.task_id.value = task_id
    task.slave_id.value = SLAVE_ID
    if command is not None:
        task.command.value = command
        task.command.shell = shell
        task.command.arguments.extend(arguments or [])
    if grace_period is not None:
        task.kill_policy.grace_period.nanoseconds = int(grace_period * 1e9)
    return task


def task_status(task_id: str, state: int, message: str | None = None) -> Any:
    status = mesos_pb2.TaskStatus(state=state)  # type: ignore[arg-type]
    status.task_id.value = task_id
    if message is not None:
        status.message = message
    return status


class FakeAgent(Process):
    """Stands in for the agent (`slave(N)`): records every message an executor sends it,
    answers `RegisterExecutorMessage` with `ExecutorRegisteredMessage` (unless
    `auto_register` is off) and acknowledges every status update to the update's `pid`
    (unless `auto_acknowledge` is off). Runs on its own thread; `next`, `tell` and
    `acknowledge` are safe from the test's thread."""

    def __init__(self, id: str | None = None, *, framework: Any = None,
                 auto_register: bool = True, auto_acknowledge: bool = True) -> None:
        super().__init__(id or ID.generate("slave"))
        self.framework = framework if framework is not None else framework_info()
        self.auto_register = auto_register
        self.auto_acknowledge = auto_acknowledge
        self.executor_pid: UPID | None = None
        self._lock = threading.Lock()
        self._queues: defaultdict[str, queue.Queue[tuple[UPID, Any]]] = defaultdict(
            queue.Queue)

    def initialize(self) -> None:
        self.install(messages_pb2.RegisterExecutorMessage, self.register_executor)
        self.install(messages_pb2.ReregisterExecutorMessage, self.reregister_executor)
        self.install(messages_pb2.StatusUpdateMessage, self.status_update)
        self.install(messages_pb2.ExecutorToFrameworkMessage, self.record)

    @property
    def slave_info(self) -> Any:
        info = mesos_pb2.SlaveInfo(hostname="localhost")
        info.id.value = SLAVE_ID
        return info

    def registered_message(self) -> Any:
        message = messages_pb2.ExecutorRegisteredMessage()
        message.executor_info.CopyFrom(executor_info())
        message.framework_id.value = FRAMEWORK_ID
        message.framework_info.CopyFrom(self.framework)
        message.slave_id.value = SLAVE_ID
        message.slave_info.CopyFrom(self.slave_info)
        return message

    def register_executor(self, from_: UPID, message: Any) -> None:
        self.executor_pid = from_
        self.record(from_, message)
        if self.auto_register:
            self.send(from_, self.registered_message())

    def reregister_executor(self, from_: UPID, message: Any) -> None:
        self.executor_pid = from_
        self.record(from_, message)

    def status_update(self, from_: UPID, message: Any) -> None:
        self.record(from_, message)
        if self.auto_acknowledge:
            self.send(UPID(message.pid), self.acknowledgement(message.update))

    def record(self, from_: UPID, message: Any) -> None:
        self._queues[message.DESCRIPTOR.full_name].put((from_, message))

    @staticmethod
    def acknowledgement(update: Any) -> Any:
        ack = messages_pb2.StatusUpdateAcknowledgementMessage()
        ack.slave_id.value = SLAVE_ID
        ack.framework_id.CopyFrom(update.framework_id)
        ack.task_id.CopyFrom(update.status.task_id)
        ack.uuid = update.uuid
        return ack

    # The test's side.

    def next(self, kind: type[Any], timeout: float = TIMEOUT) -> Any:
        """The next message of type `kind` received (waits up to `timeout` seconds)."""
        try:
            return self._queues[kind.DESCRIPTOR.full_name].get(timeout=timeout)[1]
        except queue.Empty:
            raise AssertionError(f"No {kind.DESCRIPTOR.name} within {timeout} s") from None

    def pending(self, kind: type[Any]) -> int:
        """How many messages of type `kind` were received and not read by `next`."""
        return self._queues[kind.DESCRIPTOR.full_name].qsize()

    def tell(self, to: UPID | str | None, message: Any) -> None:
        """Sends `message` from this agent (on its own thread) to `to` (the executor)."""
        target = to if to is not None else self.executor_pid
        assert target is not None, "no executor has registered with this agent"
        dispatch(self, self.send, target, message).get(timeout=TIMEOUT)

    def acknowledge(self, update: Any) -> None:
        self.tell(self.executor_pid, self.acknowledgement(update))

    def run_task(self, task: Any) -> None:
        message = messages_pb2.RunTaskMessage()
        message.framework_id.value = FRAMEWORK_ID
        message.framework.CopyFrom(self.framework)
        message.task.CopyFrom(task)
        self.tell(None, message)

    def kill_task(self, task_id: str) -> None:
        message = messages_pb2.KillTaskMessage()
        message.framework_id.value = FRAMEWORK_ID
        message.task_id.value = task_id
        self.tell(None, message)

    def shutdown_executor(self) -> None:
        message = messages_pb2.ShutdownExecutorMessage()
        message.framework_id.value = FRAMEWORK_ID
        message.executor_id.value = EXECUTOR_ID
        self.tell(None, message)


class RecordingExecutor(Executor):
    """Records each callback as `(name, args)` (args without the driver) in one queue per
    callback name; `next(name)` waits for the next one. `on[name]` may hold an action run
    after recording, on the driver's thread."""

    def __init__(self) -> None:
        self._queues: defaultdict[str, queue.Queue[tuple[Any, ...]]] = defaultdict(
            queue.Queue)
        self.on: dict[str, Callable[..., Any]] = {}
        self.threads: list[str] = []

    def _record(self, name: str, driver: Any, *args: Any) -> None:
        self.threads.append(threading.current_thread().name)
        self._queues[name].put(args)
        action = self.on.get(name)
        if action is not None:
            action(driver, *args)

    def next(self, name: str, timeout: float = TIMEOUT) -> tuple[Any, ...]:
        try:
            return self._queues[name].get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"No {name} callback within {timeout} s") from None

    def count(self, name: str) -> int:
        return self._queues[name].qsize()

    def registered(self, driver: Any, executorInfo: Any, frameworkInfo: Any,
                   slaveInfo: Any) -> None:
        self._record("registered", driver, executorInfo, frameworkInfo, slaveInfo)

    def reregistered(self, driver: Any, slaveInfo: Any) -> None:
        self._record("reregistered", driver, slaveInfo)

    def disconnected(self, driver: Any) -> None:
        self._record("disconnected", driver)

    def launchTask(self, driver: Any, task: Any) -> None:
        self._record("launchTask", driver, task)

    def killTask(self, driver: Any, taskId: Any) -> None:
        self._record("killTask", driver, taskId)

    def frameworkMessage(self, driver: Any, message: Any) -> None:
        self._record("frameworkMessage", driver, message)

    def shutdown(self, driver: Any) -> None:
        self._record("shutdown", driver)

    def error(self, driver: Any, message: Any) -> None:
        self._record("error", driver, message)


def executor_environment(agent: FakeAgent | UPID | str, directory: Path | str,
                         **extra: str) -> dict[str, str]:
    """The environment an agent gives its executor (`MESOS_*`), plus `extra`."""
    pid = agent.upid if isinstance(agent, Process) else agent
    env = {
        "MESOS_SLAVE_PID": str(pid),
        "MESOS_SLAVE_ID": SLAVE_ID,
        "MESOS_FRAMEWORK_ID": FRAMEWORK_ID,
        "MESOS_EXECUTOR_ID": EXECUTOR_ID,
        "MESOS_DIRECTORY": str(directory),
        "MESOS_CHECKPOINT": "0",
    }
    env.update(extra)
    return env


@pytest.fixture
def agent() -> FakeAgent:
    a = FakeAgent()
    spawn(a)
    return a


@pytest.fixture
def drivers() -> Iterator[list[MesosExecutorDriver]]:
    """Drivers a test started; stopped after the test."""
    started: list[MesosExecutorDriver] = []
    yield started
    for d in started:
        d.stop()


@pytest.fixture
def start_driver(drivers: list[MesosExecutorDriver], tmp_path: Path
                 ) -> Callable[..., MesosExecutorDriver]:
    """`start_driver(agent, executor, **env)`: a started driver pointed at `agent`."""

    def start(agent: FakeAgent, executor: Any, **env: str) -> MesosExecutorDriver:
        driver = MesosExecutorDriver(executor,
                                     environment=executor_environment(agent, tmp_path, **env))
        drivers.append(driver)
        assert driver.start() == DRIVER_RUNNING
        return driver

    return start


# Integration: the command executor as a real OS process.


class CommandExecutorOS:
    """`python -m mesos.exec.command_executor` in its own session, its stdout and stderr
    in `sandbox/stdout` and `sandbox/stderr`, as an agent starts it."""

    def __init__(self, agent: FakeAgent, sandbox: Path, drop: tuple[str, ...] = (),
                 **env: str) -> None:
        self.sandbox = sandbox
        environment = dict(os.environ)
        environment.update(executor_environment(agent, sandbox, **env))
        environment["PYTHONUNBUFFERED"] = "1"
        for name in drop:
            environment.pop(name, None)
        self._stdout = open(sandbox / "stdout", "wb")
        self._stderr = open(sandbox / "stderr", "wb")
        # Its own session, as the agent's containerizer does: the executor's last resort
        # kills its own process group, which must not be the test runner's.
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "mesos.exec.command_executor"], cwd=sandbox,
            env=environment, stdin=subprocess.DEVNULL, stdout=self._stdout,
            stderr=self._stderr, start_new_session=True)

    def wait(self, timeout: float = 30.0) -> int:
        return self.popen.wait(timeout)

    def output(self) -> tuple[str, str]:
        return ((self.sandbox / "stdout").read_text(errors="replace"),
                (self.sandbox / "stderr").read_text(errors="replace"))

    def close(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, 9)
            except OSError:
                pass
            self.popen.wait(10)
        self._stdout.close()
        self._stderr.close()


@pytest.fixture
def start_command_executor(tmp_path: Path) -> Iterator[Callable[..., CommandExecutorOS]]:
    started: list[CommandExecutorOS] = []

    def start(agent: FakeAgent, drop: tuple[str, ...] = (), **env: str) -> CommandExecutorOS:
        """Starts one; `drop` names variables to leave out of its environment."""
        sandbox = tmp_path / f"sandbox-{len(started)}"
        sandbox.mkdir()
        process = CommandExecutorOS(agent, sandbox, drop, **env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (which cannot import this conftest)."""
    return SimpleNamespace(
        FakeAgent=FakeAgent, RecordingExecutor=RecordingExecutor,
        executor_environment=executor_environment, framework_info=framework_info,
        executor_info=executor_info, task_info=task_info, task_status=task_status,
        FRAMEWORK_ID=FRAMEWORK_ID, EXECUTOR_ID=EXECUTOR_ID, SLAVE_ID=SLAVE_ID,
        TIMEOUT=TIMEOUT)
