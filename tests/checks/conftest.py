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
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from libprocess import ID, UPID, Process, dispatch, spawn
from mesos.exec import driver as driver_module
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

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


class FakeAgent(Process):
    """Stands in for the agent (`slave(N)`) of one command executor: answers its
    registration, acknowledges every status update (to the update's `pid`) and records the
    updates' `TaskStatus`es, read in order with `next_status()` from the test's thread."""

    def __init__(self, framework: Any = None) -> None:
        super().__init__(ID.generate("slave"))
        self.framework = framework if framework is not None else framework_info()
        self.executor_pid: UPID | None = None
        self.registrations: queue.Queue[Any] = queue.Queue()
        self.statuses: queue.Queue[Any] = queue.Queue()

    def initialize(self) -> None:
        self.install(messages_pb2.RegisterExecutorMessage, self.register_executor)
        self.install(messages_pb2.StatusUpdateMessage, self.status_update)

    def register_executor(self, from_: UPID, message: Any) -> None:
        self.executor_pid = from_
        registered = messages_pb2.ExecutorRegisteredMessage()
        registered.executor_info.executor_id.value = EXECUTOR_ID
        registered.executor_info.framework_id.value = FRAMEWORK_ID
        registered.executor_info.command.value = "mesos-executor"
        registered.framework_id.value = FRAMEWORK_ID
        registered.framework_info.CopyFrom(self.framework)
        registered.slave_id.value = SLAVE_ID
        registered.slave_info.hostname = "localhost"
        registered.slave_info.id.value = SLAVE_ID
        self.send(from_, registered)
        self.registrations.put(message)

    def status_update(self, from_: UPID, message: Any) -> None:
        update = message.update
        ack = messages_pb2.StatusUpdateAcknowledgementMessage()
        ack.slave_id.value = SLAVE_ID
        ack.framework_id.CopyFrom(update.framework_id)
        ack.task_id.CopyFrom(update.status.task_id)
        ack.uuid = update.uuid
        self.send(UPID(message.pid), ack)
        self.statuses.put(update.status)

    # The test's side.

    def wait_registered(self, timeout: float = TIMEOUT) -> None:
        try:
            self.registrations.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"No executor registered within {timeout} s") from None

    def next_status(self, timeout: float = TIMEOUT) -> Any:
        try:
            return self.statuses.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"No status update within {timeout} s") from None

    def _tell(self, message: Any) -> None:
        assert self.executor_pid is not None, "no executor has registered"
        dispatch(self, self.send, self.executor_pid, message).get(timeout=TIMEOUT)

    def run_task(self, task: Any) -> None:
        message = messages_pb2.RunTaskMessage()
        message.framework_id.value = FRAMEWORK_ID
        message.framework.CopyFrom(self.framework)
        message.task.CopyFrom(task)
        self._tell(message)

    def kill_task(self, task_id: str) -> None:
        message = messages_pb2.KillTaskMessage()
        message.framework_id.value = FRAMEWORK_ID
        message.task_id.value = task_id
        self._tell(message)


def executor_environment(agent: FakeAgent, sandbox: Path) -> dict[str, str]:
    """The environment an agent gives its executor, on top of this process's."""
    env = dict(os.environ)
    env.update({
        "MESOS_SLAVE_PID": str(agent.upid),
        "MESOS_SLAVE_ID": SLAVE_ID,
        "MESOS_FRAMEWORK_ID": FRAMEWORK_ID,
        "MESOS_EXECUTOR_ID": EXECUTOR_ID,
        "MESOS_DIRECTORY": str(sandbox),
        "MESOS_CHECKPOINT": "0",
    })
    return env


class CommandExecutorOS:
    """`python -m mesos.exec.command_executor` as a real OS process in its own session, as an
    agent starts it, with its stdout and stderr in the sandbox."""

    def __init__(self, agent: FakeAgent, sandbox: Path) -> None:
        self.sandbox = sandbox
        environment = executor_environment(agent, sandbox)
        environment["PYTHONUNBUFFERED"] = "1"
        self._stdout = open(sandbox / "stdout", "wb")
        self._stderr = open(sandbox / "stderr", "wb")
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
def start_command_executor(tmp_path: Path) -> Iterator[Callable[[FakeAgent], CommandExecutorOS]]:
    """`start_command_executor(agent)`: a real command executor pointed at `agent`."""
    started: list[CommandExecutorOS] = []

    def start(agent: FakeAgent) -> CommandExecutorOS:
        sandbox = tmp_path / f"sandbox-{len(started)}"
        sandbox.mkdir()
        process = CommandExecutorOS(agent, sandbox)
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
