"""Tests of the executor driver against a fake agent (actor level, paused clock).

In the spirit of Mesos's `src/tests/fault_tolerance_tests.cpp` and `slave_recovery_tests.cpp`
(executor side): the driver is the real one, the agent is `FakeAgent` (see conftest.py), and
each test reads what the driver sent off the agent and what the executor saw off
`RecordingExecutor`.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import mesos.native
from libprocess import spawn, terminate, wait
from libprocess.testing import expect_no_message, settle
from mesos.exec.driver import ExecutorEnvironment, MesosExecutorDriver
from mesos.interface import ExecutorDriver, mesos_pb2
from mesos.protos.messages import messages_pb2

DRIVER_RUNNING = mesos_pb2.DRIVER_RUNNING
DRIVER_STOPPED = mesos_pb2.DRIVER_STOPPED
DRIVER_ABORTED = mesos_pb2.DRIVER_ABORTED


def registered_driver(kit: Any, start_driver: Any, agent: Any, executor: Any,
                      **env: str) -> MesosExecutorDriver:
    driver = start_driver(agent, executor, **env)
    executor.next("registered")
    return driver


def test_registration(clock: Any, kit: Any, agent: Any, start_driver: Any) -> None:
    """This test ensures that a started driver links to the agent named by `MESOS_SLAVE_PID`,
    sends `RegisterExecutorMessage` with its framework and executor ids, and calls
    `registered()` with what the agent answered, on the driver's own thread."""
    executor = kit.RecordingExecutor()

    # 1. Start the driver; the agent answers the registration.
    driver = start_driver(agent, executor)

    # 2. The registration names the framework and the executor from the environment.
    register = agent.next(messages_pb2.RegisterExecutorMessage)
    assert register.framework_id.value == kit.FRAMEWORK_ID
    assert register.executor_id.value == kit.EXECUTOR_ID
    assert agent.executor_pid == driver.process.upid
    assert driver.process.upid.id.startswith("executor(")

    # 3. The executor hears of it, with the agent's infos, on the driver's thread.
    executor_info, framework_info, slave_info = executor.next("registered")
    assert executor_info.executor_id.value == kit.EXECUTOR_ID
    assert framework_info.id.value == kit.FRAMEWORK_ID
    assert slave_info.id.value == kit.SLAVE_ID


def test_callbacks_run_on_the_driver_thread(kit: Any, agent: Any, start_driver: Any) -> None:
    """This test ensures that the executor's callbacks run on the driver process's thread,
    not on the test's (the caller's) thread."""
    executor = kit.RecordingExecutor()
    seen: list[threading.Thread] = []
    executor.on["registered"] = lambda driver, *args: seen.append(threading.current_thread())

    registered_driver(kit, start_driver, agent, executor)

    assert seen and seen[0] is not threading.current_thread()


def test_launch_task(clock: Any, kit: Any, agent: Any, start_driver: Any) -> None:
    """This test ensures that a `RunTaskMessage` from the agent reaches `launchTask()` and
    that the task is kept as unacknowledged until an update for it is acknowledged."""
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor)

    # 1. The agent sends a task.
    agent.run_task(kit.task_info("t1", "echo hi"))

    # 2. The executor gets it, whole.
    (task,) = executor.next("launchTask")
    assert task.task_id.value == "t1"
    assert task.command.value == "echo hi"
    settle()
    assert list(driver.process.tasks) == ["t1"]


