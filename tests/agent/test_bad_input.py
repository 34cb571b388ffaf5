"""Bad input and faults at the agent (issue 6): damaged checkpoints, a work directory of
another agent, acknowledgements and status updates that do not fit, and messages from a
master that does not lead (mesos-behaviour.md §2.7, §2.9; `src/slave/slave.cpp`,
`src/slave/state.cpp`, `src/slave/task_status_update_manager.cpp`).

As in `test_recovery.py`, an agent restart is a terminated agent process and a new one on the
same `--work_dir`, against the same fake master, with a paused clock; executors are real OS
processes (`exec sleep 1000`) on whose behalf a `ReconnectingExecutor` of the test registers
and reregisters. Every case checks the log line a person would read.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import libprocess
from libprocess.clock import Clock
from libprocess.testing import await_condition, expect_no_message, future_message, settle
from mesos.agent import paths
from mesos.agent.agent import Agent, ExecutorState, State
from mesos.agent.status_update_manager import STATUS_UPDATE_RETRY_INTERVAL_MIN
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

TaskStatus = mesos_pb2.TaskStatus

# What a checkpoint file holds after a disk or a person damaged it: no valid record length
# (the first four bytes announce about 4 GB), then bytes that parse as nothing.
GARBAGE = b"\xde\xad\xbe\xef" + b"\x00\xff not a protobuf \xfe" * 3


def _logged(caplog: pytest.LogCaptureFixture, *parts: str) -> list[str]:
    """The captured log lines that contain every one of `parts`."""
    return [r.getMessage() for r in caplog.records
            if all(part in r.getMessage() for part in parts)]


# ---------------------------------------------------------------------------------------
# Damaged checkpoints.

F1, F2 = "framework-0001", "framework-0002"


def _checkpoint_file(meta: str, kit: SimpleNamespace, which: str, container_id: str) -> str:
    """The checkpoint of framework F1, executor e1, task t1 named by `which`."""
    if which == "slave.info":
        return paths.get_slave_info_path(meta, kit.SLAVE_ID)
    if which == "framework.info":
        return paths.get_framework_info_path(meta, kit.SLAVE_ID, F1)
    if which == "executor.info":
        return paths.get_executor_info_path(meta, kit.SLAVE_ID, F1, "e1")
    assert which == "task.info"
    return paths.get_task_info_path(meta, kit.SLAVE_ID, F1, "e1", container_id, "t1")


def _executor_left_running(clock: Clock, master: Any, tmp_path: Path,
                           kit: SimpleNamespace) -> tuple[int, str]:
    """Runs task t1 (framework F1, executor e1) to TASK_RUNNING, acknowledged, on an agent
    of `tmp_path`, then stops the agent as a restart would, leaving its executor running:
    (the executor's pid, its container id)."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_reconnecting_executor(master, agent, "t1", "e1",
                                                kit.checkpointing_framework(F1))
    kit.running(master, agent, executor, "t1")
    pid = kit.container_pid(agent, F1, "e1")
    container_id = kit.read_agent(agent, lambda: kit.agent_executor(agent, F1, "e1").container_id)
    kit.stop_agent(agent)
    return pid, container_id


def _recovery_refused(master: Any, tmp_path: Path, kit: SimpleNamespace,
                      **flags: Any) -> str:
    """Starts an agent with `flags` on `tmp_path`, which must refuse to recover: it exits 1
    without reconnecting to an executor or (re)registering. Returns its fatal error."""
    agent = kit.new_agent(master, tmp_path, **flags)
    expect_no_message(messages_pb2.ReconnectExecutorMessage)
    expect_no_message(messages_pb2.RegisterSlaveMessage, to=master)
    expect_no_message(messages_pb2.ReregisterSlaveMessage, to=master)
    return kit.failed_start(agent)


