"""The agent's checkpoint files and the recovered state model, without actors.

`mesos.agent.checkpoint` (atomic writes, stout's length-prefixed records) and
`mesos.agent.state` (the `meta/` tree read back by `recover`, and `compatible`), on
checkpoint trees the tests write with the agent's own writers and then damage.
"""

from __future__ import annotations

import os
import struct
import uuid
from pathlib import Path
from typing import Any

import pytest

from libprocess import UPID
from mesos.agent import paths, state
from mesos.agent.checkpoint import CheckpointError, checkpoint, read_message, read_text
from mesos.agent.status_update_stream import TaskStatusUpdateStream
from mesos.common.attributes import parse_attributes
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

SID, FID, EID, CID, TID = "agent-S3", "fw-0001", "exec-1", "run-1", "task-1"


def _slave_info(resources: str = "cpus:2;mem:512", attributes: str = "rack:a",
                port: int = 5051) -> Any:
    info = mesos_pb2.SlaveInfo(hostname="host-1", port=port, checkpoint=True)
    info.id.value = SID
    info.resources.extend(Resources.parse(resources))
    info.attributes.extend(parse_attributes(attributes))
    return info


def _write_tree(meta: str, updates: int = 1) -> str:
    """A complete checkpoint of one agent, framework, executor, run and task, as the agent
    writes it; returns the task's `task.updates` path."""
    state.checkpoint_slave_info(meta, _slave_info())
    framework = mesos_pb2.FrameworkInfo(user="u", name="f", checkpoint=True)
    framework.id.value = FID
    state.checkpoint_framework(meta, SID, framework, UPID("scheduler(1)@10.0.0.1:4000"))
    executor = mesos_pb2.ExecutorInfo()
    executor.executor_id.value = EID
    executor.command.value = "sleep 1"
    state.checkpoint_executor(meta, SID, FID, executor, CID)
    checkpoint(paths.get_forked_pid_path(meta, SID, FID, EID, CID), "4242")
    state.checkpoint_libprocess_pid(meta, SID, FID, EID, CID,
                                    UPID("executor(1)@10.0.0.2:5000"))
    task = mesos_pb2.Task(name="t", state=mesos_pb2.TASK_STAGING)
    task.task_id.value = TID
    task.framework_id.value = FID
    task.slave_id.value = SID
    state.checkpoint_task(meta, SID, FID, EID, CID, task)
    path = paths.get_task_updates_path(meta, SID, FID, EID, CID, TID)
    stream = TaskStatusUpdateStream(mesos_pb2.TaskID(value=TID), mesos_pb2.FrameworkID(
        value=FID), mesos_pb2.SlaveID(value=SID), path)
    for _ in range(updates):
        update = messages_pb2.StatusUpdate(timestamp=1.0, uuid=uuid.uuid4().bytes)
        update.framework_id.value = FID
        update.status.task_id.value = TID
        update.status.state = mesos_pb2.TASK_RUNNING
        stream.update(update)
    stream.close()
    state.checkpoint_boot_id(meta)
    return path


# ---------------------------------------------------------------------------------------
# Checkpoint files.


