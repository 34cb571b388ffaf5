"""Agent checkpointing and recovery (mesos-behaviour.md §2.7, §2.8).

As in Mesos's `src/tests/slave_recovery_tests.cpp`, an agent restart is simulated by
terminating the agent process and spawning a new one on the same `--work_dir`, against the
same fake master, with a paused clock. Executors are real OS processes started by the
agent's containerizer (`exec sleep 1000` standing for a custom executor), on whose behalf a
`ReconnectingExecutor` of the test registers and, when a restarted agent asks, reregisters;
one scenario uses the real command executor and its driver instead.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

import libprocess
from libprocess.clock import Clock
from libprocess.testing import (
    await_condition,
    drop_messages,
    expect_no_message,
    future_message,
    settle,
)
from mesos.agent import paths
from mesos.agent.agent import ExecutorState, State
from mesos.agent.checkpoint import read_message
from mesos.agent.status_update_stream import read_task_updates
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

TaskStatus = mesos_pb2.TaskStatus
PARTITION_AWARE = mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE


def _run_dir(work_dir: Path, kit: SimpleNamespace, executor_id: str = "e1",
             framework_id: str = "framework-0001") -> Path:
    meta = paths.get_meta_root_dir(str(work_dir))
    return Path(os.path.realpath(paths.get_executor_latest_run_path(
        meta, kit.SLAVE_ID, framework_id, executor_id)))


# ---------------------------------------------------------------------------------------
# Checkpointing.


def test_checkpointed_layout(clock: Clock, master: Any, tmp_path: Path,
                             kit: SimpleNamespace, leftovers: Any) -> None:
    """This test ensures that the agent writes the Mesos `meta/` layout for a checkpointing
    framework (agent info under `slaves/latest`, framework info and pid, executor info, the
    run with its `latest` link, forked and libprocess pids, the `Task`, and `task.updates`
    with the update and its acknowledgement as length-prefixed records), that protobuf
    files are single length-prefixed records, that no temporary file is left behind, and
    that nothing is written for a framework that does not checkpoint."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent)
    update = kit.running(master, agent, executor, "t1")
    plain = kit.framework_info("framework-0002")
    kit.launch_reconnecting_executor(master, agent, "t2", "e2", framework=plain)

    meta = tmp_path / "meta"
    # 1. The agent: `latest` points at its directory; `slave.info` is its SlaveInfo.
    assert os.readlink(meta / "slaves" / "latest") == str(meta / "slaves" / kit.SLAVE_ID)
    info_path = meta / "slaves" / kit.SLAVE_ID / "slave.info"
    data = info_path.read_bytes()
    assert struct.unpack("=I", data[:4])[0] == len(data) - 4
    slave_info = read_message(str(info_path), mesos_pb2.SlaveInfo)
    assert slave_info == kit.read_agent(agent, lambda: agent.info)
    assert (meta / "boot_id").read_text().strip() == \
        Path("/proc/sys/kernel/random/boot_id").read_text().strip()

    # 2. The framework, its executor and the run.
    framework_dir = meta / "slaves" / kit.SLAVE_ID / "frameworks" / "framework-0001"
    assert read_message(str(framework_dir / "framework.info"),
                        mesos_pb2.FrameworkInfo) == kit.checkpointing_framework()
    assert (framework_dir / "framework.pid").read_text() == "scheduler(1)@127.0.0.1:1234"
    executor_dir = framework_dir / "executors" / "e1"
    executor_info = read_message(str(executor_dir / "executor.info"), mesos_pb2.ExecutorInfo)
    assert executor_info.executor_id.value == "e1"
    container_id = kit.read_agent(agent, lambda: kit.agent_executor(agent, "framework-0001",
                                                           "e1").container_id)
    run = executor_dir / "runs" / container_id
    assert os.readlink(executor_dir / "runs" / "latest") == str(run)
    pid = kit.container_pid(agent, "framework-0001", "e1")
    assert (run / "pids" / "forked.pid").read_text() == str(pid)
    assert (run / "pids" / "libprocess.pid").read_text() == str(executor.upid)

    # 3. The task and its updates: the update, then its acknowledgement.
    task = read_message(str(run / "tasks" / "t1" / "task.info"), mesos_pb2.Task)
    assert (task.task_id.value, task.state) == ("t1", mesos_pb2.TASK_STAGING)
    records = read_task_updates(str(run / "tasks" / "t1" / "task.updates"), strict=True)
    assert [u.uuid for u in records.updates] == [update.uuid]
    assert records.acks == {update.uuid}

    # 4. Nothing for the framework that does not checkpoint; no temporary files anywhere.
    assert not (meta / "slaves" / kit.SLAVE_ID / "frameworks" / "framework-0002").exists()
    assert [p for p in meta.rglob(".checkpoint-*")] == []