def _two_tasks(master: Any, agent: Agent, kit: SimpleNamespace,
               which: str) -> list[Any]:
    """Task t1 (framework F1, executor e1), whose checkpoint `which` the test damages, and a
    task t2 that must survive it: of another framework for `framework.info`, of another
    executor of F1 for `executor.info`, of the same executor for `task.info`."""
    first = kit.launch_reconnecting_executor(master, agent, "t1", "e1",
                                             kit.checkpointing_framework(F1))
    kit.running(master, agent, first, "t1")
    if which == "task.info":
        kit.launch_reconnecting_executor(master, agent, "t2", "e1",
                                         kit.checkpointing_framework(F1), executor=first)
        kit.running(master, agent, first, "t2")
        return [first]
    framework_id = F2 if which == "framework.info" else F1
    second = kit.launch_reconnecting_executor(master, agent, "t2", "e2",
                                              kit.checkpointing_framework(framework_id))
    kit.running(master, agent, second, "t2")
    return [first, second]


@pytest.mark.parametrize("which", ["slave.info", "framework.info", "executor.info",
                                   "task.info"])
def test_corrupt_checkpoint_fails_a_strict_recovery(
        clock: Clock, master: Any, tmp_path: Path, kit: SimpleNamespace, leftovers: Any,
        caplog: pytest.LogCaptureFixture, which: str) -> None:
    """This test ensures that a checkpoint file holding garbage (`slave.info`,
    `framework.info`, `executor.info` or `task.info`) makes a `--strict=true` recovery fail
    as Mesos's `state::recover` does: the agent refuses to start (exit 1) with one error
    naming the file and saying what to do, neither reconnects to its executors nor
    (re)registers, and leaves the executors running (a person may fix the file and restart
    the agent)."""
    pid, container_id = _executor_left_running(clock, master, tmp_path, kit)
    damaged = _checkpoint_file(paths.get_meta_root_dir(str(tmp_path)), kit, which,
                               container_id)
    Path(damaged).write_bytes(GARBAGE)

    error = _recovery_refused(master, tmp_path, kit, strict=True)
    assert error.startswith("Failed to perform recovery: ")
    assert f"'{damaged}'" in error and "truncated" in error
    assert f"rm -f {tmp_path / 'meta' / 'slaves' / 'latest'}" in error
    assert _logged(caplog, "Failed to perform recovery", damaged)
    assert kit.alive(pid)