def test_status_update_is_kept_until_acknowledged(clock: Any, kit: Any, start_driver: Any
                                                   ) -> None:
    """This test ensures that `sendStatusUpdate` sends a `StatusUpdateMessage` whose update
    has a fresh 16-byte uuid (also in the status), the source SOURCE_EXECUTOR, the ids of
    framework, executor and agent, the clock's time, and the driver's pid; and that the
    driver keeps the update (and its task) until the agent acknowledges that uuid."""
    agent = kit.FakeAgent(auto_acknowledge=False)
    spawn(agent)
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor)
    agent.run_task(kit.task_info("t1", "sleep 1"))
    executor.next("launchTask")

    # 1. Send an update.
    clock.advance(3.0)
    assert driver.sendStatusUpdate(kit.task_status("t1", mesos_pb2.TASK_RUNNING)) == \
        DRIVER_RUNNING

    # 2. What the agent got.
    message = agent.next(messages_pb2.StatusUpdateMessage)
    update = message.update
    assert message.pid == str(driver.process.upid)
    assert len(update.uuid) == 16
    uuid.UUID(bytes=update.uuid)
    assert update.status.uuid == update.uuid
    assert update.status.source == mesos_pb2.TaskStatus.SOURCE_EXECUTOR
    assert update.status.state == mesos_pb2.TASK_RUNNING
    assert update.framework_id.value == kit.FRAMEWORK_ID
    assert update.executor_id.value == kit.EXECUTOR_ID
    assert update.slave_id.value == kit.SLAVE_ID
    assert update.status.slave_id.value == kit.SLAVE_ID
    assert update.timestamp == clock.now()
    assert update.status.timestamp == update.timestamp

    # 3. Unacknowledged: kept, with its task.
    settle()
    assert list(driver.process.updates) == [update.uuid]
    assert list(driver.process.tasks) == ["t1"]

    # 4. An acknowledgement for another uuid changes nothing.
    stale = agent.acknowledgement(update)
    stale.uuid = uuid.uuid4().bytes
    agent.tell(None, stale)
    settle()
    assert list(driver.process.updates) == [update.uuid]

    # 5. The right acknowledgement releases both.
    agent.acknowledge(update)
    settle()
    assert driver.process.updates == {}
    assert driver.process.tasks == {}


def test_each_update_gets_its_own_uuid(kit: Any, agent: Any, start_driver: Any) -> None:
    """This test ensures that two updates of the same status get different uuids (the agent
    drops an update whose uuid it has seen as a duplicate)."""
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor)
    status = kit.task_status("t1", mesos_pb2.TASK_RUNNING)

    driver.sendStatusUpdate(status)
    driver.sendStatusUpdate(status)

    first = agent.next(messages_pb2.StatusUpdateMessage).update.uuid
    second = agent.next(messages_pb2.StatusUpdateMessage).update.uuid
    assert first != second


