"""Tests of the command executor's health checking (mesos-behaviour.md §2.13): the real
executor driver and `CommandExecutor` against a fake agent, real task and check processes.

The first tests run the executor in this OS process with a paused clock; the last ones run it
as a real OS process (`python -m mesos.exec.command_executor`), on the real clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from libprocess import dispatch, spawn, wait
from libprocess.testing import await_condition, settle
from mesos.exec.command_executor import CommandExecutor
from mesos.exec.driver import MesosExecutorDriver
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

HealthCheck = mesos_pb2.HealthCheck
TaskStatus = mesos_pb2.TaskStatus
HEALTH_UPDATED = TaskStatus.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED
TASK_KILLING_STATE = mesos_pb2.FrameworkInfo.Capability.TASK_KILLING_STATE


def describe(status: Any) -> tuple[str, bool | None]:
    """A status as `(state name, healthy or None when unset)`."""
    healthy = status.healthy if status.HasField("healthy") else None
    return (mesos_pb2.TaskState.Name(status.state), healthy)


class Harness:
    """A fake agent, an executor driver and a `CommandExecutor` in this OS process."""

    def __init__(self, kit: Any, sandbox: Path, capabilities: tuple[int, ...]) -> None:
        self.kit = kit
        self.sandbox = sandbox
        self.agent = kit.FakeAgent(kit.framework_info(*capabilities))
        spawn(self.agent)
        environment = kit.executor_environment(self.agent, sandbox)
        self.executor = CommandExecutor(environment=environment)
        self.driver = MesosExecutorDriver(self.executor, environment=environment)
        assert self.driver.start() == mesos_pb2.DRIVER_RUNNING
        self.agent.wait_registered()

    def launch(self, command: str, check: Any, grace_period: float | None = None) -> None:
        self.agent.run_task(self.kit.task_info("t1", command, check, grace_period))

    def next(self) -> Any:
        status = self.agent.next_status()
        assert status.task_id.value == "t1"
        return status

    def checker(self) -> Any:
        """The executor's `HealthCheckerProcess` (read on the executor's thread)."""
        process = self.executor.process
        checker = dispatch(process, lambda: process.health_checker).get(10)
        return None if checker is None else checker.process

    def checker_idle(self, checker: Any) -> None:
        """Waits until `checker` has no check in flight and the next one is scheduled."""
        await_condition(lambda: dispatch(
            checker, lambda: checker.started_at is None and checker.check_timer is not None
        ).get(10), message="the health checker to be idle")

    def close(self) -> None:
        self.executor.cleanup()
        self.driver.stop()


@pytest.fixture
def harness(kit: Any, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*capabilities: int) -> Harness:
        h = Harness(kit, tmp_path, capabilities)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def test_failing_check_kills_the_task(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that each failure of a task's health check becomes a TASK_RUNNING
    update with healthy=false and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, and that the
    `consecutive_failures`-th one kills the task, which ends TASK_KILLED with healthy=false."""
    h = harness()
    h.launch("sleep 30", kit.health_check(HealthCheck.COMMAND, "exit 1", delay_seconds=0,
                                          interval_seconds=1, grace_period_seconds=0,
                                          consecutive_failures=3))
    assert [describe(h.next()) for _ in range(2)] == [
        ("TASK_STARTING", None), ("TASK_RUNNING", None)]

    # 1. Three failures, an interval apart.
    for n in range(3):
        if n > 0:
            clock.advance(1)
        update = h.next()
        assert describe(update) == ("TASK_RUNNING", False)
        assert update.reason == HEALTH_UPDATED
        assert update.source == TaskStatus.SOURCE_EXECUTOR

    # 2. The kill: SIGTERM ends `sleep`.
    killed = h.next()
    assert describe(killed) == ("TASK_KILLED", False)
    assert killed.message == "Command terminated with signal Terminated"