def test_checkpointed_executors_outlive_the_agent(clock: Clock, master: Any, tmp_path: Path,
                                                  kit: SimpleNamespace,
                                                  leftovers: Any) -> None:
    """This test ensures that when the agent process ends (SIGTERM, or a crash) the
    executors of checkpointing frameworks keep running and are not told to shut down,
    while those of other frameworks are shut down, and that the agent does not unregister."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    kept = kit.launch_reconnecting_executor(master, agent)
    gone = kit.launch_reconnecting_executor(master, agent, "t2", "e2",
                                            framework=kit.framework_info("fw-plain"))
    kept_pid = kit.container_pid(agent, "framework-0001", "e1")
    gone_pid = kit.container_pid(agent, "fw-plain", "e2")
    expect_no_message(messages_pb2.UnregisterSlaveMessage)

    kit.stop_agent(agent)
    settle()

    assert kit.alive(kept_pid)
    assert not kept.messages(messages_pb2.ShutdownExecutorMessage)
    assert gone.messages(messages_pb2.ShutdownExecutorMessage)
    await_condition(lambda: not kit.alive(gone_pid), kit.TIMEOUT,
                    message="the other framework's executor to be killed")
    # The agent's id stays checkpointed, for the next agent to recover.
    assert os.path.islink(tmp_path / "meta" / "slaves" / "latest")


# ---------------------------------------------------------------------------------------
# Recovery.


def test_recovered_executor_reregisters_and_keeps_its_tasks(
        clock: Clock, master: Any, tmp_path: Path, kit: SimpleNamespace,
        leftovers: Any) -> None:
    """This test ensures that a restarted agent recovers a checkpointing framework's
    executor: it sends ReconnectExecutorMessage to the executor's checkpointed pid, adopts
    the update the executor sent while the agent was down, answers
    ExecutorReregisteredMessage, reregisters with the master under the same agent id with
    the task, its latest state and its pending update's state, and then resends first the
    update the old agent never got acknowledged, then the adopted one."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent)
    pid = kit.container_pid(agent, "framework-0001", "e1")
    kit.running(master, agent, executor, "t1")

    # 1. An update the agent records, but whose acknowledgement never comes back.
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    pending = executor.make_update("t1", mesos_pb2.TASK_RUNNING, kit.SLAVE_ID)
    pending.status.message = "pending"
    executor.send_update(pending)
    forwarded.get(kit.TIMEOUT)
    settle()

    # 2. The agent goes; meanwhile the task finishes and the executor keeps that update.
    kit.stop_agent(agent)
    finished = executor.make_update("t1", mesos_pb2.TASK_FINISHED, kit.SLAVE_ID)
    executor.unacked_updates = [finished]

    # 3. A new agent on the same work directory reconnects and the executor reregisters.
    agent = kit.new_agent(master, tmp_path)
    reconnect = future_message(messages_pb2.ReconnectExecutorMessage, to=executor)
    reregistered = future_message(messages_pb2.ExecutorReregisteredMessage, to=executor)
    acked = future_message(messages_pb2.StatusUpdateAcknowledgementMessage, to=executor)
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    expect_no_message(messages_pb2.RegisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    assert reconnect.get(kit.TIMEOUT).slave_id.value == kit.SLAVE_ID
    assert reregistered.get(kit.TIMEOUT).slave_id.value == kit.SLAVE_ID
    assert acked.get(kit.TIMEOUT).uuid == finished.uuid
    settle()
    assert kit.alive(pid)
    assert kit.read_agent(agent, lambda: kit.agent_executor(agent, "framework-0001", "e1").state) \
        is ExecutorState.RUNNING

    # 4. It reregisters with its old id, with the task, as soon as the executor is back.
    first = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(kit.make_flags(str(tmp_path)).registration_backoff_factor)
    message = reregister.get(kit.TIMEOUT)
    assert message.slave.id.value == kit.SLAVE_ID
    [task] = message.tasks
    assert (task.task_id.value, task.state) == ("t1", mesos_pb2.TASK_FINISHED)
    assert (task.status_update_state, task.status_update_uuid) == (mesos_pb2.TASK_RUNNING,
                                                                   pending.uuid)
    assert [e.executor_id.value for e in message.executor_infos] == ["e1"]
    assert [f.id.value for f in message.frameworks] == ["framework-0001"]

    # 5. The pending update goes first, then (once acknowledged) the adopted one.
    update = first.get(kit.TIMEOUT).update
    assert (update.uuid, update.latest_state) == (pending.uuid, mesos_pb2.TASK_FINISHED)
    second = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    master.acknowledge(agent, update)
    assert second.get(kit.TIMEOUT).update.uuid == finished.uuid
    assert kit.read_agent(agent, lambda: agent.state) is State.RUNNING


def test_real_command_executor_reregisters(clock: Clock, master: Any, tmp_path: Path,
                                           kit: SimpleNamespace, leftovers: Any) -> None:
    """This test ensures that a real command executor (its driver in its own OS process)
    of a checkpointing framework answers a restarted agent's reconnect: its task keeps
    running and is reported RUNNING in the reregistration."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    running: list[Any] = []
    for _ in range(2):
        forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
        if running:
            master.acknowledge(agent, running[-1])
        else:
            master.post(agent.upid, kit.run_task_message(kit.command_task("task-1", "sleep 1000"),
                                                         kit.checkpointing_framework()))
        running.append(forwarded.get(kit.TIMEOUT).update)
    assert running[-1].status.state == mesos_pb2.TASK_RUNNING
    master.acknowledge(agent, running[-1])
    settle()
    pid = kit.container_pid(agent, "framework-0001", "task-1")

    kit.stop_agent(agent)
    agent = kit.new_agent(master, tmp_path)
    reregistering = future_message(messages_pb2.ReregisterExecutorMessage, to=agent)
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    assert reregistering.get(kit.TIMEOUT).executor_id.value == "task-1"
    settle()
    clock.advance(1.0)
    message = reregister.get(kit.TIMEOUT)
    assert [(t.task_id.value, t.state) for t in message.tasks] == [("task-1",
                                                                    mesos_pb2.TASK_RUNNING)]
    assert kit.alive(pid)


@pytest.mark.parametrize("partition_aware, expected", [
    (False, mesos_pb2.TASK_LOST),
    (True, mesos_pb2.TASK_GONE),
])
def test_executor_not_reregistering_is_destroyed(clock: Clock, master: Any, tmp_path: Path,
                                                 kit: SimpleNamespace, leftovers: Any,
                                                 partition_aware: bool, expected: int) -> None:
    """This test ensures that a recovered executor that does not reregister within
    `--executor_reregistration_timeout` (of clock time) is destroyed, that its task ends
    TASK_LOST (TASK_GONE for a partition-aware framework) with
    REASON_EXECUTOR_REREGISTRATION_TIMEOUT, and that the agent reregisters only after that
    timeout and then forwards the update."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    framework = kit.checkpointing_framework(partition_aware=partition_aware)
    executor = kit.launch_reconnecting_executor(master, agent, framework=framework)
    pid = kit.container_pid(agent, "framework-0001", "e1")
    kit.running(master, agent, executor, "t1")
    kit.stop_agent(agent)

    executor.answer = False
    agent = kit.new_agent(master, tmp_path, executor_reregistration_timeout=3.0)
    reconnect = future_message(messages_pb2.ReconnectExecutorMessage, to=executor)
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    reconnect.get(kit.TIMEOUT)

    # 1. Just before the timeout, the agent still waits, and has not reregistered.
    settle()
    clock.advance(2.9)
    settle()
    assert kit.read_agent(agent, lambda: agent.state) is State.RECOVERING
    assert not master.messages(messages_pb2.ReregisterSlaveMessage)
    assert kit.alive(pid)

    # 2. At the timeout the executor is destroyed; then the agent reregisters.
    clock.advance(0.1)
    await_condition(lambda: not kit.alive(pid), kit.TIMEOUT, message="the executor to die")
    settle()
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(1.0)
    reregister.get(kit.TIMEOUT)
    update = forwarded.get(kit.TIMEOUT).update
    assert update.status.task_id.value == "t1"
    assert update.status.state == expected
    assert update.status.reason == TaskStatus.REASON_EXECUTOR_REREGISTRATION_TIMEOUT
    assert update.status.source == TaskStatus.SOURCE_SLAVE
    assert "did not reregister within 3secs" in update.status.message


def test_staging_task_unknown_to_the_executor_is_lost(clock: Clock, master: Any,
                                                      tmp_path: Path, kit: SimpleNamespace,
                                                      leftovers: Any) -> None:
    """This test ensures that a STAGING task the reregistering executor never got (the agent
    died before sending it) ends TASK_LOST with REASON_SLAVE_RESTARTED, and that a task the
    executor reports but the agent lost the checkpoint of is adopted as running."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent)
    kit.running(master, agent, executor, "t1")
    # A second task for the same executor, which the executor never receives.
    drop_messages(messages_pb2.RunTaskMessage, to=executor)
    task = kit.executor_task("t2", "e1")
    master.post(agent.upid, kit.run_task_message(task, kit.checkpointing_framework()))
    settle()
    kit.stop_agent(agent)

    # The executor knows a task t3 (unacknowledged) that the agent never checkpointed.
    unknown = kit.executor_task("t3", "e1")
    executor.unacked_tasks = [unknown]
    executor.unacked_updates = [executor.make_update("t3", mesos_pb2.TASK_RUNNING,
                                                     kit.SLAVE_ID)]
    agent = kit.new_agent(master, tmp_path)
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    settle()
    clock.advance(1.0)
    message = reregister.get(kit.TIMEOUT)
    states = {t.task_id.value: t.state for t in message.tasks}
    assert states == {"t1": mesos_pb2.TASK_RUNNING, "t2": mesos_pb2.TASK_LOST,
                      "t3": mesos_pb2.TASK_RUNNING}
    settle()
    [lost] = [m.update.status for m in master.messages(messages_pb2.StatusUpdateMessage)
              if m.update.status.task_id.value == "t2"]
    assert (lost.state, lost.reason) == (mesos_pb2.TASK_LOST,
                                         TaskStatus.REASON_SLAVE_RESTARTED)


@pytest.mark.parametrize("strict", [True, False])
def test_truncated_task_updates(clock: Clock, master: Any, tmp_path: Path,
                                kit: SimpleNamespace, leftovers: Any, strict: bool) -> None:
    """This test ensures that a `task.updates` whose last record was cut short makes a
    strict recovery fail (exit 1) with a message naming the file, leaving the executor
    alone, and that a non-strict recovery keeps the records before it (truncating the file
    to them), counts the error in `slave/recovery_errors` and reregisters with the task."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent)
    pid = kit.container_pid(agent, "framework-0001", "e1")
    kit.running(master, agent, executor, "t1")
    kit.stop_agent(agent)
    updates = _run_dir(tmp_path, kit) / "tasks" / "t1" / "task.updates"
    size = updates.stat().st_size
    with open(updates, "ab") as f:
        f.write(struct.pack("=I", 200) + b"partial")

    agent = kit.new_agent(master, tmp_path, strict=strict)
    if strict:
        expect_no_message(messages_pb2.ReconnectExecutorMessage)
        error = kit.failed_start(agent)
        assert f"Failed to read status updates file '{updates}'" in error
        assert "truncated" in error and "rm -f" in error
        assert kit.alive(pid)
        return

    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    settle()
    clock.advance(1.0)
    message = reregister.get(kit.TIMEOUT)
    assert [(t.task_id.value, t.state) for t in message.tasks] == [("t1",
                                                                    mesos_pb2.TASK_RUNNING)]
    assert updates.stat().st_size == size
    assert kit.read_agent(agent, lambda: agent.metrics.recovery_errors.value) == 1
    _, snapshot = kit.http_get("/metrics/snapshot")
    assert snapshot["slave/recovery_errors"] == 1
    assert snapshot["slave/recovery_time_secs"] >= 0


@pytest.mark.parametrize("strict", [True, False])
def test_dangling_latest_agent_link(clock: Clock, master: Any, tmp_path: Path,
                                    kit: SimpleNamespace, strict: bool) -> None:
    """This test ensures that a `meta/slaves/latest` pointing at a directory that does not
    exist fails a strict recovery with a message naming the link, and that a non-strict
    one counts the error and registers as a new agent."""
    slaves = tmp_path / "meta" / "slaves"
    slaves.mkdir(parents=True)
    os.symlink(slaves / "gone-S7", slaves / "latest")

    agent = kit.new_agent(master, tmp_path, strict=strict)
    if strict:
        error = kit.failed_start(agent)
        assert f"'{slaves / 'latest'}' points to '{slaves / 'gone-S7'}'" in error
        return
    registered = future_message(messages_pb2.RegisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    settle()
    clock.advance(1.0)
    registered.get(kit.TIMEOUT)
    assert kit.read_agent(agent, lambda: agent.metrics.recovery_errors.value) == 1


@pytest.mark.parametrize("strict", [True, False])
def test_half_deleted_run(clock: Clock, master: Any, tmp_path: Path, kit: SimpleNamespace,
                          leftovers: Any, strict: bool) -> None:
    """This test ensures that a run directory partly deleted (the task's `task.info` gone
    while its `task.updates` is there) fails a strict recovery naming the missing file, and
    that a non-strict recovery counts it, recovers the executor without that task, and
    adopts the task again when the executor reports it."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent)
    kit.running(master, agent, executor, "t1")
    kit.stop_agent(agent)
    task_info = _run_dir(tmp_path, kit) / "tasks" / "t1" / "task.info"
    task_info.unlink()

    executor.unacked_tasks = [kit.executor_task("t1", "e1")]
    agent = kit.new_agent(master, tmp_path, strict=strict)
    if strict:
        error = kit.failed_start(agent)
        assert f"Failed to find task info file '{task_info}'" in error
        return
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    settle()
    clock.advance(1.0)
    message = reregister.get(kit.TIMEOUT)
    assert [t.task_id.value for t in message.tasks] == ["t1"]
    assert kit.read_agent(agent, lambda: agent.metrics.recovery_errors.value) == 1
    # The adopted task is checkpointed again.
    assert task_info.exists()


@pytest.mark.parametrize("imposter", ["started later", "another program"])
def test_reused_pid_is_not_adopted(clock: Clock, master: Any, tmp_path: Path,
                                   kit: SimpleNamespace, leftovers: Any,
                                   imposter: str) -> None:
    """This test ensures that when the executor died while the agent was down and its pid
    now names an unrelated live process (started after the executor was launched, or a
    different program), the restarted agent does not take that process for the executor:
    it is neither reconnected to nor killed, and the executor's task fails as its executor
    terminated."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent)
    kit.running(master, agent, executor, "t1")
    pid = kit.container_pid(agent, "framework-0001", "e1")
    environment = psutil.Process(pid).environ()
    kit.stop_agent(agent)
    os.killpg(pid, signal.SIGKILL)
    await_condition(lambda: not kit.alive(pid), kit.TIMEOUT, message="the executor to die")

    # An unrelated process now holds "the executor's pid" (as far as `forked.pid` says).
    if imposter == "started later":
        # Same environment, so only its start time gives it away: the executor was
        # launched a minute before it.
        other = subprocess.Popen(["sleep", "1000"], env=environment, start_new_session=True)
    else:
        other = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    leftovers.append(other)
    forked = _run_dir(tmp_path, kit) / "pids" / "forked.pid"
    forked.write_text(str(other.pid))
    if imposter == "started later":
        launched = psutil.Process(other.pid).create_time() - 60
        os.utime(forked, (launched, launched))

    executor.answer = False
    agent = kit.new_agent(master, tmp_path)
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    settle()
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(1.0)
    reregister.get(kit.TIMEOUT)
    update = forwarded.get(kit.TIMEOUT).update
    assert (update.status.task_id.value, update.status.state) == ("t1", mesos_pb2.TASK_FAILED)
    assert update.status.reason == TaskStatus.REASON_EXECUTOR_TERMINATED
    assert "the pid was reused by another process" in update.status.message
    assert other.poll() is None


def test_reboot_recovers_the_agent_but_not_its_executors(clock: Clock, master: Any,
                                                         tmp_path: Path,
                                                         kit: SimpleNamespace,
                                                         leftovers: Any) -> None:
    """This test ensures that after a reboot (a changed boot id) a compatible agent keeps
    its id, assumes its executors gone (it adopts none, so kills none) and fails their
    tasks, and writes the new boot id."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent)
    kit.running(master, agent, executor, "t1")
    kit.stop_agent(agent)
    boot_id = tmp_path / "meta" / "boot_id"
    boot_id.write_text("a-previous-boot\n")

    executor.answer = False
    agent = kit.new_agent(master, tmp_path)
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    settle()
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(1.0)
    assert reregister.get(kit.TIMEOUT).slave.id.value == kit.SLAVE_ID
    update = forwarded.get(kit.TIMEOUT).update
    assert (update.status.state, update.status.reason) == (
        mesos_pb2.TASK_FAILED, TaskStatus.REASON_EXECUTOR_TERMINATED)
    assert "rebooted" in update.status.message
    assert boot_id.read_text().strip() != "a-previous-boot"


def test_reboot_with_incompatible_agent_info_starts_a_new_agent(
        clock: Clock, master: Any, tmp_path: Path, kit: SimpleNamespace,
        leftovers: Any) -> None:
    """This test ensures that after a reboot an agent whose `SlaveInfo` changed
    incompatibly forgets the old agent (removes `meta/slaves/latest`) and registers as a
    new one."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    kit.launch_reconnecting_executor(master, agent)
    kit.stop_agent(agent)
    (tmp_path / "meta" / "boot_id").write_text("a-previous-boot\n")

    master.slave_id = "agent-S1"
    agent = kit.new_agent(master, tmp_path, resources="cpus:4;mem:2048;disk:1024")
    registered = future_message(messages_pb2.RegisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    settle()
    clock.advance(1.0)
    registered.get(kit.TIMEOUT)
    settle()
    latest = tmp_path / "meta" / "slaves" / "latest"
    assert os.readlink(latest) == str(tmp_path / "meta" / "slaves" / "agent-S1")


def test_incompatible_agent_info_without_reboot_fails(clock: Clock, master: Any,
                                                      tmp_path: Path, kit: SimpleNamespace,
                                                      leftovers: Any) -> None:
    """This test ensures that an agent restarted with changed resources (without a reboot)
    refuses to recover under the `equal` policy: it exits 1 with both infos and the way out
    in the message, leaving its executors alone."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    kit.launch_reconnecting_executor(master, agent)
    pid = kit.container_pid(agent, "framework-0001", "e1")
    kit.stop_agent(agent)

    agent = kit.new_agent(master, tmp_path, resources="cpus:4;mem:1024;disk:1024")
    expect_no_message(messages_pb2.ReregisterSlaveMessage)
    error = kit.failed_start(agent)
    assert "Incompatible agent info detected" in error
    assert "cpus:2" in error and "cpus:4" in error
    assert f"rm -f {tmp_path / 'meta' / 'slaves' / 'latest'}" in error
    assert kit.alive(pid)


def test_additive_reconfiguration_keeps_the_agent(clock: Clock, master: Any, tmp_path: Path,
                                                  kit: SimpleNamespace,
                                                  leftovers: Any) -> None:
    """This test ensures that with `--reconfiguration_policy=additive` an agent restarted
    with more resources and a new attribute recovers under its id, reregisters with the new
    `SlaveInfo` and checkpoints it."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    kit.launch_reconnecting_executor(master, agent)
    kit.stop_agent(agent)

    agent = kit.new_agent(master, tmp_path, reconfiguration_policy="additive",
                          resources="cpus:4;mem:1024;disk:1024;ports:[31000-32000]",
                          attributes="rack:r1")
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    settle()
    clock.advance(1.0)
    message = reregister.get(kit.TIMEOUT)
    assert message.slave.id.value == kit.SLAVE_ID
    assert [a.name for a in message.slave.attributes] == ["rack"]
    checkpointed = read_message(str(tmp_path / "meta" / "slaves" / kit.SLAVE_ID / "slave.info"),
                                mesos_pb2.SlaveInfo)
    assert checkpointed == message.slave


def test_cleanup_mode_kills_executors_and_exits(clock: Clock, master: Any, tmp_path: Path,
                                                kit: SimpleNamespace, leftovers: Any) -> None:
    """This test ensures that `--recover=cleanup` shuts the recovered executors down
    (ShutdownExecutorMessage, then destroy after the grace period), never registers, exits
    0, and forgets the agent so that the next start registers as a new agent."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent)
    pid = kit.container_pid(agent, "framework-0001", "e1")
    kit.stop_agent(agent)

    agent = kit.new_agent(master, tmp_path, recover="cleanup")
    shutdown = future_message(messages_pb2.ShutdownExecutorMessage, to=executor)
    libprocess.spawn(agent)
    shutdown.get(kit.TIMEOUT)
    settle()
    assert kit.alive(pid)
    clock.advance(5.0)
    status, error = kit.exit_of(agent)
    assert (status, error) == (0, "")
    assert not kit.alive(pid)
    assert not os.path.lexists(tmp_path / "meta" / "slaves" / "latest")
    assert len(master.messages(messages_pb2.RegisterSlaveMessage)) == 1
    assert not master.messages(messages_pb2.ReregisterSlaveMessage)

    # The next agent starts afresh.
    agent = kit.new_agent(master, tmp_path)
    registered = future_message(messages_pb2.RegisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    settle()
    clock.advance(1.0)
    registered.get(kit.TIMEOUT)


def test_reregistration_outside_recovery_is_refused(clock: Clock, master: Any,
                                                    tmp_path: Path, kit: SimpleNamespace,
                                                    leftovers: Any) -> None:
    """This test ensures that a ReregisterExecutorMessage reaching an agent that is not
    recovering (or naming an executor it does not know) is answered with
    ShutdownExecutorMessage and changes nothing: its updates are not taken."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent)
    expect_no_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)

    for executor_id in ("e1", "unknown-executor"):
        shutdown = future_message(messages_pb2.ShutdownExecutorMessage, to=executor)
        message = messages_pb2.ReregisterExecutorMessage()
        message.framework_id.value = "framework-0001"
        message.executor_id.value = executor_id
        message.updates.add().CopyFrom(executor.make_update("t1", mesos_pb2.TASK_FINISHED,
                                                            kit.SLAVE_ID))
        libprocess.dispatch(executor, lambda m=message: executor.send(agent.upid, m)).get(
            kit.TIMEOUT)
        assert shutdown.get(kit.TIMEOUT).executor_id.value == executor_id
    settle()
    assert kit.read_agent(agent, lambda: kit.agent_executor(agent, "framework-0001", "e1").state) \
        is ExecutorState.RUNNING
    # Gone before the executor is killed after the test, which it would report.
    kit.stop_agent(agent)


def test_completed_executor_is_not_waited_for(clock: Clock, master: Any, tmp_path: Path,
                                              kit: SimpleNamespace, leftovers: Any) -> None:
    """This test ensures that an executor that terminated with every update acknowledged
    gets its `executor.sentinel`, so that a restarted agent neither reconnects to it nor
    waits for it, and reports its task among the completed ones."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent)
    pid = kit.container_pid(agent, "framework-0001", "e1")
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    executor.send_update(executor.make_update("t1", mesos_pb2.TASK_FINISHED, kit.SLAVE_ID))
    master.acknowledge(agent, forwarded.get(kit.TIMEOUT).update)
    settle()
    os.killpg(pid, signal.SIGKILL)
    await_condition(lambda: kit.read_agent(agent, lambda: not agent.frameworks), kit.TIMEOUT,
                    message="the executor and framework to be removed")
    assert (_run_dir(tmp_path, kit) / "executor.sentinel").exists()
    kit.stop_agent(agent)

    agent = kit.new_agent(master, tmp_path)
    expect_no_message(messages_pb2.ReconnectExecutorMessage)
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    libprocess.spawn(agent)
    settle()
    assert kit.read_agent(agent, lambda: agent.state) is State.DISCONNECTED
    clock.advance(1.0)
    message = reregister.get(kit.TIMEOUT)
    assert list(message.tasks) == []
    [completed] = message.completed_frameworks
    assert [(t.task_id.value, t.state) for t in completed.tasks] == [("t1",
                                                                       mesos_pb2.TASK_FINISHED)]