def test_reconnect_reregisters_with_unacknowledged_tasks_and_updates(
        clock: Any, kit: Any, start_driver: Any) -> None:
    """This test ensures that, for a checkpointing framework, an executor whose agent dies
    waits for it (`disconnected()`, no shutdown), and that a `ReconnectExecutorMessage` from
    the restarted agent (at a new pid) is answered with a `ReregisterExecutorMessage` that
    carries exactly the tasks and updates the old agent never acknowledged; then
    `ExecutorReregisteredMessage` reaches `reregistered()` (mesos-behaviour.md §2.8)."""
    old = kit.FakeAgent(auto_acknowledge=False)
    spawn(old)
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, old, executor, MESOS_CHECKPOINT="1",
                               MESOS_RECOVERY_TIMEOUT="1mins")

    # 1. Two tasks; an update for each; only t1's is acknowledged.
    old.run_task(kit.task_info("t1", "sleep 1"))
    old.run_task(kit.task_info("t2", "sleep 2"))
    executor.next("launchTask")
    executor.next("launchTask")
    driver.sendStatusUpdate(kit.task_status("t1", mesos_pb2.TASK_RUNNING))
    driver.sendStatusUpdate(kit.task_status("t2", mesos_pb2.TASK_RUNNING))
    first = old.next(messages_pb2.StatusUpdateMessage).update
    second = old.next(messages_pb2.StatusUpdateMessage).update
    old.acknowledge(first)
    settle()

    # 2. The agent dies: the executor is told it is disconnected, and is not shut down.
    terminate(old)
    wait(old, 10)
    executor.next("disconnected")
    clock.advance(30.0)
    settle()
    assert executor.count("shutdown") == 0

    # 3. The restarted agent (a new pid) asks the executor to reconnect.
    new = kit.FakeAgent()
    spawn(new)
    reconnect = messages_pb2.ReconnectExecutorMessage()
    reconnect.slave_id.value = kit.SLAVE_ID
    new.tell(driver.process.upid, reconnect)

    # 4. The reregistration carries exactly t2 and its update.
    reregister = new.next(messages_pb2.ReregisterExecutorMessage)
    assert reregister.framework_id.value == kit.FRAMEWORK_ID
    assert reregister.executor_id.value == kit.EXECUTOR_ID
    assert [t.task_id.value for t in reregister.tasks] == ["t2"]
    assert [u.uuid for u in reregister.updates] == [second.uuid]
    assert reregister.updates[0] == second

    # 5. The agent confirms; the executor hears of it; the recovery timeout passes harmlessly.
    reregistered = messages_pb2.ExecutorReregisteredMessage()
    reregistered.slave_id.value = kit.SLAVE_ID
    reregistered.slave_info.CopyFrom(new.slave_info)
    new.tell(driver.process.upid, reregistered)
    (slave_info,) = executor.next("reregistered")
    assert slave_info.id.value == kit.SLAVE_ID
    clock.advance(60.0)
    settle()
    assert executor.count("shutdown") == 0

    # 6. The new agent now acknowledges the old update, and later updates go to it.
    new.acknowledge(second)
    settle()
    assert driver.process.updates == {}
    driver.sendStatusUpdate(kit.task_status("t2", mesos_pb2.TASK_FINISHED))
    assert new.next(messages_pb2.StatusUpdateMessage).update.status.state == \
        mesos_pb2.TASK_FINISHED


def test_reconnect_from_another_agent_id_is_ignored(clock: Any, kit: Any, start_driver: Any
                                                     ) -> None:
    """This test ensures that a `ReconnectExecutorMessage` naming another agent id (a
    different agent at that address) does not take the executor over."""
    old = kit.FakeAgent()
    spawn(old)
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, old, executor, MESOS_CHECKPOINT="1")
    terminate(old)
    wait(old, 10)
    executor.next("disconnected")

    other = kit.FakeAgent()
    spawn(other)
    reconnect = messages_pb2.ReconnectExecutorMessage()
    reconnect.slave_id.value = "some-other-agent-S9"
    expect_no_message(messages_pb2.ReregisterExecutorMessage)
    other.tell(driver.process.upid, reconnect)
    settle()
    assert driver.process.ignored_messages == 1


def test_recovery_timeout_shuts_down(clock: Any, kit: Any, start_driver: Any,
                                     suicides: list[int]) -> None:
    """This test ensures that a checkpointing executor whose agent does not come back within
    `MESOS_RECOVERY_TIMEOUT` calls `shutdown()`, and that its process group is killed once
    the shutdown grace period has passed after that."""
    old = kit.FakeAgent()
    spawn(old)
    executor = kit.RecordingExecutor()
    registered_driver(kit, start_driver, old, executor, MESOS_CHECKPOINT="1",
                      MESOS_RECOVERY_TIMEOUT="10secs",
                      MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD="4secs")

    # 1. The agent dies.
    terminate(old)
    wait(old, 10)
    executor.next("disconnected")

    # 2. Just before the recovery timeout: still waiting.
    clock.advance(9.9)
    settle()
    assert executor.count("shutdown") == 0

    # 3. At the timeout: shutdown.
    clock.advance(0.1)
    executor.next("shutdown")
    settle()

    # 4. The grace period later, the process group is killed.
    clock.advance(3.9)
    settle()
    assert suicides == []
    clock.advance(0.1)
    settle()
    assert suicides == [1]


