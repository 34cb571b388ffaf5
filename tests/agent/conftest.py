"""Helpers for the agent's scenarios: a fake master, an in-process executor double, builders.

As in Mesos's `src/tests/slave_tests.cpp`, the agent runs as a process of the test's OS
process against a `FakeMaster` (which answers registration and lets the test send RunTask,
KillTask, acknowledgements, pings, ...), with a paused clock. Executors are real OS processes
started by the agent's POSIX containerizer: the real command executor for command tasks, or a
plain `sleep` for a custom executor, on whose behalf a `FakeExecutor` (a process of the test)
registers, so the test drives the executor side of the protocol exactly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

import libprocess
from libprocess import ID, OK, UPID, Process, Request, Response
from libprocess.clock import Clock
from libprocess.testing import future_message, settle
from mesos.agent.agent import Agent, StandaloneMasterDetector
from mesos.agent.flags import AgentFlags
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

TaskStatus = mesos_pb2.TaskStatus
PARTITION_AWARE = mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE

TIMEOUT = 30.0
SLAVE_ID = "agent-S0"
FRAMEWORK_ID = "framework-0001"
AGENT_RESOURCES = "cpus:2;mem:1024;disk:1024;ports:[31000-32000]"


class FakeMaster(Process):
    """Stands in for the Mesos master: answers RegisterSlaveMessage with
    SlaveRegisteredMessage and ReregisterSlaveMessage with SlaveReregisteredMessage, records
    every message an agent sends it, and serves `/state` with its pid (for the agent's HTTP
    master detector). The test sends the master's messages with `post`. Runs on its own
    thread; the lists are read by the test after waiting on a future."""

    def __init__(self, id: str | None = None, slave_id: str = SLAVE_ID) -> None:
        super().__init__(id or ID.generate("master"))
        self.slave_id = slave_id
        self.answer_registration = True
        self._lock = threading.Lock()
        self.received: list[tuple[UPID, Any]] = []

    def initialize(self) -> None:
        for message in (messages_pb2.RegisterSlaveMessage, messages_pb2.ReregisterSlaveMessage,
                        messages_pb2.StatusUpdateMessage, messages_pb2.ExitedExecutorMessage,
                        messages_pb2.PongSlaveMessage, messages_pb2.UnregisterSlaveMessage,
                        messages_pb2.ExecutorToFrameworkMessage):
            self.install(message, self.record)
        self.route("/state", self.state)

    def state(self, request: Request) -> Response:
        return OK({"pid": str(self.upid), "hostname": "localhost", "version": "1.12.0"})

    def record(self, from_: UPID, message: Any) -> None:
        with self._lock:
            self.received.append((from_, message))
        if not self.answer_registration:
            return
        if isinstance(message, messages_pb2.RegisterSlaveMessage):
            reply = messages_pb2.SlaveRegisteredMessage()
            reply.slave_id.value = self.slave_id
            reply.connection.total_ping_timeout_seconds = 75.0
            self.send(from_, reply)
        elif isinstance(message, messages_pb2.ReregisterSlaveMessage):
            reregistered = messages_pb2.SlaveReregisteredMessage()
            reregistered.slave_id.CopyFrom(message.slave.id)
            reregistered.connection.total_ping_timeout_seconds = 75.0
            self.send(from_, reregistered)

    def messages(self, cls: type) -> list[Any]:
        with self._lock:
            return [m for _, m in self.received if isinstance(m, cls)]

    def post(self, to: UPID, message: Any) -> None:
        """Sends `message` to `to` from this master (from the test's thread)."""
        libprocess.dispatch(self, self.send, to, message).get(TIMEOUT)

    def acknowledge(self, agent: Agent, update: Any) -> None:
        """Acknowledges a forwarded status update, as the master does for the scheduler."""
        ack = messages_pb2.StatusUpdateAcknowledgementMessage()
        ack.slave_id.CopyFrom(update.slave_id)
        ack.framework_id.CopyFrom(update.framework_id)
        ack.task_id.CopyFrom(update.status.task_id)
        ack.uuid = update.uuid
        self.post(agent.upid, ack)


class FakeExecutor(Process):
    """An executor driven by the test: registers with the agent for `executor_id` (on behalf
    of the container the agent launched), records what the agent sends it, and sends the
    status updates and messages the test asks for. Runs on its own thread."""

    def __init__(self, agent: Agent, framework_id: str, executor_id: str) -> None:
        super().__init__(ID.generate("executor"))
        self.agent_pid = agent.upid
        self.framework_id = framework_id
        self.executor_id = executor_id
        self._lock = threading.Lock()
        self.received: list[Any] = []

    def initialize(self) -> None:
        for message in (messages_pb2.ExecutorRegisteredMessage, messages_pb2.RunTaskMessage,
                        messages_pb2.KillTaskMessage,
                        messages_pb2.StatusUpdateAcknowledgementMessage,
                        messages_pb2.ShutdownExecutorMessage,
                        messages_pb2.FrameworkToExecutorMessage):
            self.install(message, self.record)
        register = messages_pb2.RegisterExecutorMessage()
        register.framework_id.value = self.framework_id
        register.executor_id.value = self.executor_id
        self.send(self.agent_pid, register)

    def record(self, from_: UPID, message: Any) -> None:
        with self._lock:
            self.received.append(message)

    def messages(self, cls: type) -> list[Any]:
        with self._lock:
            return [m for m in self.received if isinstance(m, cls)]

    def update(self, task_id: str, state: int, **fields: Any) -> messages_pb2.StatusUpdate:
        """Sends a StatusUpdateMessage as the executor driver does; `fields` override the
        update's (`uuid=b""` makes a malformed one). Returns the update sent."""
        update = messages_pb2.StatusUpdate()
        update.framework_id.value = fields.pop("framework_id", self.framework_id)
        update.executor_id.value = self.executor_id
        update.slave_id.value = fields.pop("slave_id", SLAVE_ID)
        update.status.task_id.value = task_id
        update.status.state = state  # type: ignore[assignment]
        update.status.source = mesos_pb2.TaskStatus.SOURCE_EXECUTOR
        update.status.slave_id.CopyFrom(update.slave_id)
        update.timestamp = 1.0
        update.uuid = fields.pop("uuid", uuid.uuid4().bytes)
        assert not fields, f"Unknown fields {fields}"
        message = messages_pb2.StatusUpdateMessage(update=update, pid=str(self.upid))
        libprocess.dispatch(self, self.send, self.agent_pid, message).get(TIMEOUT)
        return update

    def post(self, message: Any) -> None:
        libprocess.dispatch(self, self.send, self.agent_pid, message).get(TIMEOUT)


def framework_info(framework_id: str = FRAMEWORK_ID, **fields: Any) -> Any:
    info = mesos_pb2.FrameworkInfo(user="test", name="agent-tests", **fields)
    info.id.value = framework_id
    return info


def command_task(task_id: str, command: str, resources: str = "cpus:0.5;mem:64",
                 slave_id: str = SLAVE_ID) -> Any:
    """A task with a shell `CommandInfo` (run by the command executor)."""
    task = mesos_pb2.TaskInfo(name=task_id)
    task.task_id.value = task_id
    task.slave_id.value = slave_id
    task.command.value = command
    task.command.shell = True
    task.resources.extend(Resources.parse(resources))
    return task


def executor_task(task_id: str, executor_id: str, command: str = "exec sleep 1000",
                  resources: str = "cpus:0.5;mem:64", framework_id: str = FRAMEWORK_ID,
                  slave_id: str = SLAVE_ID) -> Any:
    """A task with a custom `ExecutorInfo` whose command is `command` (by default a process
    that never registers: a `FakeExecutor` registers for it)."""
    task = mesos_pb2.TaskInfo(name=task_id)
    task.task_id.value = task_id
    task.slave_id.value = slave_id
    task.resources.extend(Resources.parse(resources))
    task.executor.executor_id.value = executor_id
    task.executor.framework_id.value = framework_id
    task.executor.name = f"executor {executor_id}"
    task.executor.command.value = command
    task.executor.command.shell = True
    task.executor.resources.extend(Resources.parse("cpus:0.1;mem:32"))
    return task


def run_task_message(task: Any, framework: Any = None, pid: str = "") -> Any:
    message = messages_pb2.RunTaskMessage()
    message.framework.CopyFrom(framework if framework is not None else framework_info())
    message.framework_id.CopyFrom(message.framework.id)
    message.task.CopyFrom(task)
    message.pid = pid
    return message


def make_flags(work_dir: str, master: str = "master@127.0.0.1:5050",
               **overrides: Any) -> AgentFlags:
    values: dict[str, Any] = {
        "master": master,
        "work_dir": work_dir,
        "resources": AGENT_RESOURCES,
        "hostname": "localhost",
    }
    values.update(overrides)
    return AgentFlags(**values)


def start_agent(clock: Clock, master: FakeMaster, work_dir: str, **overrides: Any) -> Agent:
    """Spawns an agent for `master` and waits until it is registered: its first
    RegisterSlaveMessage goes out after a random delay in [0, backoff factor], which the
    paused clock is advanced past."""
    flags = make_flags(work_dir, str(master.upid), **overrides)
    agent = Agent(flags, StandaloneMasterDetector(master.upid))
    registered = future_message(messages_pb2.SlaveRegisteredMessage, to=agent)
    libprocess.spawn(agent)
    settle()
    clock.advance(flags.registration_backoff_factor)
    registered.get(TIMEOUT)
    settle()
    return agent


def read_agent(agent: Agent, fn: Any) -> Any:
    """Reads the agent's state on its own thread."""
    return libprocess.dispatch(agent, fn).get(TIMEOUT)


def http_get(path: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
    """GETs `path` from this OS process's HTTP server: (status, parsed JSON or text)."""
    from urllib.parse import quote, urlencode

    ip, port = libprocess.http_address()
    url = f"http://{ip}:{port}{quote(path, safe='/()')}"
    if query:
        url += "?" + urlencode(query)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
        e.close()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    fake = FakeMaster()
    libprocess.spawn(fake)
    yield fake


# Checkpointing frameworks and executors that outlive their agents (recovery tests).


class ReconnectingExecutor(Process):
    """An executor driven by the test that outlives agents: registers with the agent for
    `executor_id`, records every message agents send it, sends the status updates the test
    asks for, and answers a restarted agent's ReconnectExecutorMessage (unless `answer` is
    False) with a ReregisterExecutorMessage carrying `unacked_tasks` and `unacked_updates`,
    as the executor driver does. Runs on its own thread."""

    def __init__(self, agent: UPID, framework_id: str, executor_id: str) -> None:
        super().__init__(ID.generate("executor"))
        self.agent = agent
        self.framework_id = framework_id
        self.executor_id = executor_id
        self.answer = True
        self.unacked_tasks: list[Any] = []
        self.unacked_updates: list[Any] = []
        self._lock = threading.Lock()
        self.received: list[Any] = []

    def initialize(self) -> None:
        for message in (messages_pb2.ExecutorRegisteredMessage,
                        messages_pb2.ExecutorReregisteredMessage, messages_pb2.RunTaskMessage,
                        messages_pb2.KillTaskMessage,
                        messages_pb2.StatusUpdateAcknowledgementMessage,
                        messages_pb2.ShutdownExecutorMessage):
            self.install(message, self.record)
        self.install(messages_pb2.ReconnectExecutorMessage, self.reconnect)
        register = messages_pb2.RegisterExecutorMessage()
        register.framework_id.value = self.framework_id
        register.executor_id.value = self.executor_id
        self.send(self.agent, register)

    def record(self, from_: UPID, message: Any) -> None:
        with self._lock:
            self.received.append(message)

    def reconnect(self, from_: UPID, message: Any) -> None:
        self.record(from_, message)
        if not self.answer:
            return
        self.agent = from_
        reregister = messages_pb2.ReregisterExecutorMessage()
        reregister.framework_id.value = self.framework_id
        reregister.executor_id.value = self.executor_id
        reregister.tasks.extend(self.unacked_tasks)
        reregister.updates.extend(self.unacked_updates)
        self.send(from_, reregister)

    def messages(self, cls: type) -> list[Any]:
        with self._lock:
            return [m for m in self.received if isinstance(m, cls)]

    def make_update(self, task_id: str, state: int, slave_id: str) -> Any:
        update = messages_pb2.StatusUpdate()
        update.framework_id.value = self.framework_id
        update.executor_id.value = self.executor_id
        update.slave_id.value = slave_id
        update.status.task_id.value = task_id
        update.status.state = state  # type: ignore[assignment]
        update.status.source = TaskStatus.SOURCE_EXECUTOR
        update.status.slave_id.value = slave_id
        update.timestamp = 1.0
        update.uuid = uuid.uuid4().bytes
        return update

    def send_update(self, update: Any) -> None:
        message = messages_pb2.StatusUpdateMessage(update=update, pid=str(self.upid))
        libprocess.dispatch(self, lambda: self.send(self.agent, message)).get(30.0)


@pytest.fixture
def leftovers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Kills, after the test, the executors that outlived their agents (their sandboxes are
    under the test's directory) and the processes the test started itself."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    root = os.path.realpath(tmp_path)
    for process in psutil.process_iter():
        try:
            directory = process.environ().get("MESOS_DIRECTORY", "")
        except (psutil.Error, OSError):
            continue
        if os.path.realpath(directory).startswith(root + os.sep):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    for child in started:
        child.kill()
        child.wait(10)


def checkpointing_framework(framework_id: str = "framework-0001", partition_aware: bool = False
                   ) -> Any:
    info = mesos_pb2.FrameworkInfo(user="test", name="checkpointing", checkpoint=True)
    info.id.value = framework_id
    if partition_aware:
        info.capabilities.add().type = PARTITION_AWARE
    return info


def agent_executor(agent: Agent, framework_id: str, executor_id: str) -> Any:
    """The agent's books about an executor (None if it has none); read on its thread."""
    framework = agent.frameworks.get(framework_id)
    return None if framework is None else framework.executors.get(executor_id)


def launch_fake_executor(master: FakeMaster, agent: Agent, task_id: str = "t1",
                         executor_id: str = "e1") -> FakeExecutor:
    """Runs a custom-executor task (of a framework that does not checkpoint) and registers
    a `FakeExecutor` for its container; returns the fake once it has the task."""
    run = future_message(messages_pb2.RunTaskMessage, from_=agent)
    master.post(agent.upid, run_task_message(executor_task(task_id, executor_id)))
    settle()
    executor = FakeExecutor(agent, FRAMEWORK_ID, executor_id)
    libprocess.spawn(executor)
    run.get(TIMEOUT)
    settle()
    return executor


def launch_reconnecting_executor(master: FakeMaster, agent: Agent, task_id: str = "t1",
                                 executor_id: str = "e1", framework: Any = None,
                                 executor: ReconnectingExecutor | None = None
                                 ) -> ReconnectingExecutor:
    """Runs a custom-executor task of `framework` (a checkpointing one by default) and
    registers a `ReconnectingExecutor` for its container, unless `executor` (already
    registered for `executor_id`) is given; returns the executor once it has the task."""
    framework = framework if framework is not None else checkpointing_framework()
    run = future_message(messages_pb2.RunTaskMessage, from_=agent, to=executor)
    task = executor_task(task_id, executor_id, framework_id=framework.id.value)
    master.post(agent.upid, run_task_message(task, framework,
                                             pid="scheduler(1)@127.0.0.1:1234"))
    settle()
    if executor is None:
        executor = ReconnectingExecutor(agent.upid, framework.id.value, executor_id)
        libprocess.spawn(executor)
    run.get(TIMEOUT)
    settle()
    return executor


def running(master: FakeMaster, agent: Agent, executor: ReconnectingExecutor,
            task_id: str) -> Any:
    """The executor's TASK_RUNNING for `task_id`, recorded, forwarded and acknowledged."""
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    acked = future_message(messages_pb2.StatusUpdateAcknowledgementMessage, from_=agent,
                           to=executor)
    update = executor.make_update(task_id, mesos_pb2.TASK_RUNNING, SLAVE_ID)
    executor.send_update(update)
    acked.get(TIMEOUT)
    master.acknowledge(agent, forwarded.get(TIMEOUT).update)
    settle()
    return update


def new_agent(master: FakeMaster, work_dir: Path, **overrides: Any) -> Agent:
    """An agent (not spawned yet) for `master` on `work_dir`, as after a restart."""
    flags = make_flags(str(work_dir), str(master.upid), **overrides)
    return Agent(flags, StandaloneMasterDetector(master.upid))


def stop_agent(agent: Agent) -> None:
    """Terminates the agent process as a restart (SIGTERM, or a crash) would end it."""
    libprocess.terminate(agent)
    assert libprocess.wait(agent, TIMEOUT)


def exit_of(agent: Agent) -> tuple[int | None, str]:
    """How the agent ended by itself: (exit status, fatal error)."""
    assert libprocess.wait(agent, TIMEOUT), "the agent did not terminate"
    return agent.exit_status, agent.fatal_error or ""


def failed_start(agent: Agent) -> str:
    """Spawns `agent`, which must refuse to start (exit status 1); its fatal error."""
    libprocess.spawn(agent)
    status, error = exit_of(agent)
    assert status == 1, error
    return error


def container_pid(agent: Agent, framework_id: str = FRAMEWORK_ID,
                  executor_id: str = "e1") -> int:
    """The pid of the container the agent runs executor `executor_id` in."""
    return read_agent(agent, lambda: agent.containerizer.pid(
        agent_executor(agent, framework_id, executor_id).container_id))


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (which cannot import this conftest)."""
    return SimpleNamespace(
        FakeMaster=FakeMaster, FakeExecutor=FakeExecutor, framework_info=framework_info,
        command_task=command_task, executor_task=executor_task,
        run_task_message=run_task_message, make_flags=make_flags, start_agent=start_agent,
        read_agent=read_agent, http_get=http_get, TIMEOUT=TIMEOUT, SLAVE_ID=SLAVE_ID,
        FRAMEWORK_ID=FRAMEWORK_ID, AGENT_RESOURCES=AGENT_RESOURCES,
        ReconnectingExecutor=ReconnectingExecutor,
        checkpointing_framework=checkpointing_framework, agent_executor=agent_executor,
        launch_fake_executor=launch_fake_executor,
        launch_reconnecting_executor=launch_reconnecting_executor, running=running,
        new_agent=new_agent, stop_agent=stop_agent, exit_of=exit_of, failed_start=failed_start,
        container_pid=container_pid, alive=alive)
