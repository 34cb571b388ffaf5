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

import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from libprocess import UPID, Process, spawn
from mesos.exec import driver as driver_module
from mesos.exec.driver import MesosExecutorDriver
from mesos.interface import Executor, mesos_pb2
from mesos.testing.executor_agent import CommandExecutorOS, ExecutorAgent

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


class FakeAgent(ExecutorAgent):
    """The agent (`slave(N)`) of this directory's executor (`ExecutorAgent` with its ids):
    records what the executor sends, registers it and acknowledges its updates unless told
    not to."""

    def __init__(self, id: str | None = None, *, framework: Any = None,
                 auto_register: bool = True, auto_acknowledge: bool = True) -> None:
        super().__init__(framework if framework is not None else framework_info(),
                         EXECUTOR_ID, SLAVE_ID, id=id, auto_register=auto_register,
                         auto_acknowledge=auto_acknowledge)


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


@pytest.fixture
def start_command_executor(tmp_path: Path) -> Iterator[Callable[..., CommandExecutorOS]]:
    started: list[CommandExecutorOS] = []

    def start(agent: FakeAgent, drop: tuple[str, ...] = (), **env: str) -> CommandExecutorOS:
        """Starts one; `drop` names variables to leave out of its environment."""
        sandbox = tmp_path / f"sandbox-{len(started)}"
        sandbox.mkdir()
        environment = executor_environment(agent, sandbox, **env)
        for name in drop:
            environment.pop(name, None)
        process = CommandExecutorOS(sandbox, environment)
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