def test_agent_exit_without_checkpointing_shuts_down(clock: Any, kit: Any, agent: Any,
                                                     start_driver: Any) -> None:
    """This test ensures that an executor of a framework without checkpointing shuts down
    as soon as its agent dies (no `disconnected()`, no wait)."""
    executor = kit.RecordingExecutor()
    registered_driver(kit, start_driver, agent, executor)

    terminate(agent)
    wait(agent, 10)

    executor.next("shutdown")
    assert executor.count("disconnected") == 0


def test_messages_from_another_pid_are_ignored(clock: Any, kit: Any, agent: Any,
                                               start_driver: Any) -> None:
    """This test ensures that messages that do not come from the agent (`MESOS_SLAVE_PID`)
    are ignored and counted: no task is launched, killed or shut down because of them."""
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor)
    impostor = kit.FakeAgent()
    spawn(impostor)

    # 1. The impostor sends a task, a kill, a framework message and a shutdown.
    run = messages_pb2.RunTaskMessage()
    run.framework_id.value = kit.FRAMEWORK_ID
    run.framework.CopyFrom(kit.framework_info())
    run.task.CopyFrom(kit.task_info("evil", "rm -rf /"))
    kill = messages_pb2.KillTaskMessage()
    kill.framework_id.value = kit.FRAMEWORK_ID
    kill.task_id.value = "t1"
    data = messages_pb2.FrameworkToExecutorMessage(data=b"boo")
    data.slave_id.value = kit.SLAVE_ID
    data.framework_id.value = kit.FRAMEWORK_ID
    data.executor_id.value = kit.EXECUTOR_ID
    for message in (run, kill, data, messages_pb2.ShutdownExecutorMessage()):
        impostor.tell(driver.process.upid, message)
    settle()

    # 2. None reached the executor.
    for name in ("launchTask", "killTask", "frameworkMessage", "shutdown"):
        assert executor.count(name) == 0
    assert driver.process.tasks == {}
    assert driver.process.ignored_messages == 4

    # 3. The same task from the agent is launched.
    agent.run_task(kit.task_info("t1", "true"))
    (task,) = executor.next("launchTask")
    assert task.task_id.value == "t1"


def test_shutdown(clock: Any, kit: Any, agent: Any, start_driver: Any,
                  suicides: list[int]) -> None:
    """This test ensures that `ShutdownExecutorMessage` calls `shutdown()`, that nothing more
    reaches the executor afterwards, and that the executor's process group is killed after
    `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` if the executor has not exited by then."""
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor,
                               MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD="2secs")

    # 1. Shutdown.
    agent.shutdown_executor()
    executor.next("shutdown")
    settle()

    # 2. Later messages are ignored.
    agent.run_task(kit.task_info("late", "true"))
    settle()
    assert executor.count("launchTask") == 0

    # 3. The executor may still send its last updates, and they are still acknowledged.
    driver.sendStatusUpdate(kit.task_status("t1", mesos_pb2.TASK_KILLED))
    agent.next(messages_pb2.StatusUpdateMessage)
    driver.awaitAcknowledgements().get(timeout=10)

    # 4. The grace period: then the process group dies.
    clock.advance(1.9)
    settle()
    assert suicides == []
    clock.advance(0.1)
    settle()
    assert suicides == [1]


def test_local_shutdown_stops_the_driver(clock: Any, kit: Any, agent: Any, start_driver: Any,
                                         suicides: list[int]) -> None:
    """This test ensures that with `MESOS_LOCAL` (an executor in the agent's OS process) a
    shutdown stops the driver instead of killing the process group."""
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor, MESOS_LOCAL="1")

    agent.shutdown_executor()
    executor.next("shutdown")

    assert driver.join() == DRIVER_STOPPED
    clock.advance(60.0)
    settle()
    assert suicides == []


