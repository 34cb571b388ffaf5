"""Actor tests of the task status update manager (`task-status-update-manager(N)` and its
facade): forwarding, resending on the paused libprocess clock, pause/resume, cleanup and
recovery of checkpointed streams."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import pytest

import libprocess
from libprocess import FutureFailed
from libprocess.clock import Clock
from libprocess.testing import drop_dispatch, settle
from mesos.agent.status_update_manager import (
    STATUS_UPDATE_RETRY_INTERVAL_MAX,
    STATUS_UPDATE_RETRY_INTERVAL_MIN,
    CheckpointedTask,
    TaskStatusUpdateManager,
    task_updates_path,
)
from mesos.agent.status_update_stream import read_task_updates
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

FRAMEWORK = mesos_pb2.FrameworkID(value="framework-1")
SLAVE = mesos_pb2.SlaveID(value="agent-S0")
EXECUTOR = mesos_pb2.ExecutorID(value="executor-1")
CONTAINER = mesos_pb2.ContainerID(value="container-1")
TIMEOUT = 10.0


def task(name: str) -> mesos_pb2.TaskID:
    return mesos_pb2.TaskID(value=name)


def make_update(task_id: mesos_pb2.TaskID, state: int,
                framework_id: mesos_pb2.FrameworkID = FRAMEWORK) -> messages_pb2.StatusUpdate:
    update = messages_pb2.StatusUpdate()
    update.framework_id.CopyFrom(framework_id)
    update.slave_id.CopyFrom(SLAVE)
    update.executor_id.CopyFrom(EXECUTOR)
    update.status.task_id.CopyFrom(task_id)
    update.status.state = state  # type: ignore[assignment]
    update.timestamp = 1.0
    update.uuid = uuid.uuid4().bytes
    update.status.uuid = update.uuid
    return update


class Forwarded:
    """The `forward` callback of the tests: records every forwarded update (it is called on
    the manager's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._updates: list[messages_pb2.StatusUpdate] = []

    def __call__(self, update: messages_pb2.StatusUpdate) -> None:
        with self._lock:
            self._updates.append(update)

    @property
    def updates(self) -> list[messages_pb2.StatusUpdate]:
        with self._lock:
            return list(self._updates)

    def uuids(self) -> list[bytes]:
        return [u.uuid for u in self.updates]

    def count(self) -> int:
        return len(self.updates)


@pytest.fixture
def forwarded() -> Forwarded:
    return Forwarded()


@pytest.fixture
def manager(forwarded: Forwarded, tmp_path) -> Iterator[TaskStatusUpdateManager]:
    manager = TaskStatusUpdateManager(work_dir=str(tmp_path))
    manager.initialize(forwarded).get(TIMEOUT)
    yield manager
    manager.finalize()


def advance(clock: Clock, seconds: float) -> None:
    clock.advance(seconds)
    settle()


def test_process_id(manager: TaskStatusUpdateManager) -> None:
    """This test ensures that the process has the Mesos id `task-status-update-manager(N)`."""
    assert manager.process.id.startswith("task-status-update-manager(")


def test_unacknowledged_update_is_resent_with_bounded_backoff(
        clock: Clock, manager: TaskStatusUpdateManager, forwarded: Forwarded) -> None:
    """This test ensures that a forwarded update that is not acknowledged is resent after
    exactly 10 s, then 20 s, 40 s, ... and at most every 10 min."""
    running = make_update(task("t1"), mesos_pb2.TASK_RUNNING)

    # 1. The update is forwarded as soon as it is recorded.
    manager.update(running, SLAVE).get(TIMEOUT)
    assert forwarded.uuids() == [running.uuid]

    # 2. Each resend comes exactly when its interval has passed, never a second earlier.
    interval = STATUS_UPDATE_RETRY_INTERVAL_MIN
    expected = [10, 20, 40, 80, 160, 320, 600, 600, 600]
    for count, seconds in enumerate(expected, start=2):
        assert interval == seconds
        advance(clock, interval - 1)
        assert forwarded.count() == count - 1, f"resent before {interval} s"
        advance(clock, 1)
        assert forwarded.count() == count, f"not resent after {interval} s"
        interval = min(interval * 2, STATUS_UPDATE_RETRY_INTERVAL_MAX)

    assert set(forwarded.uuids()) == {running.uuid}


def test_acknowledgement_forwards_the_next_update_at_once(
        clock: Clock, manager: TaskStatusUpdateManager, forwarded: Forwarded) -> None:
    """This test ensures that only the head is forwarded, that acknowledging it forwards the
    next pending update at once, and that the retry timer then follows the new head."""
    t1 = task("t1")
    starting, running, finished = (make_update(t1, mesos_pb2.TASK_STARTING),
                                   make_update(t1, mesos_pb2.TASK_RUNNING),
                                   make_update(t1, mesos_pb2.TASK_FINISHED))

    # 1. Three updates arrive; only the first goes out.
    for update in (starting, running, finished):
        manager.update(update, SLAVE).get(TIMEOUT)
    assert forwarded.uuids() == [starting.uuid]

    # 2. Its acknowledgement sends the second without waiting for any timer.
    assert manager.acknowledgement(t1, FRAMEWORK, starting.uuid).get(TIMEOUT) is True
    assert forwarded.uuids() == [starting.uuid, running.uuid]

    # 3. The resend 10 s later is of the new head, not of the acknowledged one.
    advance(clock, STATUS_UPDATE_RETRY_INTERVAL_MIN)
    assert forwarded.uuids() == [starting.uuid, running.uuid, running.uuid]


def test_stale_acknowledgement_forwards_nothing(
        clock: Clock, manager: TaskStatusUpdateManager, forwarded: Forwarded) -> None:
    """This test ensures that acknowledgements that do not match the head (one of an update
    behind it, an unknown uuid, a duplicate of the head's) fail and never forward anything."""
    t1 = task("t1")
    running, finished = (make_update(t1, mesos_pb2.TASK_RUNNING),
                         make_update(t1, mesos_pb2.TASK_FINISHED))
    manager.update(running, SLAVE).get(TIMEOUT)
    manager.update(finished, SLAVE).get(TIMEOUT)

    # 1. The head is resent once; both forwards will be acknowledged.
    advance(clock, STATUS_UPDATE_RETRY_INTERVAL_MIN)
    assert forwarded.uuids() == [running.uuid, running.uuid]

    # 2. Acknowledgements that do not match the head are refused.
    with pytest.raises(FutureFailed, match="pending update has UUID"):
        manager.acknowledgement(t1, FRAMEWORK, finished.uuid).get(TIMEOUT)
    with pytest.raises(FutureFailed, match="pending update has UUID"):
        manager.acknowledgement(t1, FRAMEWORK, uuid.uuid4().bytes).get(TIMEOUT)
    assert forwarded.count() == 2

    # 3. The first acknowledgement of the head forwards the next update, the second one (for
    # the retried forward) is a duplicate and forwards nothing.
    assert manager.acknowledgement(t1, FRAMEWORK, running.uuid).get(TIMEOUT) is True
    with pytest.raises(FutureFailed, match="duplicate"):
        manager.acknowledgement(t1, FRAMEWORK, running.uuid).get(TIMEOUT)
    assert forwarded.uuids() == [running.uuid, running.uuid, finished.uuid]


def test_resend_timer_that_fired_before_an_acknowledgement_resends_nothing(
        clock: Clock, manager: TaskStatusUpdateManager, forwarded: Forwarded) -> None:
    """This test ensures that a resend already on its way when the head is acknowledged (the
    timer fired, its dispatch is still queued) neither resends the acknowledged update nor
    forwards the next one out of turn."""
    t1 = task("t1")
    running, finished = (make_update(t1, mesos_pb2.TASK_RUNNING),
                         make_update(t1, mesos_pb2.TASK_FINISHED))
    manager.update(running, SLAVE).get(TIMEOUT)
    manager.update(finished, SLAVE).get(TIMEOUT)

    # 1. The resend timer fires; hold its dispatch back.
    timeout = drop_dispatch(manager.process, "timeout")
    advance(clock, STATUS_UPDATE_RETRY_INTERVAL_MIN)
    args = timeout.get(TIMEOUT)

    # 2. The acknowledgement arrives first and forwards the next update.
    assert manager.acknowledgement(t1, FRAMEWORK, running.uuid).get(TIMEOUT) is True
    assert forwarded.uuids() == [running.uuid, finished.uuid]

    # 3. The late resend finds its timer replaced and does nothing.
    libprocess.dispatch(manager.process, "timeout", *args).get(TIMEOUT)
    assert forwarded.uuids() == [running.uuid, finished.uuid]


def test_duplicate_update_is_recorded_but_not_forwarded_again(
        manager: TaskStatusUpdateManager, forwarded: Forwarded) -> None:
    """This test ensures that a duplicate update succeeds (so the agent acknowledges it to the
    executor) without being forwarded again."""
    running = make_update(task("t1"), mesos_pb2.TASK_RUNNING)
    assert manager.update(running, SLAVE).get(TIMEOUT) is None
    assert manager.update(running, SLAVE).get(TIMEOUT) is None
    assert forwarded.uuids() == [running.uuid]


def test_forwarded_update_carries_the_latest_state(
        clock: Clock, manager: TaskStatusUpdateManager, forwarded: Forwarded) -> None:
    """This test ensures that a resent head carries the newest state received for the task in
    `latest_state`, while keeping its own state."""
    t1 = task("t1")
    manager.update(make_update(t1, mesos_pb2.TASK_RUNNING), SLAVE).get(TIMEOUT)
    manager.update(make_update(t1, mesos_pb2.TASK_FINISHED), SLAVE).get(TIMEOUT)
    advance(clock, STATUS_UPDATE_RETRY_INTERVAL_MIN)

    first, resent = forwarded.updates
    assert (first.status.state, first.latest_state) == (mesos_pb2.TASK_RUNNING,
                                                        mesos_pb2.TASK_RUNNING)
    assert (resent.status.state, resent.latest_state) == (mesos_pb2.TASK_RUNNING,
                                                          mesos_pb2.TASK_FINISHED)


def test_acknowledged_terminal_update_closes_the_stream(
        clock: Clock, manager: TaskStatusUpdateManager, forwarded: Forwarded) -> None:
    """This test ensures that acknowledging a terminal update closes the stream (the future
    says False), that nothing is resent afterwards, and that a later update with a new uuid
    starts a new stream and is still forwarded, as in Mesos."""
    t1 = task("t1")
    running, finished = (make_update(t1, mesos_pb2.TASK_RUNNING),
                         make_update(t1, mesos_pb2.TASK_FINISHED))
    manager.update(running, SLAVE).get(TIMEOUT)
    manager.update(finished, SLAVE).get(TIMEOUT)

    assert manager.acknowledgement(t1, FRAMEWORK, running.uuid).get(TIMEOUT) is True
    assert manager.acknowledgement(t1, FRAMEWORK, finished.uuid).get(TIMEOUT) is False
    with pytest.raises(FutureFailed, match="Cannot find the task status update stream"):
        manager.acknowledgement(t1, FRAMEWORK, finished.uuid).get(TIMEOUT)

    advance(clock, STATUS_UPDATE_RETRY_INTERVAL_MAX)
    assert forwarded.uuids() == [running.uuid, finished.uuid]

    killed = make_update(t1, mesos_pb2.TASK_KILLED)
    manager.update(killed, SLAVE).get(TIMEOUT)
    assert forwarded.uuids()[-1] == killed.uuid


def test_pause_stops_retries_and_resume_resends_every_head(
        clock: Clock, manager: TaskStatusUpdateManager, forwarded: Forwarded) -> None:
    """This test ensures that a paused manager neither forwards nor resends, and that
    `resume()` resends the head of every stream at once, then retries them again."""
    tasks = [task(f"t{i}") for i in range(3)]
    heads = [make_update(t, mesos_pb2.TASK_RUNNING) for t in tasks]
    for head in heads:
        manager.update(head, SLAVE).get(TIMEOUT)
    assert forwarded.count() == 3

    # 1. Paused (no master): no resend, and a new head is not forwarded either.
    manager.pause().get(TIMEOUT)
    late = make_update(task("t3"), mesos_pb2.TASK_RUNNING)
    manager.update(late, SLAVE).get(TIMEOUT)
    manager.update(make_update(tasks[0], mesos_pb2.TASK_FINISHED), SLAVE).get(TIMEOUT)
    advance(clock, STATUS_UPDATE_RETRY_INTERVAL_MAX * 3)
    assert forwarded.count() == 3

    # 2. Resumed: every head goes out at once, without advancing the clock.
    manager.resume().get(TIMEOUT)
    resent = forwarded.uuids()[3:]
    assert sorted(resent) == sorted([h.uuid for h in heads] + [late.uuid])

    # 3. And the resend timers start again from the minimum interval.
    advance(clock, STATUS_UPDATE_RETRY_INTERVAL_MIN)
    assert forwarded.count() == 3 + 4 + 4


def test_many_interleaved_tasks_keep_per_task_order(
        manager: TaskStatusUpdateManager, forwarded: Forwarded) -> None:
    """This test ensures that with many tasks' updates interleaved, each task's updates are
    forwarded once each and in the order they arrived, as a master acknowledges them."""
    states = [mesos_pb2.TASK_STARTING, mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_RUNNING,
              mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_FINISHED]
    tasks = [task(f"t{i}") for i in range(20)]
    sent: dict[str, list[bytes]] = {t.value: [] for t in tasks}

    # 1. Round-robin arrival: the first update of every task, then the second, ...
    for state in states:
        for t in tasks:
            update = make_update(t, state)
            sent[t.value].append(update.uuid)
            manager.update(update, SLAVE).get(TIMEOUT)

    # 2. The "master" acknowledges whatever was forwarded until nothing new comes.
    acked = 0
    while acked < forwarded.count():
        update = forwarded.updates[acked]
        manager.acknowledgement(update.status.task_id, update.framework_id,
                                update.uuid).get(TIMEOUT)
        acked += 1

    received: dict[str, list[bytes]] = {t.value: [] for t in tasks}
    for update in forwarded.updates:
        received[update.status.task_id.value].append(update.uuid)
    assert received == sent


def test_cleanup_closes_the_framework_streams(
        clock: Clock, manager: TaskStatusUpdateManager, forwarded: Forwarded) -> None:
    """This test ensures that `cleanup(framework_id)` stops resending that framework's
    updates and forgets its streams, leaving other frameworks alone."""
    other = mesos_pb2.FrameworkID(value="framework-2")
    mine = make_update(task("t1"), mesos_pb2.TASK_RUNNING)
    theirs = make_update(task("t1"), mesos_pb2.TASK_RUNNING, framework_id=other)
    manager.update(mine, SLAVE).get(TIMEOUT)
    manager.update(theirs, SLAVE).get(TIMEOUT)

    manager.cleanup(FRAMEWORK).get(TIMEOUT)
    advance(clock, STATUS_UPDATE_RETRY_INTERVAL_MIN)
    assert forwarded.uuids() == [mine.uuid, theirs.uuid, theirs.uuid]
    with pytest.raises(FutureFailed, match="Cannot find"):
        manager.acknowledgement(task("t1"), FRAMEWORK, mine.uuid).get(TIMEOUT)


def test_checkpoint_flag_must_match_the_stream(manager: TaskStatusUpdateManager) -> None:
    """This test ensures that a task's updates are all checkpointed or none is."""
    t1 = task("t1")
    manager.update(make_update(t1, mesos_pb2.TASK_RUNNING), SLAVE).get(TIMEOUT)
    with pytest.raises(FutureFailed, match="Mismatched checkpoint value"):
        manager.update(make_update(t1, mesos_pb2.TASK_FINISHED), SLAVE, checkpoint=True,
                       container_id=CONTAINER).get(TIMEOUT)


def test_checkpointed_streams_are_recovered_after_a_restart(
        clock: Clock, tmp_path, forwarded: Forwarded) -> None:
    """This test ensures that updates of a checkpointing framework are written under the
    Mesos `meta/` layout, and that a new manager recovering them resends the unacknowledged
    ones once resumed, and not before."""
    work_dir = str(tmp_path)
    t1, t2 = task("t1"), task("t2")
    running, finished = (make_update(t1, mesos_pb2.TASK_RUNNING),
                         make_update(t1, mesos_pb2.TASK_FINISHED))
    done = make_update(t2, mesos_pb2.TASK_FINISHED)

    # 1. The first agent run: t1 RUNNING acknowledged, FINISHED not; t2 finished and acked.
    first = TaskStatusUpdateManager(work_dir=work_dir)
    first.initialize(lambda update: None).get(TIMEOUT)
    for update in (running, finished, done):
        first.update(update, SLAVE, checkpoint=True, container_id=CONTAINER).get(TIMEOUT)
    assert first.acknowledgement(t1, FRAMEWORK, running.uuid).get(TIMEOUT) is True
    assert first.acknowledgement(t2, FRAMEWORK, done.uuid).get(TIMEOUT) is False
    first.finalize()

    path1 = task_updates_path(work_dir, SLAVE, FRAMEWORK, EXECUTOR, CONTAINER, t1)
    path2 = task_updates_path(work_dir, SLAVE, FRAMEWORK, EXECUTOR, CONTAINER, t2)
    assert path1 == os.path.join(work_dir, "meta", "slaves", "agent-S0", "frameworks",
                                 "framework-1", "executors", "executor-1", "runs",
                                 "container-1", "tasks", "t1", "task.updates")
    assert os.path.exists(path1) and os.path.exists(path2)

    # 2. The restarted agent recovers (paths relative to its meta root) while paused.
    second = TaskStatusUpdateManager(work_dir=work_dir)
    second.initialize(forwarded).get(TIMEOUT)
    second.pause().get(TIMEOUT)
    root = os.path.join(work_dir, "meta")
    state = [CheckpointedTask(FRAMEWORK, t, os.path.relpath(p, root), SLAVE)
             for t, p in ((t1, path1), (t2, path2))]
    second.recover(root, state).get(TIMEOUT)
    advance(clock, STATUS_UPDATE_RETRY_INTERVAL_MIN)
    assert forwarded.count() == 0

    # 3. Reregistered: only the unacknowledged FINISHED of t1 goes out; t2's stream is closed.
    second.resume().get(TIMEOUT)
    assert forwarded.uuids() == [finished.uuid]
    assert forwarded.updates[0].latest_state == mesos_pb2.TASK_FINISHED
    with pytest.raises(FutureFailed, match="Cannot find"):
        second.acknowledgement(t2, FRAMEWORK, done.uuid).get(TIMEOUT)

    # 4. Its acknowledgement is appended to the same file and closes the stream.
    assert second.acknowledgement(t1, FRAMEWORK, finished.uuid).get(TIMEOUT) is False
    second.finalize()
    assert read_task_updates(path1, strict=True).acks == {running.uuid, finished.uuid}


def test_recovery_of_a_truncated_file_depends_on_strict(
        tmp_path, forwarded: Forwarded, manager: TaskStatusUpdateManager) -> None:
    """This test ensures that a truncated last record fails a strict recovery with a clear
    message, and that a non-strict one recovers the updates before it."""
    path = str(tmp_path / "task.updates")
    t1 = task("t1")
    running, finished = (make_update(t1, mesos_pb2.TASK_RUNNING),
                         make_update(t1, mesos_pb2.TASK_FINISHED))
    writer = TaskStatusUpdateManager()
    writer.initialize(lambda update: None).get(TIMEOUT)
    writer.update(running, SLAVE, checkpoint=True, path=path).get(TIMEOUT)
    writer.update(finished, SLAVE, checkpoint=True, path=path).get(TIMEOUT)
    writer.finalize()
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 5)

    state = [CheckpointedTask(FRAMEWORK, t1, path, SLAVE)]
    with pytest.raises(FutureFailed, match=r"Failed to replay status updates for task t1 .*"
                                           r"truncated"):
        manager.recover(str(tmp_path), state, strict=True).get(TIMEOUT)

    manager.recover(str(tmp_path), state, strict=False).get(TIMEOUT)
    manager.resume().get(TIMEOUT)
    assert forwarded.uuids() == [running.uuid]
