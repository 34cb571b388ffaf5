"""Agent scenarios with executors: launching, status updates, kills, executor failures.

Executors are real OS processes started by the agent: the command executor for command
tasks, or a `sleep` standing for a custom executor, on whose behalf a `FakeExecutor` of the
test registers. The clock is paused, so only the test moves timeouts and retries.
"""

from __future__ import annotations

import os
import signal
from types import SimpleNamespace
from typing import Any

import psutil

import libprocess
from libprocess.clock import Clock
from libprocess.testing import (
    await_condition,
    drop_dispatch,
    drop_message,
    expect_no_message,
    future_message,
    settle,
)
from mesos.agent import paths
from mesos.agent.agent import ExecutorState, State
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

TaskStatus = mesos_pb2.TaskStatus


def _executor(agent: Any, framework_id: str, executor_id: str) -> Any:
    framework = agent.frameworks.get(framework_id)
    return None if framework is None else framework.executors.get(executor_id)


def test_command_task_runs_to_completion(clock: Clock, master: Any, tmp_path: Any,
                                         kit: SimpleNamespace) -> None:
    """This test ensures that a command task runs in the command executor, a real OS process
    in the task's sandbox with the Mesos executor environment, and that its updates reach
    the master one at a time through the status update manager, each after the previous one
    was acknowledged."""
    agent = kit.start_agent(clock, master, str(tmp_path))

    # 1. The master runs a command task; the agent launches the command executor, which
    #    registers and gets the task.
    registering = future_message(messages_pb2.RegisterExecutorMessage, to=agent)
    first = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    task = kit.command_task("task-1", "env > task_env; echo hello from the task")
    master.post(agent.upid, kit.run_task_message(task))
    registration = registering.get(kit.TIMEOUT)
    assert registration.executor_id.value == "task-1"  # Command executors take the task id.

    # 2. TASK_STARTING arrives first, from the agent, on the executor's behalf.
    update = first.get(kit.TIMEOUT)
    assert update.pid == str(agent.upid)
    assert update.update.status.state == mesos_pb2.TASK_STARTING
    assert update.update.status.source == TaskStatus.SOURCE_EXECUTOR
    assert update.update.slave_id.value == kit.SLAVE_ID

    # 3. Nothing else is forwarded until the master acknowledges it; then TASK_RUNNING, then
    #    TASK_FINISHED.
    settle()
    states = [m.update.status.state for m in master.messages(messages_pb2.StatusUpdateMessage)]
    assert states == [mesos_pb2.TASK_STARTING]
    for expected in (mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_FINISHED):
        following = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
        master.acknowledge(agent, update.update)
        update = following.get(kit.TIMEOUT)
        assert update.update.status.state == expected
    # The agent tells the master the task's newest state with every update.
    assert update.update.latest_state == mesos_pb2.TASK_FINISHED
    master.acknowledge(agent, update.update)

    # 4. The executor exits; its run is complete and the framework is removed.
    await_condition(lambda: kit.read_agent(agent, lambda: not agent.frameworks),
                    timeout=kit.TIMEOUT, message="the framework to be removed")

    # 5. The sandbox is where Mesos puts it, with a `latest` link, and the task saw the
    #    executor's environment.
    executors = os.path.join(str(tmp_path), "slaves", kit.SLAVE_ID, "frameworks",
                             kit.FRAMEWORK_ID, "executors", "task-1", "runs")
    runs = sorted(os.listdir(executors))
    assert len(runs) == 2 and "latest" in runs
    sandbox = os.path.realpath(os.path.join(executors, "latest"))
    with open(os.path.join(sandbox, "stdout")) as f:
        assert "hello from the task" in f.read()
    with open(os.path.join(sandbox, "task_env")) as f:
        environment = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    assert environment["MESOS_SLAVE_PID"] == str(agent.upid)
    assert environment["MESOS_FRAMEWORK_ID"] == kit.FRAMEWORK_ID
    assert environment["MESOS_EXECUTOR_ID"] == "task-1"
    assert environment["MESOS_SLAVE_ID"] == kit.SLAVE_ID
    assert environment["MESOS_DIRECTORY"] == sandbox
    assert environment["MESOS_SANDBOX"] == sandbox
    assert environment["MESOS_CHECKPOINT"] == "0"
    assert environment["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] == "5secs"
    assert environment["LIBPROCESS_IP"] == agent.upid.host
    assert "MESOS_AGENT_ENDPOINT" in environment
    assert kit.read_agent(agent, lambda: agent.metrics.tasks_finished.value) == 1


def test_custom_executor_update_acknowledged_after_recording(
        clock: Clock, master: Any, tmp_path: Any, kit: SimpleNamespace) -> None:
    """This test ensures that an executor's status update is acknowledged to the executor by
    the agent only once the status update manager has recorded it, and is forwarded to the
    master with the agent's pid for the acknowledgement."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    assert executor.messages(messages_pb2.ExecutorRegisteredMessage)

    # 1. While the update manager does not record the update, the executor gets no ack.
    blocked = drop_dispatch(agent.status_update_manager.process, "update")
    executor.update("t1", mesos_pb2.TASK_RUNNING)
    blocked.get(kit.TIMEOUT)
    settle()
    assert not executor.messages(messages_pb2.StatusUpdateAcknowledgementMessage)
    assert not master.messages(messages_pb2.StatusUpdateMessage)

    # 2. Once recorded, it is acknowledged to the executor and forwarded to the master.
    acked = future_message(messages_pb2.StatusUpdateAcknowledgementMessage, from_=agent,
                           to=executor)
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    sent = executor.update("t1", mesos_pb2.TASK_RUNNING)
    assert acked.get(kit.TIMEOUT).uuid == sent.uuid
    message = forwarded.get(kit.TIMEOUT)
    assert message.update.uuid == sent.uuid
    assert message.pid == str(agent.upid)
    settle()
    assert kit.read_agent(agent, lambda: agent._count_tasks(mesos_pb2.TASK_RUNNING)) == 1


def test_malformed_updates_dropped_and_counted(clock: Clock, master: Any, tmp_path: Any,
                                               kit: SimpleNamespace) -> None:
    """This test ensures that updates without a uuid, for another agent or for an unknown
    framework are dropped, never acknowledged nor forwarded, and counted in
    `slave/invalid_status_updates`."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    expect_no_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    expect_no_message(messages_pb2.StatusUpdateAcknowledgementMessage, from_=agent)

    executor.update("t1", mesos_pb2.TASK_RUNNING, uuid=b"")
    executor.update("t1", mesos_pb2.TASK_RUNNING, slave_id="another-agent")
    executor.update("t1", mesos_pb2.TASK_RUNNING, framework_id="unknown-framework")
    settle()

    assert kit.read_agent(agent, lambda: (agent.metrics.invalid_status_updates.value,
                                          agent.metrics.valid_status_updates.value)) == (3, 0)
    status, snapshot = kit.http_get("/metrics/snapshot")
    assert status == 200 and snapshot["slave/invalid_status_updates"] == 3


def test_master_acknowledgement_completes_terminal_task(clock: Clock, master: Any,
                                                        tmp_path: Any,
                                                        kit: SimpleNamespace) -> None:
    """This test ensures that the master's acknowledgement of a terminal update completes
    the task: it moves to the executor's completed tasks."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    executor.update("t1", mesos_pb2.TASK_FINISHED)
    update = forwarded.get(kit.TIMEOUT).update
    settle()
    assert kit.read_agent(agent, lambda: list(
        _executor(agent, kit.FRAMEWORK_ID, "e1").terminated_tasks)) == ["t1"]

    master.acknowledge(agent, update)
    settle()
    completed = kit.read_agent(agent, lambda: [
        t.task_id.value for t in _executor(agent, kit.FRAMEWORK_ID, "e1").completed_tasks])
    assert completed == ["t1"]


def test_kill_of_queued_task_is_immediate(clock: Clock, master: Any, tmp_path: Any,
                                          kit: SimpleNamespace) -> None:
    """This test ensures that killing a task whose executor has not registered yet ends the
    task at once with TASK_KILLED (REASON_TASK_KILLED_DURING_LAUNCH), and that the
    executor, registering later with nothing to run, is told to shut down."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    master.post(agent.upid, kit.run_task_message(kit.executor_task("t1", "e1")))
    settle()

    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    kill = messages_pb2.KillTaskMessage()
    kill.framework_id.value = kit.FRAMEWORK_ID
    kill.task_id.value = "t1"
    master.post(agent.upid, kill)
    status = forwarded.get(kit.TIMEOUT).update.status
    assert status.state == mesos_pb2.TASK_KILLED
    assert status.reason == TaskStatus.REASON_TASK_KILLED_DURING_LAUNCH
    assert status.source == TaskStatus.SOURCE_SLAVE

    shutdown = future_message(messages_pb2.ShutdownExecutorMessage, from_=agent)
    executor = kit.FakeExecutor(agent, kit.FRAMEWORK_ID, "e1")
    libprocess.spawn(executor)
    shutdown.get(kit.TIMEOUT)
    settle()
    assert not executor.messages(messages_pb2.RunTaskMessage)


def test_kill_of_launched_task_goes_to_executor(clock: Clock, master: Any, tmp_path: Any,
                                                kit: SimpleNamespace) -> None:
    """This test ensures that killing a task its executor has is forwarded to the executor,
    with the kill policy."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    kill_seen = future_message(messages_pb2.KillTaskMessage, from_=agent, to=executor)
    kill = messages_pb2.KillTaskMessage()
    kill.framework_id.value = kit.FRAMEWORK_ID
    kill.task_id.value = "t1"
    kill.kill_policy.grace_period.nanoseconds = 2_000_000_000
    master.post(agent.upid, kill)
    received = kill_seen.get(kit.TIMEOUT)
    assert received.task_id.value == "t1"
    assert received.kill_policy.grace_period.nanoseconds == 2_000_000_000


def test_command_task_killed(clock: Clock, master: Any, tmp_path: Any,
                             kit: SimpleNamespace) -> None:
    """This test ensures that a running command task is killed by the command executor when
    the master kills it, and ends TASK_KILLED."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    starting = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    master.post(agent.upid, kit.run_task_message(kit.command_task("task-1", "sleep 1000")))
    update = starting.get(kit.TIMEOUT).update
    running = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    master.acknowledge(agent, update)
    update = running.get(kit.TIMEOUT).update
    assert update.status.state == mesos_pb2.TASK_RUNNING

    killed = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    kill = messages_pb2.KillTaskMessage()
    kill.framework_id.value = kit.FRAMEWORK_ID
    kill.task_id.value = "task-1"
    master.post(agent.upid, kill)
    master.acknowledge(agent, update)
    final = killed.get(kit.TIMEOUT).update
    assert final.status.state == mesos_pb2.TASK_KILLED


def test_executor_registration_timeout(clock: Clock, master: Any, tmp_path: Any,
                                       kit: SimpleNamespace) -> None:
    """This test ensures that an executor that does not register within
    `--executor_registration_timeout` is destroyed (its OS process killed), its tasks fail
    with REASON_EXECUTOR_REGISTRATION_TIMEOUT and the master hears ExitedExecutorMessage."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    master.post(agent.upid, kit.run_task_message(kit.executor_task("t1", "e1")))
    settle()
    pid = kit.read_agent(agent, lambda: agent.containerizer.pid(
        _executor(agent, kit.FRAMEWORK_ID, "e1").container_id))
    assert psutil.pid_exists(pid)

    failed = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    exited = future_message(messages_pb2.ExitedExecutorMessage, from_=agent, to=master)
    clock.advance(59.0)
    settle()
    assert not master.messages(messages_pb2.StatusUpdateMessage)
    clock.advance(1.0)
    status = failed.get(kit.TIMEOUT).update.status
    assert status.state == mesos_pb2.TASK_FAILED
    assert status.reason == TaskStatus.REASON_EXECUTOR_REGISTRATION_TIMEOUT
    assert status.message == "Executor did not register within 1mins"
    message = exited.get(kit.TIMEOUT)
    assert message.executor_id.value == "e1"
    assert os.WIFSIGNALED(message.status) and os.WTERMSIG(message.status) == signal.SIGKILL
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_executor_exit_fails_its_tasks(clock: Clock, master: Any, tmp_path: Any,
                                       kit: SimpleNamespace) -> None:
    """This test ensures that when an executor's process ends, its unfinished tasks get
    TASK_FAILED (REASON_EXECUTOR_TERMINATED, from the agent) and the master hears
    ExitedExecutorMessage with the exit status."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    failed = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    exited = future_message(messages_pb2.ExitedExecutorMessage, from_=agent, to=master)
    master.post(agent.upid, kit.run_task_message(
        kit.executor_task("t1", "e1", command="echo dying >&2; exit 3")))

    status = failed.get(kit.TIMEOUT).update.status
    assert status.state == mesos_pb2.TASK_FAILED
    assert status.reason == TaskStatus.REASON_EXECUTOR_TERMINATED
    assert status.source == TaskStatus.SOURCE_SLAVE
    assert status.executor_id.value == "e1"
    message = exited.get(kit.TIMEOUT)
    assert os.WIFEXITED(message.status) and os.WEXITSTATUS(message.status) == 3
    settle()
    assert kit.read_agent(agent, lambda: (
        _executor(agent, kit.FRAMEWORK_ID, "e1").state,
        agent.metrics.executors_terminated.value)) == (ExecutorState.TERMINATED, 1)


def test_killed_executor_process_fails_running_task(clock: Clock, master: Any,
                                                    tmp_path: Any,
                                                    kit: SimpleNamespace) -> None:
    """This test ensures that `kill -9` of a registered executor's process fails its
    running task with TASK_FAILED and REASON_EXECUTOR_TERMINATED."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    running = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    executor.update("t1", mesos_pb2.TASK_RUNNING)
    update = running.get(kit.TIMEOUT).update

    pid = kit.read_agent(agent, lambda: agent.containerizer.pid(
        _executor(agent, kit.FRAMEWORK_ID, "e1").container_id))
    failed = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    os.kill(pid, signal.SIGKILL)
    master.acknowledge(agent, update)
    status = failed.get(kit.TIMEOUT).update.status
    assert (status.state, status.reason) == (mesos_pb2.TASK_FAILED,
                                             TaskStatus.REASON_EXECUTOR_TERMINATED)


def test_task_needing_more_than_the_agent_has_is_refused(clock: Clock, master: Any,
                                                         tmp_path: Any,
                                                         kit: SimpleNamespace) -> None:
    """This test ensures that a task asking for resources the agent does not have is not
    launched: it ends TASK_LOST (REASON_INVALID_OFFERS) and no executor starts."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    lost = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    task = kit.command_task("big", "true", resources="cpus:64;mem:64")
    master.post(agent.upid, kit.run_task_message(task))
    status = lost.get(kit.TIMEOUT).update.status
    assert status.state == mesos_pb2.TASK_LOST
    assert status.reason == TaskStatus.REASON_INVALID_OFFERS
    settle()
    assert kit.read_agent(agent, lambda: agent.containerizer.containers()) == set()


def test_task_for_another_agent_is_ignored(clock: Clock, master: Any, tmp_path: Any,
                                           kit: SimpleNamespace) -> None:
    """This test ensures that a task meant for an older incarnation of the agent (another
    agent id) is ignored, as in Mesos."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    expect_no_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    task = kit.command_task("t1", "true", slave_id="old-agent-S9")
    master.post(agent.upid, kit.run_task_message(task))
    settle()
    assert kit.read_agent(agent, lambda: agent.frameworks) == {}


def test_invalid_task_answered_with_task_error(clock: Clock, master: Any, tmp_path: Any,
                                               kit: SimpleNamespace) -> None:
    """This test ensures that a task with both a command and an executor is not run and
    ends TASK_ERROR (REASON_TASK_INVALID), instead of crashing the agent."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    error = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    task = kit.executor_task("t1", "e1")
    task.command.value = "true"
    master.post(agent.upid, kit.run_task_message(task))
    status = error.get(kit.TIMEOUT).update.status
    assert (status.state, status.reason) == (mesos_pb2.TASK_ERROR,
                                             TaskStatus.REASON_TASK_INVALID)
    assert kit.read_agent(agent, lambda: agent.state) is State.RUNNING


def test_shutdown_framework_shuts_down_executors(clock: Clock, master: Any, tmp_path: Any,
                                                 kit: SimpleNamespace) -> None:
    """This test ensures that ShutdownFrameworkMessage asks the framework's executors to
    shut down and destroys their containers after the grace period."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    pid = kit.read_agent(agent, lambda: agent.containerizer.pid(
        _executor(agent, kit.FRAMEWORK_ID, "e1").container_id))

    shutdown = future_message(messages_pb2.ShutdownExecutorMessage, from_=agent, to=executor)
    message = messages_pb2.ShutdownFrameworkMessage()
    message.framework_id.value = kit.FRAMEWORK_ID
    master.post(agent.upid, message)
    shutdown.get(kit.TIMEOUT)
    settle()

    # The executor does not comply: after the grace period its container is destroyed, and
    # the framework goes once its executor is gone.
    clock.advance(5.0)
    await_condition(lambda: kit.read_agent(agent, lambda: not agent.frameworks),
                    timeout=kit.TIMEOUT, message="the framework to be removed")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert kit.read_agent(agent, lambda: list(agent.completed_frameworks)) == [
        kit.FRAMEWORK_ID]


def test_shutdown_message_shuts_down_executors_then_agent(clock: Clock, master: Any,
                                                          tmp_path: Any,
                                                          kit: SimpleNamespace) -> None:
    """This test ensures that ShutdownMessage shuts every executor down and terminates the
    agent once they are gone."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    shutdown = future_message(messages_pb2.ShutdownExecutorMessage, from_=agent, to=executor)
    master.post(agent.upid, messages_pb2.ShutdownMessage(message="Agent removed"))
    shutdown.get(kit.TIMEOUT)
    settle()
    assert not libprocess.wait(agent, 0)
    clock.advance(5.0)
    assert libprocess.wait(agent, kit.TIMEOUT)
    assert agent.exit_status == 0


def test_framework_messages_relayed(clock: Clock, master: Any, tmp_path: Any,
                                    kit: SimpleNamespace) -> None:
    """This test ensures that framework messages are relayed: scheduler to executor, and
    executor to scheduler (through the master for a framework without a pid)."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)

    to_executor = future_message(messages_pb2.FrameworkToExecutorMessage, from_=agent,
                                 to=executor)
    message = messages_pb2.FrameworkToExecutorMessage(data=b"ping")
    message.slave_id.value = kit.SLAVE_ID
    message.framework_id.value = kit.FRAMEWORK_ID
    message.executor_id.value = "e1"
    master.post(agent.upid, message)
    assert to_executor.get(kit.TIMEOUT).data == b"ping"

    to_framework = future_message(messages_pb2.ExecutorToFrameworkMessage, from_=agent,
                                  to=master)
    reply = messages_pb2.ExecutorToFrameworkMessage(data=b"pong")
    reply.slave_id.value = kit.SLAVE_ID
    reply.framework_id.value = kit.FRAMEWORK_ID
    reply.executor_id.value = "e1"
    executor.post(reply)
    assert to_framework.get(kit.TIMEOUT).data == b"pong"
    settle()
    assert kit.read_agent(agent, lambda: agent.metrics.valid_framework_messages.value) == 2


def test_unknown_executor_registration_refused(clock: Clock, master: Any, tmp_path: Any,
                                               kit: SimpleNamespace) -> None:
    """This test ensures that an executor the agent did not launch is told to shut down."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    shutdown = future_message(messages_pb2.ShutdownExecutorMessage, from_=agent)
    stranger = kit.FakeExecutor(agent, kit.FRAMEWORK_ID, "nobody")
    libprocess.spawn(stranger)
    shutdown.get(kit.TIMEOUT)


def test_sandbox_layout(clock: Clock, master: Any, tmp_path: Any,
                        kit: SimpleNamespace) -> None:
    """This test ensures that an executor's sandbox is the Mesos run directory, with the
    executor's stdout and stderr files, and that `runs/latest` points at it."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    master.post(agent.upid, kit.run_task_message(kit.executor_task("t1", "e1")))
    settle()
    directory, container = kit.read_agent(agent, lambda: (
        _executor(agent, kit.FRAMEWORK_ID, "e1").directory,
        _executor(agent, kit.FRAMEWORK_ID, "e1").container_id))
    assert directory == paths.get_executor_run_path(str(tmp_path), kit.SLAVE_ID,
                                                    kit.FRAMEWORK_ID, "e1", container)
    assert os.path.realpath(paths.get_executor_latest_run_path(
        str(tmp_path), kit.SLAVE_ID, kit.FRAMEWORK_ID, "e1")) == os.path.realpath(directory)
    assert {"stdout", "stderr"} <= set(os.listdir(directory))


def test_executor_launch_failure_fails_its_task(clock: Clock, master: Any, tmp_path: Any,
                                                kit: SimpleNamespace) -> None:
    """This test ensures that an executor whose program cannot be started fails its task
    with REASON_CONTAINER_LAUNCH_FAILED and counts `slave/container_launch_errors`."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    task = kit.executor_task("t1", "e1", command="/no/such/executor")
    task.executor.command.shell = False
    failed = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    exited = future_message(messages_pb2.ExitedExecutorMessage, from_=agent, to=master)
    master.post(agent.upid, kit.run_task_message(task))
    status = failed.get(kit.TIMEOUT).update.status
    assert status.state == mesos_pb2.TASK_FAILED
    assert status.reason == TaskStatus.REASON_CONTAINER_LAUNCH_FAILED
    assert "Failed to launch container" in status.message
    assert exited.get(kit.TIMEOUT).status == -1
    settle()
    assert kit.read_agent(agent, lambda: agent.metrics.container_launch_errors.value) == 1


def test_invalid_ids_do_not_crash_the_agent(clock: Clock, master: Any, tmp_path: Any,
                                            kit: SimpleNamespace) -> None:
    """This test ensures that a task whose executor id cannot name a sandbox directory is
    dropped with a TASK_LOST update instead of breaking the agent."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    lost = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    master.post(agent.upid, kit.run_task_message(kit.executor_task("t1", "../../escape")))
    status = lost.get(kit.TIMEOUT).update.status
    assert status.state == mesos_pb2.TASK_LOST
    assert not os.path.exists(os.path.join(str(tmp_path), "slaves", kit.SLAVE_ID,
                                           "frameworks", "escape"))
    assert kit.read_agent(agent, lambda: agent.state) is State.RUNNING


def test_shutdown_executor_message(clock: Clock, master: Any, tmp_path: Any,
                                   kit: SimpleNamespace) -> None:
    """This test ensures that the master's ShutdownExecutorMessage is passed to the
    executor, whose container is destroyed if it is still there after the grace period, and
    whose running task then fails."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    shutdown = future_message(messages_pb2.ShutdownExecutorMessage, from_=agent, to=executor)
    message = messages_pb2.ShutdownExecutorMessage()
    message.framework_id.value = kit.FRAMEWORK_ID
    message.executor_id.value = "e1"
    master.post(agent.upid, message)
    shutdown.get(kit.TIMEOUT)
    settle()
    assert kit.read_agent(agent, lambda: _executor(agent, kit.FRAMEWORK_ID, "e1").state) is (
        ExecutorState.TERMINATING)

    failed = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(5.0)
    status = failed.get(kit.TIMEOUT).update.status
    assert (status.state, status.reason) == (mesos_pb2.TASK_FAILED,
                                             TaskStatus.REASON_EXECUTOR_TERMINATED)


def test_forwarded_update_retried_until_acknowledged(clock: Clock, master: Any,
                                                     tmp_path: Any,
                                                     kit: SimpleNamespace) -> None:
    """This test ensures that an update the master never acknowledges (its first forward
    was lost) is forwarded again after 10 secs of clock."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    dropped = drop_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    sent = executor.update("t1", mesos_pb2.TASK_RUNNING)
    dropped.get(kit.TIMEOUT)
    settle()

    retried = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(10.0)
    assert retried.get(kit.TIMEOUT).update.uuid == sent.uuid


def test_updates_wait_while_disconnected(clock: Clock, master: Any, tmp_path: Any,
                                         kit: SimpleNamespace) -> None:
    """This test ensures that while the agent is disconnected from its master, executors'
    updates are recorded and acknowledged but not forwarded, and are forwarded as soon as
    the agent has reregistered."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)

    # 1. The master says the agent is disconnected: it goes back to registering.
    master.answer_registration = False
    master.post(agent.upid, messages_pb2.PingSlaveMessage(connected=False))
    settle()
    assert kit.read_agent(agent, lambda: agent.state) is State.DISCONNECTED

    # 2. An update meanwhile is acknowledged to the executor but not forwarded.
    acked = future_message(messages_pb2.StatusUpdateAcknowledgementMessage, to=executor)
    sent = executor.update("t1", mesos_pb2.TASK_RUNNING)
    acked.get(kit.TIMEOUT)
    settle()
    assert not master.messages(messages_pb2.StatusUpdateMessage)

    # 3. Once reregistered, the update goes to the master.
    master.answer_registration = True
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(2.0)
    update = forwarded.get(kit.TIMEOUT).update
    assert update.uuid == sent.uuid


def test_update_framework_changes_scheduler_pid(clock: Clock, master: Any, tmp_path: Any,
                                                kit: SimpleNamespace) -> None:
    """This test ensures that after UpdateFrameworkMessage (a scheduler failover) executor
    messages go straight to the framework's new pid."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    scheduler = kit.FakeMaster()
    libprocess.spawn(scheduler)

    update = messages_pb2.UpdateFrameworkMessage(pid=str(scheduler.upid))
    update.framework_id.value = kit.FRAMEWORK_ID
    update.framework_info.CopyFrom(kit.framework_info())
    master.post(agent.upid, update)
    settle()

    to_scheduler = future_message(messages_pb2.ExecutorToFrameworkMessage, from_=agent,
                                  to=scheduler)
    message = messages_pb2.ExecutorToFrameworkMessage(data=b"hi")
    message.slave_id.value = kit.SLAVE_ID
    message.framework_id.value = kit.FRAMEWORK_ID
    message.executor_id.value = "e1"
    executor.post(message)
    assert to_scheduler.get(kit.TIMEOUT).data == b"hi"


def test_second_task_goes_straight_to_running_executor(clock: Clock, master: Any,
                                                       tmp_path: Any,
                                                       kit: SimpleNamespace) -> None:
    """This test ensures that a task for an executor that is already registered is sent to
    it at once, and no second container is launched."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    second = future_message(messages_pb2.RunTaskMessage, from_=agent, to=executor)
    master.post(agent.upid, kit.run_task_message(kit.executor_task("t2", "e1")))
    assert second.get(kit.TIMEOUT).task.task_id.value == "t2"
    settle()
    assert kit.read_agent(agent, lambda: len(agent.containerizer.containers())) == 1
