"""Integration: the command executor as a real OS process (`python -m
mesos.exec.command_executor`), started in its own session with the executor environment
pointing at a fake agent in the test's OS process, over the real transport.
"""

from __future__ import annotations

import os
import time
from typing import Any

import psutil
import pytest

from libprocess import spawn
from libprocess.testing import await_condition
from mesos.interface import mesos_pb2
from mesos.protos.messages import messages_pb2

pytestmark = pytest.mark.integration

StatusUpdateMessage = messages_pb2.StatusUpdateMessage
TIMEOUT = 30.0


def group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is left in the process group `pgid`."""
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and \
                    process.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def updates(agent: Any, n: int) -> list[Any]:
    return [agent.next(StatusUpdateMessage, TIMEOUT).update.status for _ in range(n)]


def names(statuses: list[Any]) -> list[str]:
    return [mesos_pb2.TaskState.Name(status.state) for status in statuses]


@pytest.fixture
def agent(kit: Any) -> Any:
    a = kit.FakeAgent()
    spawn(a)
    return a


def test_echo_finishes(kit: Any, agent: Any, start_command_executor: Any) -> None:
    """This test ensures that the command executor registers with its agent, runs `echo hi`
    with its output in the sandbox's stdout, sends TASK_STARTING, TASK_RUNNING and
    TASK_FINISHED in that order, and exits 0 once they are acknowledged."""
    # 1. Start the executor: it registers.
    executor = start_command_executor(agent)
    register = agent.next(messages_pb2.RegisterExecutorMessage, TIMEOUT)
    assert register.executor_id.value == kit.EXECUTOR_ID

    # 2. The task.
    agent.run_task(kit.task_info("t1", "echo hi"))

    # 3. Its updates, in order; then the executor exits cleanly.
    statuses = updates(agent, 3)
    assert names(statuses) == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert statuses[2].message == "Command exited with status 0"
    assert executor.wait(TIMEOUT) == 0
    stdout, _ = executor.output()
    assert "hi\n" in stdout


def test_exit_status_fails_the_task(kit: Any, agent: Any, start_command_executor: Any
                                    ) -> None:
    """This test ensures that `exit 3` ends TASK_FAILED with "exited with status 3"."""
    executor = start_command_executor(agent)
    agent.next(messages_pb2.RegisterExecutorMessage, TIMEOUT)

    agent.run_task(kit.task_info("t1", "exit 3"))

    statuses = updates(agent, 3)
    assert names(statuses) == ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"]
    assert "exited with status 3" in statuses[2].message
    assert executor.wait(TIMEOUT) == 0


def test_missing_command_fails_the_task(kit: Any, agent: Any, start_command_executor: Any
                                        ) -> None:
    """This test ensures that a command that does not exist ends TASK_FAILED with the
    shell's status 127, and that the shell's complaint is in the sandbox's stderr."""
    executor = start_command_executor(agent)
    agent.next(messages_pb2.RegisterExecutorMessage, TIMEOUT)

    agent.run_task(kit.task_info("t1", "no-such-command-for-mesos-tests"))

    statuses = updates(agent, 3)
    assert names(statuses) == ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"]
    assert statuses[2].message == "Command exited with status 127"
    assert executor.wait(TIMEOUT) == 0
    _, stderr = executor.output()
    assert "no-such-command-for-mesos-tests" in stderr and "not found" in stderr


def test_kill_with_grace_period(kit: Any, start_command_executor: Any) -> None:
    """This test ensures that a kill of a task that ignores SIGTERM sends TASK_KILLING, waits
    the kill policy's grace period, kills the task's whole process group with SIGKILL, sends
    TASK_KILLED and exits 0."""
    agent = kit.FakeAgent(framework=kit.framework_info(
        mesos_pb2.FrameworkInfo.Capability.TASK_KILLING_STATE))
    spawn(agent)
    executor = start_command_executor(agent)
    agent.next(messages_pb2.RegisterExecutorMessage, TIMEOUT)

    # 1. A task (with a child) that ignores SIGTERM.
    agent.run_task(kit.task_info("t1", "trap '' TERM; echo $$ > task.pid; sleep 30",
                                 grace_period=1.0))
    assert names(updates(agent, 2)) == ["TASK_STARTING", "TASK_RUNNING"]
    pid_file = executor.sandbox / "task.pid"
    await_condition(lambda: pid_file.exists() and pid_file.read_text().strip(),
                    timeout=TIMEOUT, message="the task's pid file")
    pgid = int(pid_file.read_text())
    assert group_alive(pgid)

    # 2. Kill it.
    started = time.monotonic()
    agent.kill_task("t1")

    # 3. TASK_KILLING at once, TASK_KILLED after the grace period.
    statuses = updates(agent, 2)
    assert names(statuses) == ["TASK_KILLING", "TASK_KILLED"]
    assert time.monotonic() - started >= 0.9
    assert statuses[1].message == "Command terminated with signal Killed"
    await_condition(lambda: not group_alive(pgid), timeout=TIMEOUT,
                    message="the task's process group to be gone")
    assert executor.wait(TIMEOUT) == 0


def test_shutdown_kills_the_task(kit: Any, agent: Any, start_command_executor: Any) -> None:
    """This test ensures that `ShutdownExecutorMessage` kills the running task (TASK_KILLED)
    and that the executor then exits 0 within the shutdown grace period."""
    executor = start_command_executor(agent, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD="3secs")
    agent.next(messages_pb2.RegisterExecutorMessage, TIMEOUT)
    agent.run_task(kit.task_info("t1", "sleep 30"))
    assert names(updates(agent, 2)) == ["TASK_STARTING", "TASK_RUNNING"]

    agent.shutdown_executor()

    assert names(updates(agent, 1)) == ["TASK_KILLED"]
    assert executor.wait(TIMEOUT) == 0


def test_missing_environment_exits_1(kit: Any, agent: Any, start_command_executor: Any
                                     ) -> None:
    """This test ensures that an executor started without `MESOS_DIRECTORY` exits 1, says
    which variable is missing, and never registers."""
    executor = start_command_executor(agent, drop=("MESOS_DIRECTORY",))

    assert executor.wait(TIMEOUT) == 1
    _, stderr = executor.output()
    assert "Expecting 'MESOS_DIRECTORY' to be set in the environment" in stderr
    assert agent.pending(messages_pb2.RegisterExecutorMessage) == 0