def test_checkpoint_is_a_length_prefixed_record_written_atomically(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test ensures that a protobuf checkpoint is one record (a native 4-byte length,
    then the message), that it reaches the disk (fsync of the file and of its directory)
    before it replaces the old file, and that a write failing before the rename leaves the
    old file whole and no temporary file behind."""
    path = tmp_path / "dir" / "slave.info"
    checkpoint(str(path), _slave_info())
    data = path.read_bytes()
    (size,) = struct.unpack("=I", data[:4])
    assert size == len(data) - 4
    assert mesos_pb2.SlaveInfo.FromString(data[4:]) == _slave_info()

    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    checkpoint(str(path), _slave_info(port=1))
    assert len(synced) == 2  # The temporary file, then the directory.
    assert read_message(str(path), mesos_pb2.SlaveInfo).port == 1

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        checkpoint(str(path), _slave_info(port=2))
    assert read_message(str(path), mesos_pb2.SlaveInfo).port == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["slave.info"]


@pytest.mark.parametrize("content, problem", [
    (b"", "is empty"),
    (b"\x01\x00", "truncated"),
    (struct.pack("=I", 50) + b"short", "truncated"),
    (struct.pack("=I", 3) + b"\xff\xff\xff", "does not hold a mesos.SlaveInfo"),
])
def test_bad_checkpoint_files_are_named(tmp_path: Path, content: bytes, problem: str) -> None:
    """This test ensures that reading an empty, truncated or corrupt checkpoint raises an
    error naming the file and the problem."""
    path = tmp_path / "slave.info"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as error:
        read_message(str(path), mesos_pb2.SlaveInfo)
    assert str(path) in str(error.value) and problem in str(error.value)


def test_text_checkpoints(tmp_path: Path) -> None:
    """This test ensures that text checkpoints hold the text alone, and that an empty one is
    an error."""
    path = tmp_path / "forked.pid"
    checkpoint(str(path), "123")
    assert path.read_bytes() == b"123"
    assert read_text(str(path)) == "123"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="is empty"):
        read_text(str(path))


# ---------------------------------------------------------------------------------------
# Recovery of the tree.


def test_recover_complete_tree(tmp_path: Path) -> None:
    """This test ensures that `recover` reads back everything the agent checkpointed."""
    meta = str(tmp_path / "meta")
    _write_tree(meta, updates=2)
    recovered = state.recover(meta, strict=True)
    assert (recovered.rebooted, recovered.errors) == (False, 0)
    slave = recovered.slave
    assert slave is not None and slave.id == SID and slave.info == _slave_info()
    framework = slave.frameworks[FID]
    assert framework.info is not None and framework.info.name == "f"
    assert framework.pid == UPID("scheduler(1)@10.0.0.1:4000")
    executor = framework.executors[EID]
    assert executor.info is not None and executor.latest == CID
    run = executor.runs[CID]
    assert (run.forked_pid, run.libprocess_pid, run.completed) == (
        4242, UPID("executor(1)@10.0.0.2:5000"), False)
    assert run.forked_pid_time == os.stat(paths.get_forked_pid_path(meta, SID, FID, EID,
                                                                    CID)).st_mtime
    task = run.tasks[TID]
    assert task.info is not None and task.info.task_id.value == TID
    assert len(task.updates) == 2 and task.acks == set()


def test_nothing_to_recover(tmp_path: Path) -> None:
    """This test ensures that no `meta` directory, or no `latest` link (an agent that never
    registered or was shut down), recovers no agent."""
    assert state.recover(str(tmp_path / "meta"), strict=True).slave is None
    (tmp_path / "meta" / "slaves").mkdir(parents=True)
    assert state.recover(str(tmp_path / "meta"), strict=True).slave is None


def test_changed_boot_id_means_rebooted(tmp_path: Path) -> None:
    """This test ensures that a checkpointed boot id other than this boot's marks the state
    as rebooted, the state itself still being read."""
    meta = str(tmp_path / "meta")
    _write_tree(meta)
    Path(paths.get_boot_id_path(meta)).write_text("another-boot\n")
    recovered = state.recover(meta, strict=True)
    assert recovered.rebooted
    assert recovered.slave is not None and FID in recovered.slave.frameworks


def _damage_framework_pid(meta: str) -> str:
    path = paths.get_framework_pid_path(meta, SID, FID)
    Path(path).write_text("not a pid")
    return path


def _damage_executor_info(meta: str) -> str:
    path = paths.get_executor_info_path(meta, SID, FID, EID)
    Path(path).write_bytes(struct.pack("=I", 10) + b"xx")
    return path


def _dangle_run_latest(meta: str) -> str:
    path = paths.get_executor_latest_run_path(meta, SID, FID, EID)
    os.unlink(path)
    os.symlink(os.path.join(os.path.dirname(path), "missing-run"), path)
    return path


def _drop_forked_pid(meta: str) -> str:
    path = paths.get_forked_pid_path(meta, SID, FID, EID, CID)
    os.unlink(path)
    return path


def _damage_task_info(meta: str) -> str:
    path = paths.get_task_info_path(meta, SID, FID, EID, CID, TID)
    Path(path).write_bytes(b"")
    return path


def _truncate_updates(meta: str) -> str:
    path = paths.get_task_updates_path(meta, SID, FID, EID, CID, TID)
    with open(path, "ab") as f:
        f.write(b"\x07")
    return path


@pytest.mark.parametrize("damage, still_there", [
    (_damage_framework_pid, lambda s: FID in s.frameworks and not s.frameworks[FID].executors),
    (_damage_executor_info, lambda s: s.frameworks[FID].executors[EID].info is None),
    (_dangle_run_latest, lambda s: s.frameworks[FID].executors[EID].latest is None),
    (_drop_forked_pid, lambda s: s.frameworks[FID].executors[EID].runs[CID].forked_pid is None),
    (_damage_task_info, lambda s: s.frameworks[FID].executors[EID].runs[CID].tasks[TID].info
     is None),
    (_truncate_updates, lambda s: len(s.frameworks[FID].executors[EID].runs[CID].tasks[TID]
                                      .updates) == 1),
])
def test_recovery_errors_strict_and_not(tmp_path: Path, damage: Any, still_there: Any) -> None:
    """This test ensures that each kind of damage (a corrupt pid or protobuf file, a
    dangling run link, a run missing its forked pid while its libprocess pid is there, a
    truncated `task.updates`) fails a strict recovery with the file named, and that a
    non-strict one recovers the rest, counting one error."""
    meta = str(tmp_path / "meta")
    _write_tree(meta)
    path = damage(meta)
    with pytest.raises(state.RecoveryError) as error:
        state.recover(meta, strict=True)
    assert path in str(error.value)

    recovered = state.recover(meta, strict=False)
    assert recovered.errors == 1
    assert recovered.slave is not None and still_there(recovered.slave)


def test_missing_files_of_an_interrupted_agent_are_not_errors(tmp_path: Path) -> None:
    """This test ensures that files the agent had not yet written when it died (an executor
    that never registered: no libprocess pid; a task without updates) are not errors, even
    when strict."""
    meta = str(tmp_path / "meta")
    _write_tree(meta)
    os.unlink(paths.get_libprocess_pid_path(meta, SID, FID, EID, CID))
    os.unlink(paths.get_task_updates_path(meta, SID, FID, EID, CID, TID))
    recovered = state.recover(meta, strict=True)
    assert recovered.errors == 0
    assert recovered.slave is not None
    run = recovered.slave.frameworks[FID].executors[EID].runs[CID]
    assert (run.forked_pid, run.libprocess_pid) == (4242, None)
    assert run.tasks[TID].updates_path is None


def test_completed_run_and_http_framework(tmp_path: Path) -> None:
    """This test ensures that an executor sentinel marks its run completed, and that an
    HTTP framework's empty pid file recovers as no pid."""
    meta = str(tmp_path / "meta")
    _write_tree(meta)
    state.mark_executor_completed(meta, SID, FID, EID, CID)
    framework = mesos_pb2.FrameworkInfo(user="u", name="f", checkpoint=True)
    framework.id.value = FID
    state.checkpoint_framework(meta, SID, framework, None)
    recovered = state.recover(meta, strict=True)
    assert recovered.slave is not None
    assert recovered.slave.frameworks[FID].pid is None
    assert recovered.slave.frameworks[FID].executors[EID].runs[CID].completed


# ---------------------------------------------------------------------------------------
# Compatibility of the agent's info across a restart.


@pytest.mark.parametrize("current, equal, additive", [
    (_slave_info(), True, True),
    (_slave_info(resources="cpus:4;mem:512"), False, True),
    (_slave_info(attributes="rack:a;zone:z"), False, True),
    (_slave_info(resources="cpus:1;mem:512"), False, False),
    (_slave_info(attributes="rack:b"), False, False),
    (_slave_info(attributes=""), False, False),
    (_slave_info(port=5052), False, False),
])
def test_compatible(current: Any, equal: bool, additive: bool) -> None:
    """This test ensures that `equal` accepts only an unchanged `SlaveInfo`, and that
    `additive` accepts added or grown resources and added attributes but no removal,
    shrinking, changed attribute or changed port."""
    previous = _slave_info()
    assert (state.compatible(previous, current, "equal") is None) is equal
    assert (state.compatible(previous, current, "additive") is None) is additive