def test_kill_task_and_framework_message(clock: Any, kit: Any, agent: Any,
                                         start_driver: Any) -> None:
    """This test ensures that `KillTaskMessage` reaches `killTask()` and that framework
    messages travel both ways."""
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor)

    # 1. Kill.
    agent.kill_task("t1")
    (task_id,) = executor.next("killTask")
    assert task_id.value == "t1"

    # 2. Scheduler to executor.
    message = messages_pb2.FrameworkToExecutorMessage(data=b"hello")
    message.slave_id.value = kit.SLAVE_ID
    message.framework_id.value = kit.FRAMEWORK_ID
    message.executor_id.value = kit.EXECUTOR_ID
    agent.tell(None, message)
    assert executor.next("frameworkMessage") == (b"hello",)

    # 3. Executor to scheduler.
    assert driver.sendFrameworkMessage(b"world") == DRIVER_RUNNING
    sent = agent.next(messages_pb2.ExecutorToFrameworkMessage)
    assert sent.data == b"world"
    assert sent.framework_id.value == kit.FRAMEWORK_ID
    assert sent.executor_id.value == kit.EXECUTOR_ID
    assert sent.slave_id.value == kit.SLAVE_ID


def test_staging_update_aborts(clock: Any, kit: Any, agent: Any, start_driver: Any) -> None:
    """This test ensures that an executor may not send TASK_STAGING: the driver aborts,
    calls `error()`, and sends nothing."""
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor)
    expect_no_message(messages_pb2.StatusUpdateMessage)

    driver.sendStatusUpdate(kit.task_status("t1", mesos_pb2.TASK_STAGING))

    assert executor.next("error") == ("Attempted to send TASK_STAGING status update",)
    assert driver.join() == DRIVER_ABORTED
    settle()


def test_missing_environment_aborts_start(tmp_path: Path, kit: Any) -> None:
    """This test ensures that a driver started without a required variable of the executor
    environment returns DRIVER_ABORTED and tells the executor which variable is missing."""
    executor = kit.RecordingExecutor()
    env = kit.executor_environment("slave(1)@127.0.0.1:5051", tmp_path)
    del env["MESOS_SLAVE_PID"]

    driver = MesosExecutorDriver(executor, environment=env)

    assert driver.start() == DRIVER_ABORTED
    (message,) = executor.next("error")
    assert message == "Expecting 'MESOS_SLAVE_PID' to be set in the environment"
    assert driver.process is None
    assert driver.join() == DRIVER_ABORTED


def test_environment_parsing(tmp_path: Path, kit: Any) -> None:
    """This test ensures that the environment is read as Mesos reads it: durations in Mesos
    syntax, the recovery timeout only with checkpointing, defaults otherwise, and a
    malformed value named in the error."""
    env = kit.executor_environment("slave(1)@127.0.0.1:5051", tmp_path)
    parsed = ExecutorEnvironment.parse(env)
    assert parsed.checkpoint is False
    assert parsed.recovery_timeout == 15 * 60
    assert parsed.shutdown_grace_period == 5.0
    assert parsed.slave_id == kit.SLAVE_ID
    assert parsed.local is False

    env.update(MESOS_CHECKPOINT="1", MESOS_RECOVERY_TIMEOUT="90secs",
               MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD="500ms")
    parsed = ExecutorEnvironment.parse(env)
    assert (parsed.checkpoint, parsed.recovery_timeout, parsed.shutdown_grace_period) == \
        (True, 90.0, 0.5)

    env["MESOS_RECOVERY_TIMEOUT"] = "soon"
    try:
        ExecutorEnvironment.parse(env)
    except ValueError as e:
        assert "MESOS_RECOVERY_TIMEOUT" in str(e) and "'soon'" in str(e)
    else:
        raise AssertionError("a malformed MESOS_RECOVERY_TIMEOUT was accepted")

    env["MESOS_RECOVERY_TIMEOUT"] = "1mins"
    env["MESOS_SLAVE_PID"] = "not a pid"
    try:
        ExecutorEnvironment.parse(env)
    except ValueError as e:
        assert "MESOS_SLAVE_PID" in str(e)
    else:
        raise AssertionError("a malformed MESOS_SLAVE_PID was accepted")


