"""Helpers for the health check tests.

`Reports` collects what a checker reports. `FakeAgent` stands in for the agent of a command
executor (in this OS process or a real one): it registers the executor, acknowledges its
status updates and records them. `kit` hands these to test modules, which cannot import
this conftest. Every test here runs with the executor driver's last resort (SIGKILL to its
own process group) replaced: it must never reach the test runner.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from libprocess import spawn
from mesos.exec import driver as driver_module
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2
from mesos.testing.executor_agent import CommandExecutorOS, ExecutorAgent

FRAMEWORK_ID = "health-framework-0000"
EXECUTOR_ID = "health-executor"
SLAVE_ID = "health-agent-S0"
TIMEOUT = 10.0

HealthCheck = mesos_pb2.HealthCheck


@pytest.fixture(autouse=True)
def _no_suicide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver_module, "_kill_process_group", lambda: None)


class Reports:
    """A checker's callback: keeps each `TaskHealthStatus` (from the checker's thread) for
    the test's thread, which reads them with `next()`."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()

    def __call__(self, status: Any) -> None:
        self._queue.put(status)

    def next(self, timeout: float = TIMEOUT) -> Any:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"No health report within {timeout} s") from None

    def pending(self) -> int:
        return self._queue.qsize()


def health_check(kind: int = HealthCheck.COMMAND, command: str | None = None, *,
                 port: int | None = None, path: str | None = None, **fields: Any) -> Any:
    """A `HealthCheck` of `kind` (`command` for COMMAND, `port`/`path` for HTTP and TCP)
    with the given timing fields."""
    check = HealthCheck(type=kind, **fields)  # type: ignore[arg-type]
    if kind == HealthCheck.COMMAND:
        check.command.value = command or "true"
    elif kind == HealthCheck.HTTP:
        check.http.port = port or 0
        if path is not None:
            check.http.path = path
    elif kind == HealthCheck.TCP:
        check.tcp.port = port or 0
    return check


def framework_info(*capabilities: int) -> Any:
    info = mesos_pb2.FrameworkInfo(user="tester", name="health framework")
    info.id.value = FRAMEWORK_ID
    for capability in capabilities:
        info.capabilities.add().type = capability  # type: ignore[assignment]
    return info


def task_info(task_id: str, command: str, check: Any = None,
              grace_period: float | None = None) -> Any:
    task = mesos_pb2.TaskInfo(name=task_id)
    task.task_id.value = task_id
    task.slave_id.value = SLAVE_ID
    task.command.value = command
    if check is not None:
        task.health_check.CopyFrom(check)
    if grace_period is not None:
        task.kill_policy.grace_period.nanoseconds = int(grace_period * 1e9)
    return task


class FakeAgent(ExecutorAgent):
    """The agent (`slave(N)`) of this directory's command executor (`ExecutorAgent` with its
    ids): registers it, acknowledges its updates, records them (`next_status()`)."""

    def __init__(self, framework: Any = None) -> None:
        super().__init__(framework if framework is not None else framework_info(),
                         EXECUTOR_ID, SLAVE_ID)

    def wait_registered(self, timeout: float = TIMEOUT) -> None:
        self.next(messages_pb2.RegisterExecutorMessage, timeout)

    def pending_statuses(self) -> int:
        return self.pending(messages_pb2.StatusUpdateMessage)


def executor_environment(agent: FakeAgent, sandbox: Path) -> dict[str, str]:
    """The environment an agent gives its executor, on top of this process's."""
    env = dict(os.environ)
    env.update(agent.environment(str(sandbox)))
    return env


@pytest.fixture
def start_command_executor(tmp_path: Path) -> Iterator[Callable[[FakeAgent], CommandExecutorOS]]:
    """`start_command_executor(agent)`: a real command executor pointed at `agent`."""
    started: list[CommandExecutorOS] = []

    def start(agent: FakeAgent) -> CommandExecutorOS:
        sandbox = tmp_path / f"sandbox-{len(started)}"
        sandbox.mkdir()
        process = CommandExecutorOS(sandbox, agent.environment(str(sandbox)))
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above, for test modules."""
    return SimpleNamespace(
        Reports=Reports, FakeAgent=FakeAgent, health_check=health_check,
        framework_info=framework_info, task_info=task_info,
        executor_environment=executor_environment, spawn=spawn,
        FRAMEWORK_ID=FRAMEWORK_ID, EXECUTOR_ID=EXECUTOR_ID, SLAVE_ID=SLAVE_ID,
        TIMEOUT=TIMEOUT)
