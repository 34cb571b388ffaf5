"""Tests of the command executor in this OS process: the real driver and a fake agent, real
child processes for the tasks, and a paused clock for grace periods and timeouts.

In the spirit of Mesos's `src/tests/command_executor_tests.cpp`: each test launches a task
through the fake agent and reads the executor's status updates off it, in order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from libprocess import dispatch, spawn
from libprocess.testing import await_condition, settle
from mesos.exec.command_executor import CommandExecutor, wait_status_message
from mesos.interface import mesos_pb2
from mesos.protos.messages import messages_pb2

StatusUpdateMessage = messages_pb2.StatusUpdateMessage
TASK_KILLING_STATE = mesos_pb2.FrameworkInfo.Capability.TASK_KILLING_STATE


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


class Harness:
    """A fake agent, a driver and a `CommandExecutor` running in `sandbox`."""

    def __init__(self, kit: Any, start_driver: Callable[..., Any], sandbox: Path,
                 capabilities: tuple[int, ...], shutdown_grace_period: float,
                 task_command: Any, env: dict[str, str]) -> None:
        self.kit = kit
        self.sandbox = sandbox
        self.agent = kit.FakeAgent(framework=kit.framework_info(*capabilities))
        spawn(self.agent)
        environment = dict(os.environ)
        environment.update(kit.executor_environment(self.agent, sandbox, **env))
        self.executor = CommandExecutor(shutdown_grace_period, task_command,
                                        environment=environment)
        self.driver = start_driver(self.agent, self.executor, **env)
        self.agent.next(messages_pb2.RegisterExecutorMessage)

    def launch(self, task: Any) -> None:
        self.agent.run_task(task)

    def next_update(self) -> Any:
        return self.agent.next(StatusUpdateMessage).update.status

    def states(self, n: int) -> list[str]:
        return [mesos_pb2.TaskState.Name(self.next_update().state) for _ in range(n)]

    def wait_pid_file(self, name: str = "task.pid") -> int:
        path = self.sandbox / name
        await_condition(lambda: path.exists() and path.read_text().strip(),
                        message=f"{name} in the sandbox")
        return int(path.read_text())


@pytest.fixture
def harness(kit: Any, start_driver: Any, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*capabilities: int, shutdown_grace_period: float = 5.0, task_command: Any = None,
             **env: str) -> Harness:
        h = Harness(kit, start_driver, tmp_path, capabilities, shutdown_grace_period,
                    task_command, env)
        made.append(h)
        return h

    yield make
    # No task may outlive its test.
    for h in made:
        h.executor.cleanup()


def test_command_finishes(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a shell command runs in the sandbox and that the executor sends
    TASK_STARTING, TASK_RUNNING and TASK_FINISHED ("Command exited with status 0"), in that
    order, then stops its driver once the agent has acknowledged them."""
    h = harness()

    h.launch(kit.task_info("t1", "echo hi > out.txt"))

    starting, running, finished = (h.next_update() for _ in range(3))
    assert [starting.state, running.state, finished.state] == \
        [mesos_pb2.TASK_STARTING, mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_FINISHED]
    assert finished.message == "Command exited with status 0"
    assert finished.executor_id.value == kit.EXECUTOR_ID
    assert finished.task_id.value == "t1"
    assert (h.sandbox / "out.txt").read_text() == "hi\n"
    assert h.driver.join() == mesos_pb2.DRIVER_STOPPED