@pytest.mark.parametrize("which", ["framework.info", "executor.info", "task.info"])
def test_corrupt_checkpoint_is_skipped_by_a_non_strict_recovery(
        clock: Clock, master: Any, tmp_path: Path, kit: SimpleNamespace, leftovers: Any,
        caplog: pytest.LogCaptureFixture, which: str) -> None:
    """This test ensures that with `--strict=false` a checkpoint file holding garbage costs
    only what it describes, as in Mesos: the framework, executor or task is skipped, with a
    log line naming the file, one error is counted in `slave/recovery_errors`, and
    everything else is recovered: the other executor reregisters and the agent reregisters
    under its id with the other task. The executor of a skipped framework or executor,
    which nothing would ever reconnect, is destroyed as an orphan (as Mesos's containerizer
    destroys the containers the agent did not recover)."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executors = _two_tasks(master, agent, kit, which)
    container_id = kit.read_agent(agent, lambda: kit.agent_executor(agent, F1, "e1").container_id)
    pid = kit.container_pid(agent, F1, "e1")
    kit.stop_agent(agent)
    damaged = _checkpoint_file(paths.get_meta_root_dir(str(tmp_path)), kit, which,
                               container_id)
    Path(damaged).write_bytes(GARBAGE)

    agent = kit.new_agent(master, tmp_path, strict=False)
    survivor = executors[-1]
    reregistered = future_message(messages_pb2.ExecutorReregisteredMessage, to=survivor)
    reregister = future_message(messages_pb2.ReregisterSlaveMessage, to=master)
    if which != "task.info":
        # The executor of the skipped framework or executor is not reconnected.
        expect_no_message(messages_pb2.ReconnectExecutorMessage, to=executors[0])
    libprocess.spawn(agent)
    reregistered.get(kit.TIMEOUT)
    settle()
    clock.advance(1.0)
    message = reregister.get(kit.TIMEOUT)
    assert message.slave.id.value == kit.SLAVE_ID
    assert [(t.task_id.value, t.state) for t in message.tasks] == [("t2",
                                                                    mesos_pb2.TASK_RUNNING)]
    assert kit.read_agent(agent, lambda: (agent.state, agent.metrics.recovery_errors.value)) \
        == (State.RUNNING, 1)
    assert _logged(caplog, "tolerated because --strict=false", damaged)
    skipped = {"framework.info": f"Skipping recovery of framework {F1}",
               "executor.info": f"Skipping recovery of executor 'e1' of framework {F1}",
               "task.info": "Skipping recovery of task t1"}[which]
    assert _logged(caplog, skipped)
    if which == "task.info":
        assert kit.alive(pid)
        assert not _logged(caplog, "Destroying orphaned container")
    else:
        await_condition(lambda: not kit.alive(pid), kit.TIMEOUT,
                        message="the orphaned executor to be destroyed")
        assert _logged(caplog, f"Destroying orphaned container {container_id}")


def test_corrupt_agent_info_makes_a_non_strict_agent_start_afresh(
        clock: Clock, master: Any, tmp_path: Path, kit: SimpleNamespace, leftovers: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """This test ensures that with `--strict=false` a `slave.info` holding garbage means,
    as in Mesos, that the agent cannot recover its identity: it logs the error naming the
    file, counts it, reconnects to no executor but destroys the old agent's executors as
    orphans, and registers as a new agent (whose id `slaves/latest` then names)."""
    pid, _ = _executor_left_running(clock, master, tmp_path, kit)
    meta = paths.get_meta_root_dir(str(tmp_path))
    damaged = paths.get_slave_info_path(meta, kit.SLAVE_ID)
    Path(damaged).write_bytes(GARBAGE)

    master.slave_id = "agent-S1"
    agent = kit.new_agent(master, tmp_path, strict=False)
    expect_no_message(messages_pb2.ReconnectExecutorMessage)
    expect_no_message(messages_pb2.ReregisterSlaveMessage, to=master)
    registered = future_message(messages_pb2.SlaveRegisteredMessage, to=agent)
    libprocess.spawn(agent)
    settle()
    clock.advance(1.0)
    assert registered.get(kit.TIMEOUT).slave_id.value == "agent-S1"
    settle()
    assert kit.read_agent(agent, lambda: agent.metrics.recovery_errors.value) == 1
    assert _logged(caplog, "tolerated because --strict=false", damaged)
    assert _logged(caplog, f"info of the latest agent {kit.SLAVE_ID} could not be recovered")
    assert os.readlink(paths.get_latest_slave_path(meta)) == os.path.join(
        meta, "slaves", "agent-S1")
    await_condition(lambda: not kit.alive(pid), kit.TIMEOUT,
                    message="the old agent's executor to be destroyed")
    assert _logged(caplog, "Destroying orphaned container")


# ---------------------------------------------------------------------------------------
# A work directory of another agent.


@pytest.mark.parametrize("policy, reason", [
    ("equal", "Incompatible agent info detected"),
    ("additive", "Hostname changed from localhost to another-host"),
])
def test_work_dir_of_another_agent_is_refused(clock: Clock, master: Any, tmp_path: Path,
                                              kit: SimpleNamespace, leftovers: Any,
                                              caplog: pytest.LogCaptureFixture, policy: str,
                                              reason: str) -> None:
    """This test ensures that an agent started on a work directory whose `slaves/latest`
    belongs to another agent (another host's `SlaveInfo`: a copied or shared directory),
    without a reboot, refuses to recover under either `--reconfiguration_policy`: it exits
    1 with the reason, both agents' infos where they differ and the way out, adopts none of
    the other agent's executors and registers nowhere (`Slave::recover`)."""
    pid, _ = _executor_left_running(clock, master, tmp_path, kit)

    error = _recovery_refused(master, tmp_path, kit, hostname="another-host",
                              reconfiguration_policy=policy)
    assert reason in error
    if policy == "equal":
        assert "hostname: localhost" in error and "hostname: another-host" in error
    assert f"rm -f {tmp_path / 'meta' / 'slaves' / 'latest'}" in error
    assert _logged(caplog, "Failed to perform recovery", reason)
    assert kit.alive(pid)


@pytest.mark.parametrize("owner", ["its executor", "an unrelated process"])
def test_executors_of_a_forgotten_agent_are_destroyed(clock: Clock, master: Any,
                                                      tmp_path: Path, kit: SimpleNamespace,
                                                      leftovers: Any,
                                                      caplog: pytest.LogCaptureFixture,
                                                      owner: str) -> None:
    """This test ensures that after `rm -f meta/slaves/latest` (the remedy the agent prints
    when it refuses a work directory) the agent starts as a new agent and destroys the
    executors the old agent left running, as Mesos's containerizer destroys the containers
    it finds but the agent did not recover; and that a checkpointed pid now held by an
    unrelated process (a reused pid) is never taken for the executor nor killed."""
    pid, container_id = _executor_left_running(clock, master, tmp_path, kit)
    meta = paths.get_meta_root_dir(str(tmp_path))
    os.unlink(paths.get_latest_slave_path(meta))

    other = None
    if owner == "an unrelated process":
        os.killpg(pid, signal.SIGKILL)
        await_condition(lambda: not kit.alive(pid), kit.TIMEOUT, message="the executor to die")
        other = subprocess.Popen(["sleep", "1000"], start_new_session=True)
        forked = paths.get_forked_pid_path(meta, kit.SLAVE_ID, F1, "e1", container_id)
        Path(forked).write_text(str(other.pid))

    try:
        master.slave_id = "agent-S1"
        agent = kit.new_agent(master, tmp_path)
        expect_no_message(messages_pb2.ReconnectExecutorMessage)
        registered = future_message(messages_pb2.SlaveRegisteredMessage, to=agent)
        libprocess.spawn(agent)
        settle()
        clock.advance(1.0)
        assert registered.get(kit.TIMEOUT).slave_id.value == "agent-S1"
        if other is None:
            await_condition(lambda: not kit.alive(pid), kit.TIMEOUT,
                            message="the old agent's executor to be destroyed")
            assert _logged(caplog, f"Destroying orphaned container {container_id}")
        else:
            settle()
            assert other.poll() is None
            assert not _logged(caplog, "Destroying orphaned container")
            assert _logged(caplog, f"Container {container_id} is not recovered")
    finally:
        if other is not None:
            other.kill()
            other.wait(10)


# ---------------------------------------------------------------------------------------
# Acknowledgements and status updates that do not fit.


def _ack(update: Any, **fields: Any) -> Any:
    ack = messages_pb2.StatusUpdateAcknowledgementMessage()
    ack.slave_id.CopyFrom(update.slave_id)
    ack.framework_id.value = fields.pop("framework_id", update.framework_id.value)
    ack.task_id.value = fields.pop("task_id", update.status.task_id.value)
    ack.uuid = fields.pop("uuid", update.uuid)
    assert not fields
    return ack


def test_acknowledgement_of_an_unknown_task_is_dropped(clock: Clock, master: Any,
                                                       tmp_path: Any, kit: SimpleNamespace,
                                                       caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    """This test ensures that an acknowledgement for a task or framework the agent has no
    update stream for is dropped with an error line naming it (as
    `Slave::_statusUpdateAcknowledgement` logs the status update manager's failure): it
    forwards nothing, changes no task and leaves the agent running. (The Mesos agent has no
    metric for it; the master counts `invalid_status_update_acknowledgements`.)"""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    executor.update("t1", mesos_pb2.TASK_RUNNING)
    update = forwarded.get(kit.TIMEOUT).update
    master.acknowledge(agent, update)
    settle()
    expect_no_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)

    for framework_id, task_id in ((kit.FRAMEWORK_ID, "t-unknown"),
                                  ("framework-unknown", "t1")):
        master.post(agent.upid, _ack(update, framework_id=framework_id, task_id=task_id,
                                     uuid=uuid.uuid4().bytes))
        settle()
        assert _logged(caplog, "Failed to handle status update acknowledgement",
                       f"for task {task_id} of framework {framework_id}",
                       "Cannot find the task status update stream")

    clock.advance(STATUS_UPDATE_RETRY_INTERVAL_MIN)
    settle()
    assert kit.read_agent(agent, lambda: (agent.state, kit.agent_executor(
        agent, kit.FRAMEWORK_ID, "e1").launched_tasks["t1"].state)) == (
        State.RUNNING, mesos_pb2.TASK_RUNNING)


def test_stale_acknowledgement_leaves_the_update_pending(clock: Clock, master: Any,
                                                         tmp_path: Any, kit: SimpleNamespace,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    """This test ensures that an acknowledgement whose uuid is not the pending update's (an
    unknown uuid, or the uuid of an update queued behind it) is ignored with a log line,
    that the pending update is still resent after the retry interval until the right
    acknowledgement comes, and that only then does the next update go out: no update is
    lost or reordered (§2.9)."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    running = executor.update("t1", mesos_pb2.TASK_RUNNING)
    assert forwarded.get(kit.TIMEOUT).update.uuid == running.uuid
    finished = executor.update("t1", mesos_pb2.TASK_FINISHED)
    settle()

    # 1. Stale acknowledgements: ignored, nothing forwarded.
    for stale in (uuid.uuid4().bytes, finished.uuid):
        master.post(agent.upid, _ack(running, uuid=stale))
        settle()
        assert _logged(caplog, "Failed to handle status update acknowledgement",
                       str(uuid.UUID(bytes=stale)),
                       f"the pending update has UUID {uuid.UUID(bytes=running.uuid)}")
    assert [m.update.uuid for m in master.messages(messages_pb2.StatusUpdateMessage)] == [
        running.uuid]

    # 2. The pending update is resent after the retry interval.
    resent = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(STATUS_UPDATE_RETRY_INTERVAL_MIN)
    assert resent.get(kit.TIMEOUT).update.uuid == running.uuid

    # 3. The right acknowledgement sends the next update at once.
    following = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    master.acknowledge(agent, running)
    assert following.get(kit.TIMEOUT).update.uuid == finished.uuid
    settle()
    assert kit.read_agent(agent, lambda: list(
        kit.agent_executor(agent, kit.FRAMEWORK_ID, "e1").terminated_tasks)) == ["t1"]


def test_duplicate_update_is_acknowledged_but_forwarded_once(clock: Clock, master: Any,
                                                             tmp_path: Any,
                                                             kit: SimpleNamespace) -> None:
    """This test ensures that an update the executor sends again with the same uuid (it
    missed the acknowledgement) is acknowledged to the executor again, so that it stops
    resending, but reaches the master only once (§2.9: a uuid already received is a
    duplicate); the same for a terminal update."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)

    for state in (mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_FINISHED):
        forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
        acks = [future_message(messages_pb2.StatusUpdateAcknowledgementMessage, from_=agent,
                               to=executor) for _ in range(2)]
        update = executor.update("t1", state)
        assert forwarded.get(kit.TIMEOUT).update.uuid == update.uuid
        executor.update("t1", state, uuid=update.uuid)
        assert [ack.get(kit.TIMEOUT).uuid for ack in acks] == [update.uuid, update.uuid]
        settle()
        assert [m.update.uuid for m in master.messages(messages_pb2.StatusUpdateMessage)
                if m.update.uuid == update.uuid] == [update.uuid]
        master.acknowledge(agent, update)
        settle()

    # Both forwarded once, and the task is complete.
    assert len(master.messages(messages_pb2.StatusUpdateMessage)) == 2
    assert kit.read_agent(agent, lambda: [t.task_id.value for t in kit.agent_executor(
        agent, kit.FRAMEWORK_ID, "e1").completed_tasks]) == ["t1"]


def test_update_for_an_unknown_task_is_acknowledged_and_forwarded(
        clock: Clock, master: Any, tmp_path: Any, kit: SimpleNamespace,
        caplog: pytest.LogCaptureFixture) -> None:
    """This test ensures that an executor's update for a task the agent does not know (of a
    framework it knows) is, as in `Slave::statusUpdate`, logged ("Could not find the
    executor"), acknowledged to the executor and forwarded to the master reliably, which
    can tell the scheduler about it; it creates no task at the agent."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    acked = future_message(messages_pb2.StatusUpdateAcknowledgementMessage, from_=agent,
                           to=executor)
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    update = executor.update("t-unknown", mesos_pb2.TASK_FAILED)
    assert acked.get(kit.TIMEOUT).uuid == update.uuid
    assert forwarded.get(kit.TIMEOUT).update.uuid == update.uuid
    settle()
    assert _logged(caplog, "Could not find the executor for status update TASK_FAILED",
                   "for task t-unknown")
    assert kit.read_agent(agent, lambda: agent.frameworks[kit.FRAMEWORK_ID].has_task(
        "t-unknown")) is False

    # Retried until acknowledged, like any other update.
    resent = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(STATUS_UPDATE_RETRY_INTERVAL_MIN)
    assert resent.get(kit.TIMEOUT).update.uuid == update.uuid


# ---------------------------------------------------------------------------------------
# A master that does not lead (split brain).


def test_messages_of_a_master_that_does_not_lead_change_nothing(
        clock: Clock, master: Any, tmp_path: Any, kit: SimpleNamespace,
        caplog: pytest.LogCaptureFixture) -> None:
    """This test ensures that a master process other than the agent's detected leader (a
    deposed master that still believes it leads) can neither kill a task, acknowledge an
    update, shut down an executor or a framework, update a framework's pid, nor confirm a
    (re)registration under another id: each is ignored with "... because it is not the
    expected master", and the update it "acknowledged" is still resent to, and
    acknowledged by, the real master (no update is lost)."""
    agent = kit.start_agent(clock, master, str(tmp_path))
    executor = kit.launch_fake_executor(master, agent)
    forwarded = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    update = executor.update("t1", mesos_pb2.TASK_RUNNING)
    forwarded.get(kit.TIMEOUT)
    settle()

    deposed = kit.FakeMaster()
    libprocess.spawn(deposed)
    assert deposed.upid.id.startswith("master")
    framework_id = mesos_pb2.FrameworkID(value=kit.FRAMEWORK_ID)
    kill = messages_pb2.KillTaskMessage(framework_id=framework_id)
    kill.task_id.value = "t1"
    update_framework = messages_pb2.UpdateFrameworkMessage(
        framework_id=framework_id, pid="scheduler(9)@10.9.9.9:9999")
    registered = messages_pb2.SlaveRegisteredMessage()
    registered.slave_id.value = "agent-S9"
    reregistered = messages_pb2.SlaveReregisteredMessage()
    reregistered.slave_id.value = "agent-S9"
    messages = [
        kill, _ack(update), update_framework,
        messages_pb2.ShutdownExecutorMessage(framework_id=framework_id,
                                             executor_id=mesos_pb2.ExecutorID(value="e1")),
        messages_pb2.ShutdownFrameworkMessage(framework_id=framework_id),
        registered, reregistered,
    ]
    expect_no_message(messages_pb2.KillTaskMessage, from_=agent)
    expect_no_message(messages_pb2.ShutdownExecutorMessage, from_=agent)
    for message in messages:
        deposed.post(agent.upid, message)
    settle()

    assert len(_logged(caplog, f"from {deposed.upid}", "not the expected master")) + len(
        _logged(caplog, f"from {deposed.upid}", "not from the registered master")) == \
        len(messages)
    assert kit.read_agent(agent, lambda: (
        agent.state, agent.info.id.value, str(agent.frameworks[kit.FRAMEWORK_ID].pid or ""),
        kit.agent_executor(agent, kit.FRAMEWORK_ID, "e1").state)) == (
        State.RUNNING, kit.SLAVE_ID, "", ExecutorState.RUNNING)

    # The update the deposed master "acknowledged" is still pending: resent to the real
    # master, whose acknowledgement is taken.
    resent = future_message(messages_pb2.StatusUpdateMessage, from_=agent, to=master)
    clock.advance(STATUS_UPDATE_RETRY_INTERVAL_MIN)
    assert resent.get(kit.TIMEOUT).update.uuid == update.uuid
    master.acknowledge(agent, update)
    settle()
    assert not _logged(caplog, "Failed to handle status update acknowledgement")
    assert not deposed.messages(messages_pb2.StatusUpdateMessage)