def test_health_kill_uses_the_kill_policy(clock: Any, kit: Any, harness: Any,
                                          tmp_path: Path) -> None:
    """This test ensures that a kill asked for by the health checker goes as any kill does:
    TASK_KILLING for a framework that knows it, SIGKILL only after the task's kill policy
    grace period, then TASK_KILLED with healthy=false; and that the checker is stopped as
    soon as the kill starts."""
    h = harness(TASK_KILLING_STATE)
    h.launch("trap '' TERM; echo $$ > task.pid; while :; do sleep 0.1; done",
             kit.health_check(HealthCheck.COMMAND, "echo x >> checks.log; exit 1",
                              delay_seconds=0, grace_period_seconds=0,
                              consecutive_failures=1),
             grace_period=10.0)
    await_condition(lambda: (tmp_path / "task.pid").exists(), message="task.pid")
    assert [describe(h.next()) for _ in range(4)] == [
        ("TASK_STARTING", None), ("TASK_RUNNING", None), ("TASK_RUNNING", False),
        ("TASK_KILLING", None)]

    # 1. The checker has stopped: no more checks, whatever the time.
    checker = h.checker()
    assert checker is None
    clock.advance(9.5)
    settle()
    assert (tmp_path / "checks.log").read_text() == "x\n"
    assert h.agent.pending_statuses() == 0

    # 2. The kill policy's grace period ends: SIGKILL.
    clock.advance(0.5)
    killed = h.next()
    assert describe(killed) == ("TASK_KILLED", False)
    assert killed.message == "Command terminated with signal Killed"


def test_healthy_task_reports_once(clock: Any, kit: Any, harness: Any,
                                   tmp_path: Path) -> None:
    """This test ensures that a passing health check yields one TASK_RUNNING update with
    healthy=true however many checks pass, and that a task the scheduler kills ends
    TASK_KILLED without `healthy`, its checker stopped."""
    h = harness()
    h.launch("sleep 30", kit.health_check(HealthCheck.COMMAND, "echo x >> checks.log",
                                          delay_seconds=0, interval_seconds=2,
                                          grace_period_seconds=0))
    statuses = [h.next() for _ in range(3)]
    assert [describe(s) for s in statuses] == [
        ("TASK_STARTING", None), ("TASK_RUNNING", None), ("TASK_RUNNING", True)]
    assert statuses[2].reason == HEALTH_UPDATED

    # 1. Three more passing checks: no update.
    checker = h.checker()
    for _ in range(3):
        h.checker_idle(checker)
        clock.advance(2)
        settle()
    h.checker_idle(checker)
    settle()
    assert (tmp_path / "checks.log").read_text() == "x\n" * 4
    assert h.agent.pending_statuses() == 0

    # 2. The scheduler's kill.
    h.agent.kill_task("t1")
    assert describe(h.next()) == ("TASK_KILLED", None)
    assert wait(checker, 10)


def test_grace_period_hides_startup_failures(clock: Any, kit: Any, harness: Any,
                                             tmp_path: Path) -> None:
    """This test ensures that a task failing its checks while it starts (within the grace
    period) gets no unhealthy update, and one healthy update once it passes."""
    h = harness()
    h.launch("sleep 30", kit.health_check(HealthCheck.COMMAND, "test -f ready",
                                          delay_seconds=0, interval_seconds=1,
                                          grace_period_seconds=30))
    assert [describe(h.next()) for _ in range(2)] == [
        ("TASK_STARTING", None), ("TASK_RUNNING", None)]
    checker = h.checker()

    # 1. Failures while starting: no update.
    for _ in range(3):
        h.checker_idle(checker)
        clock.advance(1)
        settle()
    h.checker_idle(checker)
    settle()
    assert h.agent.pending_statuses() == 0

    # 2. Ready: healthy.
    (tmp_path / "ready").touch()
    clock.advance(1)
    assert describe(h.next()) == ("TASK_RUNNING", True)