def test_argv_command_with_environment(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a command with `shell=false` runs `value` with `arguments` as
    its argv, and that `CommandInfo.environment` is added to the executor's environment."""
    h = harness()
    task = kit.task_info("t1", "/bin/sh", shell=False,
                         arguments=["sh", "-c", 'printf "%s %s" "$0" "$GREETING" > out.txt',
                                    "zero"])
    variable = task.command.environment.variables.add()
    variable.name = "GREETING"
    variable.value = "hello"

    h.launch(task)

    assert h.states(3) == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert (h.sandbox / "out.txt").read_text() == "zero hello"


def test_task_command_overrides_the_tasks(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a `--task_command` (a `CommandInfo`) runs instead of the
    task's own command."""
    override = mesos_pb2.CommandInfo(value="echo override > out.txt", shell=True)
    h = harness(task_command=override)

    h.launch(kit.task_info("t1", "exit 1"))

    assert h.states(3) == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert (h.sandbox / "out.txt").read_text() == "override\n"


def test_command_fails_with_its_exit_status(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a command exiting non-zero ends TASK_FAILED with its status in
    the message."""
    h = harness()

    h.launch(kit.task_info("t1", "exit 3"))

    assert h.states(2) == ["TASK_STARTING", "TASK_RUNNING"]
    failed = h.next_update()
    assert failed.state == mesos_pb2.TASK_FAILED
    assert failed.message == "Command exited with status 3"


def test_missing_executable_fails(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that an argv command whose executable does not exist ends
    TASK_FAILED, saying why, and that the executor still exits cleanly."""
    h = harness()

    h.launch(kit.task_info("t1", "/no/such/program", shell=False))

    assert h.next_update().state == mesos_pb2.TASK_STARTING
    failed = h.next_update()
    assert failed.state == mesos_pb2.TASK_FAILED
    assert failed.message.startswith("Failed to launch the command")
    assert "/no/such/program" in failed.message
    assert h.driver.join() == mesos_pb2.DRIVER_STOPPED


def test_task_without_command_fails(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a task without a `CommandInfo` ends TASK_FAILED at once."""
    h = harness()

    h.launch(kit.task_info("t1"))

    failed = h.next_update()
    assert failed.state == mesos_pb2.TASK_FAILED
    assert failed.message == "Expecting task 't1' to have a command"


def test_kill_escalates_after_grace_period(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a kill sends TASK_KILLING (the framework can handle it) and
    SIGTERM to the task's process group, SIGKILL exactly when the kill policy's grace period
    ends (clock time), then TASK_KILLED, and that the whole group is gone."""
    h = harness(TASK_KILLING_STATE)
    h.launch(kit.task_info("t1", "trap '' TERM; echo $$ > task.pid; sleep 30",
                           grace_period=5.0))
    assert h.states(2) == ["TASK_STARTING", "TASK_RUNNING"]
    pgid = h.wait_pid_file()

    # 1. Kill: TASK_KILLING; the task ignores SIGTERM.
    h.agent.kill_task("t1")
    assert h.next_update().state == mesos_pb2.TASK_KILLING
    settle()

    # 2. Just before the grace period ends, it still runs.
    clock.advance(4.9)
    settle()
    assert h.agent.pending(StatusUpdateMessage) == 0
    assert group_alive(pgid)

    # 3. At the end of it: SIGKILL, TASK_KILLED, the group gone.
    clock.advance(0.1)
    killed = h.next_update()
    assert killed.state == mesos_pb2.TASK_KILLED
    assert killed.message == "Command terminated with signal Killed"
    await_condition(lambda: not group_alive(pgid), message="the task's group to be gone")
    assert h.driver.join() == mesos_pb2.DRIVER_STOPPED


def test_kill_without_killing_capability(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a framework without TASK_KILLING_STATE gets no TASK_KILLING,
    and that a task that obeys SIGTERM ends TASK_KILLED without waiting for the (default)
    grace period."""
    h = harness()
    h.launch(kit.task_info("t1", "echo $$ > task.pid; exec sleep 30"))
    assert h.states(2) == ["TASK_STARTING", "TASK_RUNNING"]
    h.wait_pid_file()

    h.agent.kill_task("t1")

    killed = h.next_update()
    assert killed.state == mesos_pb2.TASK_KILLED
    assert killed.message == "Command terminated with signal Terminated"


def test_second_task_is_refused(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a command executor runs one task only: a second one ends
    TASK_FAILED, and the first keeps running."""
    h = harness()
    h.launch(kit.task_info("t1", "echo $$ > task.pid; exec sleep 30"))
    assert h.states(2) == ["TASK_STARTING", "TASK_RUNNING"]

    h.launch(kit.task_info("t2", "true"))

    refused = h.next_update()
    assert (refused.task_id.value, refused.state) == ("t2", mesos_pb2.TASK_FAILED)
    assert refused.message == 'Attempted to run multiple tasks using a "command" executor'
    assert group_alive(h.wait_pid_file())


def test_shutdown_kills_the_task(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a shutdown kills the task within the shutdown grace period
    (less a second left for the update), ends it TASK_KILLED and stops the driver."""
    h = harness(shutdown_grace_period=3.0)
    h.launch(kit.task_info("t1", "trap '' TERM; echo $$ > task.pid; sleep 30",
                           grace_period=60.0))
    assert h.states(2) == ["TASK_STARTING", "TASK_RUNNING"]
    h.wait_pid_file()

    h.agent.shutdown_executor()
    settle()
    assert h.agent.pending(StatusUpdateMessage) == 0
    clock.advance(2.0)

    killed = h.next_update()
    assert killed.state == mesos_pb2.TASK_KILLED
    assert h.driver.join() == mesos_pb2.DRIVER_STOPPED


def test_shutdown_does_not_wait_long_for_an_acknowledgement(clock: Any, kit: Any,
                                                            harness: Any) -> None:
    """This test ensures that after a shutdown (the agent is tearing the framework down and
    ignores its updates, so TASK_KILLED is never acknowledged) the executor stops its driver
    a second after its terminal update, rather than waiting the usual five seconds and being
    killed at the end of the agent's grace period."""
    h = harness(shutdown_grace_period=3.0)
    h.launch(kit.task_info("t1", "echo $$ > task.pid; sleep 30"))
    assert h.states(2) == ["TASK_STARTING", "TASK_RUNNING"]
    h.wait_pid_file()
    h.agent.auto_acknowledge = False

    h.agent.shutdown_executor()
    assert h.next_update().state == mesos_pb2.TASK_KILLED
    settle()
    assert h.driver._status == mesos_pb2.DRIVER_RUNNING
    clock.advance(0.5)
    settle()
    assert h.driver._status == mesos_pb2.DRIVER_RUNNING

    clock.advance(0.5)
    await_condition(lambda: h.driver._status == mesos_pb2.DRIVER_STOPPED,
                    message="the driver stopped")


def test_shutdown_shortens_a_kill_in_progress(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a shutdown during a kill with a long grace period brings SIGKILL
    forward (a grace period can be shortened, never extended)."""
    h = harness(shutdown_grace_period=5.0)
    h.launch(kit.task_info("t1", "trap '' TERM; echo $$ > task.pid; sleep 30",
                           grace_period=60.0))
    assert h.states(2) == ["TASK_STARTING", "TASK_RUNNING"]
    h.wait_pid_file()
    h.agent.kill_task("t1")
    settle()
    clock.advance(1.0)

    # The shutdown allows 4 s in all from the first SIGTERM (5 s less 1 s); 1 s has passed.
    h.agent.shutdown_executor()
    settle()
    clock.advance(2.9)
    settle()
    assert h.agent.pending(StatusUpdateMessage) == 0
    clock.advance(0.1)

    assert h.next_update().state == mesos_pb2.TASK_KILLED


def test_max_completion_time(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a task still running at its `max_completion_time` is killed
    at once and ends TASK_FAILED with REASON_MAX_COMPLETION_TIME_REACHED."""
    h = harness()
    task = kit.task_info("t1", "trap '' TERM; echo $$ > task.pid; sleep 30")
    task.max_completion_time.nanoseconds = 2_000_000_000
    h.launch(task)
    assert h.states(2) == ["TASK_STARTING", "TASK_RUNNING"]
    h.wait_pid_file()
    settle()

    clock.advance(2.0)

    failed = h.next_update()
    assert failed.state == mesos_pb2.TASK_FAILED
    assert failed.reason == mesos_pb2.TaskStatus.REASON_MAX_COMPLETION_TIME_REACHED


def test_health_updates_and_kill(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a health checker's verdict becomes a TASK_RUNNING update with
    `healthy` and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, and that a verdict asking for a
    kill ends the task TASK_KILLED with healthy=false (mesos-behaviour.md §2.13)."""
    h = harness()
    h.launch(kit.task_info("t1", "echo $$ > task.pid; exec sleep 30"))
    assert h.states(2) == ["TASK_STARTING", "TASK_RUNNING"]
    h.wait_pid_file()
    process = h.executor.process

    # 1. Healthy.
    health = messages_pb2.TaskHealthStatus(healthy=True)
    health.task_id.value = "t1"
    dispatch(process, process.task_health_updated, health)
    update = h.next_update()
    assert (update.state, update.healthy, update.reason) == (
        mesos_pb2.TASK_RUNNING, True,
        mesos_pb2.TaskStatus.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)

    # 2. Unhealthy, kill.
    health = messages_pb2.TaskHealthStatus(healthy=False, kill_task=True)
    health.task_id.value = "t1"
    dispatch(process, process.task_health_updated, health)
    update = h.next_update()
    assert (update.state, update.healthy) == (mesos_pb2.TASK_RUNNING, False)
    killed = h.next_update()
    assert (killed.state, killed.HasField("healthy"), killed.healthy) == \
        (mesos_pb2.TASK_KILLED, True, False)


def test_wait_status_message() -> None:
    """This test ensures that wait statuses are worded as Mesos words them."""
    assert wait_status_message(0) == "exited with status 0"
    assert wait_status_message(127) == "exited with status 127"
    assert wait_status_message(-9) == "terminated with signal Killed"
    assert wait_status_message(-15) == "terminated with signal Terminated"