def test_stop_and_abort(clock: Any, kit: Any, agent: Any, start_driver: Any) -> None:
    """This test ensures the driver's status machine: `abort()` makes `join()` return
    DRIVER_ABORTED and stops callbacks; `stop()` after it returns DRIVER_ABORTED once, then
    the driver is DRIVER_STOPPED; calls on a stopped driver do nothing."""
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor)

    # 1. Abort: join returns, messages no longer reach the executor.
    assert driver.abort() == DRIVER_ABORTED
    assert driver.join() == DRIVER_ABORTED
    agent.run_task(kit.task_info("t1", "true"))
    settle()
    assert executor.count("launchTask") == 0
    assert driver.sendStatusUpdate(kit.task_status("t1", mesos_pb2.TASK_RUNNING)) == \
        DRIVER_ABORTED

    # 2. Stop after abort.
    assert driver.stop() == DRIVER_ABORTED
    assert driver.stop() == DRIVER_STOPPED
    assert driver.join() == DRIVER_STOPPED
    assert driver.sendFrameworkMessage(b"x") == DRIVER_STOPPED
    assert driver.start() == DRIVER_STOPPED


def test_run_returns_when_stopped_from_a_callback(kit: Any, agent: Any, tmp_path: Path
                                                  ) -> None:
    """This test ensures that `run()` blocks until the executor stops the driver (here from
    its `launchTask` callback) and then returns DRIVER_STOPPED."""
    executor = kit.RecordingExecutor()
    executor.on["launchTask"] = lambda driver, task: driver.stop()
    driver = MesosExecutorDriver(executor,
                                 environment=kit.executor_environment(agent, tmp_path))
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(driver.run()))

    runner.start()
    executor.next("registered")
    agent.run_task(kit.task_info("t1", "true"))
    runner.join(10)

    assert result == [DRIVER_STOPPED]


def test_callback_exception_aborts(clock: Any, kit: Any, agent: Any, start_driver: Any
                                   ) -> None:
    """This test ensures that an exception escaping a callback aborts the driver, as the
    official Python bindings do."""
    executor = kit.RecordingExecutor()

    def boom(driver: Any, task: Any) -> None:
        raise RuntimeError("boom")

    executor.on["launchTask"] = boom
    driver = registered_driver(kit, start_driver, agent, executor)

    agent.run_task(kit.task_info("t1", "true"))

    assert driver.join() == DRIVER_ABORTED


def test_drop_in_shapes() -> None:
    """This test ensures that the driver is an `ExecutorDriver` with the official method
    names, and that `mesos.native` exports this very class."""
    # `mesos.native` is edited elsewhere; until it exports the executor driver, only the
    # shapes are checked here.
    if hasattr(mesos.native, "MesosExecutorDriver"):
        assert mesos.native.MesosExecutorDriver is MesosExecutorDriver
    assert issubclass(MesosExecutorDriver, ExecutorDriver)
    for name in ("start", "stop", "abort", "join", "run", "sendStatusUpdate",
                 "sendFrameworkMessage"):
        assert callable(getattr(MesosExecutorDriver, name))


def test_duplicate_task_is_ignored(clock: Any, kit: Any, agent: Any, start_driver: Any
                                   ) -> None:
    """This test ensures that a second `RunTaskMessage` for a task the executor already has
    is ignored, not launched twice."""
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor)

    agent.run_task(kit.task_info("t1", "true"))
    agent.run_task(kit.task_info("t1", "true"))
    executor.next("launchTask")
    settle()

    assert executor.count("launchTask") == 0
    assert driver.process.ignored_messages == 1


def test_await_acknowledgements_fails_on_a_stopped_driver(kit: Any, agent: Any,
                                                          start_driver: Any) -> None:
    """This test ensures that `awaitAcknowledgements` fails on a driver that was stopped,
    rather than leaving its caller waiting."""
    executor = kit.RecordingExecutor()
    driver = registered_driver(kit, start_driver, agent, executor)

    driver.stop()

    assert driver.awaitAcknowledgements().is_failed()