def test_bad_health_check_leaves_the_task_unchecked(clock: Any, kit: Any, harness: Any,
                                                    capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    """This test ensures that a task whose health check is invalid runs unchecked, and that
    the executor says why on its stderr, as Mesos's does."""
    h = harness()
    h.launch("sleep 30", HealthCheck(type=HealthCheck.TCP))

    assert [describe(h.next()) for _ in range(2)] == [
        ("TASK_STARTING", None), ("TASK_RUNNING", None)]
    assert h.checker() is None
    assert "Failed to create health checker: Expecting 'tcp' to be set for TCP health " \
        "check" in capsys.readouterr().err


def test_health_of_another_task_is_ignored(clock: Any, kit: Any, harness: Any) -> None:
    """This test ensures that a health report naming a task this executor does not run sends
    no update and kills nothing."""
    h = harness()
    h.launch("sleep 30", kit.health_check(HealthCheck.COMMAND, "true", delay_seconds=60))
    assert [describe(h.next()) for _ in range(2)] == [
        ("TASK_STARTING", None), ("TASK_RUNNING", None)]

    process = h.executor.process
    report = messages_pb2.TaskHealthStatus(healthy=False, kill_task=True)
    report.task_id.value = "other"
    dispatch(process, process.task_health_updated, report).get(10)
    settle()

    assert h.agent.pending_statuses() == 0
    assert h.checker() is not None


# The command executor as a real OS process.


@pytest.mark.integration
def test_os_executor_kills_unhealthy_task(kit: Any, start_command_executor: Any) -> None:
    """This test ensures that a real command executor whose task fails its COMMAND health
    check sends one TASK_RUNNING healthy=false update per failure, kills the task after
    `consecutive_failures` of them, ends it TASK_KILLED with healthy=false, and exits 0."""
    agent = kit.FakeAgent()
    spawn(agent)
    executor = start_command_executor(agent)
    agent.wait_registered(30)

    agent.run_task(kit.task_info("t1", "sleep 30", kit.health_check(
        HealthCheck.COMMAND, "echo checked; exit 1", delay_seconds=0, interval_seconds=0.1,
        grace_period_seconds=0, consecutive_failures=3)))

    statuses = [agent.next_status(30) for _ in range(6)]
    assert [describe(s) for s in statuses] == [
        ("TASK_STARTING", None), ("TASK_RUNNING", None), ("TASK_RUNNING", False),
        ("TASK_RUNNING", False), ("TASK_RUNNING", False), ("TASK_KILLED", False)]
    assert {s.reason for s in statuses[2:5]} == {HEALTH_UPDATED}
    assert executor.wait(30) == 0
    stdout, stderr = executor.output()
    assert "Received task health update, healthy: false" in stdout
    # The check's output goes to the executor's stderr, as in Mesos (a fourth check may
    # have started before the kill stopped the checker).
    assert stderr.count("checked") >= 3


@pytest.mark.integration
def test_os_executor_reports_healthy_once(kit: Any, start_command_executor: Any) -> None:
    """This test ensures that a real command executor whose task passes its health check many
    times sends exactly one TASK_RUNNING healthy=true update before the task finishes."""
    agent = kit.FakeAgent()
    spawn(agent)
    executor = start_command_executor(agent)
    agent.wait_registered(30)

    agent.run_task(kit.task_info("t1", "sleep 1", kit.health_check(
        HealthCheck.COMMAND, "echo checked >&2", delay_seconds=0, interval_seconds=0.05,
        grace_period_seconds=0)))

    statuses = [agent.next_status(30) for _ in range(4)]
    assert [describe(s) for s in statuses] == [
        ("TASK_STARTING", None), ("TASK_RUNNING", None), ("TASK_RUNNING", True),
        ("TASK_FINISHED", None)]
    assert executor.wait(30) == 0
    _, stderr = executor.output()
    # Many checks passed, one update said so.
    assert stderr.count("checked") >= 3
