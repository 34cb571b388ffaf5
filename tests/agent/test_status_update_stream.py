"""Tests of the pure core of the status update manager: `TaskStatusUpdateStream` and the
`task.updates` checkpoint format (no actors, no clock)."""

from __future__ import annotations

import os
import struct
import uuid

import pytest

from mesos.agent.status_update_stream import (
    CheckpointError,
    StatusUpdateStreamError,
    TaskStatusUpdateStream,
    encode_record,
    read_task_updates,
)
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

FRAMEWORK = mesos_pb2.FrameworkID(value="framework-1")
SLAVE = mesos_pb2.SlaveID(value="agent-S0")
TASK = mesos_pb2.TaskID(value="task-1")


def make_update(state: int, task: mesos_pb2.TaskID = TASK,
                uuid_bytes: bytes | None = None) -> messages_pb2.StatusUpdate:
    update = messages_pb2.StatusUpdate()
    update.framework_id.CopyFrom(FRAMEWORK)
    update.slave_id.CopyFrom(SLAVE)
    update.status.task_id.CopyFrom(task)
    update.status.state = state  # type: ignore[assignment]
    update.timestamp = 1.0
    update.uuid = uuid_bytes if uuid_bytes is not None else uuid.uuid4().bytes
    update.status.uuid = update.uuid
    return update


def new_stream(path: str | None = None) -> TaskStatusUpdateStream:
    return TaskStatusUpdateStream(TASK, FRAMEWORK, SLAVE, path)


def decode_file(path: str) -> list[messages_pb2.StatusUpdateRecord]:
    """An independent reader of the Mesos framing: native uint32 length, then the record."""
    with open(path, "rb") as f:
        data = f.read()
    records, offset = [], 0
    while offset < len(data):
        (size,) = struct.unpack_from("=I", data, offset)
        record = messages_pb2.StatusUpdateRecord()
        record.ParseFromString(data[offset + 4:offset + 4 + size])
        records.append(record)
        offset += 4 + size
    return records


# Ordering, duplicates and acknowledgements.


def test_only_the_head_is_in_flight_until_acknowledged() -> None:
    """This test ensures that updates queue behind the head in arrival order and the next one
    becomes the head only when the head is acknowledged."""
    stream = new_stream()
    starting, running, finished = (make_update(mesos_pb2.TASK_STARTING),
                                   make_update(mesos_pb2.TASK_RUNNING),
                                   make_update(mesos_pb2.TASK_FINISHED))

    # 1. Three updates arrive; the first stays the head.
    for update in (starting, running, finished):
        assert stream.update(update) is True
        assert stream.next().uuid == starting.uuid  # type: ignore[union-attr]
    assert [u.uuid for u in stream.pending] == [starting.uuid, running.uuid, finished.uuid]

    # 2. Each acknowledgement of the head exposes the next one.
    assert stream.acknowledgement(TASK, FRAMEWORK, starting.uuid) is True
    assert stream.next().uuid == running.uuid  # type: ignore[union-attr]
    assert stream.acknowledgement(TASK, FRAMEWORK, running.uuid) is True
    assert stream.next().uuid == finished.uuid  # type: ignore[union-attr]
    assert stream.acknowledged == {starting.uuid, running.uuid}
    assert stream.received == {starting.uuid, running.uuid, finished.uuid}


def test_duplicate_updates_are_ignored() -> None:
    """This test ensures that an update whose uuid was received, or already acknowledged, is
    reported as a duplicate (False) and not queued again."""
    stream = new_stream()
    running = make_update(mesos_pb2.TASK_RUNNING)
    assert stream.update(running) is True

    # 1. The executor retries the same update before it is acknowledged.
    assert stream.update(make_update(mesos_pb2.TASK_RUNNING, uuid_bytes=running.uuid)) is False
    assert len(stream.pending) == 1

    # 2. Once acknowledged, a retry of it is still a duplicate.
    assert stream.acknowledgement(TASK, FRAMEWORK, running.uuid) is True
    assert stream.update(running) is False
    assert not stream.pending


def test_stale_unknown_and_duplicate_acknowledgements_are_ignored() -> None:
    """This test ensures that an acknowledgement that does not match the head (a stale or an
    unknown uuid, a duplicate, or one with nothing pending) changes nothing and says False."""
    stream = new_stream()
    running, finished = make_update(mesos_pb2.TASK_RUNNING), make_update(mesos_pb2.TASK_FINISHED)
    stream.update(running)
    stream.update(finished)

    # 1. The uuid of a queued update that is not the head, and an unknown uuid.
    assert stream.acknowledgement(TASK, FRAMEWORK, finished.uuid) is False
    assert stream.acknowledgement(TASK, FRAMEWORK, uuid.uuid4().bytes) is False
    assert stream.next().uuid == running.uuid  # type: ignore[union-attr]
    assert stream.acknowledged == set()

    # 2. The head is acknowledged twice (the original and a retried forward both answered).
    assert stream.acknowledgement(TASK, FRAMEWORK, running.uuid) is True
    assert stream.acknowledgement(TASK, FRAMEWORK, running.uuid) is False
    assert stream.next().uuid == finished.uuid  # type: ignore[union-attr]

    # 3. Nothing pending any more.
    assert stream.acknowledgement(TASK, FRAMEWORK, finished.uuid) is True
    assert stream.acknowledgement(TASK, FRAMEWORK, uuid.uuid4().bytes) is False


def test_acknowledged_terminal_update_closes_the_stream() -> None:
    """This test ensures that the acknowledgement of a terminal update terminates the stream,
    which then refuses new updates but still treats retries as duplicates."""
    stream = new_stream()
    running, finished = make_update(mesos_pb2.TASK_RUNNING), make_update(mesos_pb2.TASK_FINISHED)
    stream.update(running)
    stream.update(finished)

    stream.acknowledgement(TASK, FRAMEWORK, running.uuid)
    assert not stream.terminated
    stream.acknowledgement(TASK, FRAMEWORK, finished.uuid)
    assert stream.terminated

    assert stream.update(finished) is False
    with pytest.raises(StatusUpdateStreamError, match="closed"):
        stream.update(make_update(mesos_pb2.TASK_KILLED))


def test_forwarded_head_carries_the_latest_state() -> None:
    """This test ensures that the update to forward is the head with `latest_state` set to
    the newest state received, while the head keeps its own state."""
    stream = new_stream()
    assert stream.next_to_forward() is None
    stream.update(make_update(mesos_pb2.TASK_RUNNING))
    assert stream.next_to_forward().latest_state == mesos_pb2.TASK_RUNNING  # type: ignore

    stream.update(make_update(mesos_pb2.TASK_FINISHED))
    forward = stream.next_to_forward()
    assert forward is not None
    assert forward.status.state == mesos_pb2.TASK_RUNNING
    assert forward.latest_state == mesos_pb2.TASK_FINISHED
    assert not stream.next().HasField("latest_state")  # type: ignore[union-attr]


def test_illegal_input_fails_loudly() -> None:
    """This test ensures that an update without uuid, an update or acknowledgement for another
    task, and acknowledging an update that is not the head raise a clear error."""
    stream = new_stream()
    with pytest.raises(StatusUpdateStreamError, match="missing 'uuid'"):
        stream.update(make_update(mesos_pb2.TASK_RUNNING, uuid_bytes=b""))
    with pytest.raises(StatusUpdateStreamError, match="does not belong"):
        stream.update(make_update(mesos_pb2.TASK_RUNNING, task=mesos_pb2.TaskID(value="other")))

    running, finished = make_update(mesos_pb2.TASK_RUNNING), make_update(mesos_pb2.TASK_FINISHED)
    stream.update(running)
    stream.update(finished)
    with pytest.raises(StatusUpdateStreamError, match="does not belong"):
        stream.acknowledgement(mesos_pb2.TaskID(value="other"), FRAMEWORK, running.uuid)
    with pytest.raises(StatusUpdateStreamError, match="not the head"):
        stream.acknowledgement(TASK, FRAMEWORK, finished.uuid, finished)
    assert len(stream.pending) == 2


# Checkpointing.


def test_checkpoint_file_uses_the_mesos_record_format(tmp_path) -> None:
    """This test ensures that every update and acknowledgement is appended to `task.updates`
    as a `StatusUpdateRecord` behind a 4-byte native-endian length, as stout writes it."""
    path = str(tmp_path / "tasks" / "task-1" / "task.updates")
    stream = new_stream(path)
    running, finished = make_update(mesos_pb2.TASK_RUNNING), make_update(mesos_pb2.TASK_FINISHED)

    stream.update(running)
    stream.update(finished)
    stream.acknowledgement(TASK, FRAMEWORK, running.uuid)
    stream.close()

    records = decode_file(path)
    assert [r.type for r in records] == [messages_pb2.StatusUpdateRecord.UPDATE,
                                         messages_pb2.StatusUpdateRecord.UPDATE,
                                         messages_pb2.StatusUpdateRecord.ACK]
    assert records[0].update == running
    assert records[1].update == finished
    assert records[2].uuid == running.uuid and not records[2].HasField("update")

    # Byte for byte: the length prefix is the native uint32 of the serialized record.
    expected = b"".join(
        struct.pack("=I", r.ByteSize()) + r.SerializeToString() for r in records)
    with open(path, "rb") as f:
        assert f.read() == expected
    assert encode_record(records[2]) == expected[-(4 + records[2].ByteSize()):]


def test_checkpointed_stream_is_recovered(tmp_path) -> None:
    """This test ensures that a stream rebuilt from its file has the same pending updates,
    acknowledgements and latest state, and keeps appending to the same file."""
    path = str(tmp_path / "task.updates")
    stream = new_stream(path)
    running, finished = make_update(mesos_pb2.TASK_RUNNING), make_update(mesos_pb2.TASK_FINISHED)
    stream.update(running)
    stream.update(finished)
    stream.acknowledgement(TASK, FRAMEWORK, running.uuid)
    stream.close()

    recovered, errors = TaskStatusUpdateStream.recover(TASK, FRAMEWORK, SLAVE, path, strict=True)
    assert errors == 0
    assert [u.uuid for u in recovered.pending] == [finished.uuid]
    assert recovered.acknowledged == {running.uuid}
    assert recovered.received == {running.uuid, finished.uuid}
    assert recovered.latest_state == mesos_pb2.TASK_FINISHED
    assert not recovered.terminated

    # The recovered stream goes on: a duplicate is still a duplicate, the ACK is appended.
    assert recovered.update(running) is False
    assert recovered.acknowledgement(TASK, FRAMEWORK, finished.uuid) is True
    assert recovered.terminated
    recovered.close()
    assert [r.type for r in decode_file(path)][-1] == messages_pb2.StatusUpdateRecord.ACK
    assert len(decode_file(path)) == 4


def test_replay_of_an_acknowledged_terminal_update_terminates() -> None:
    """This test ensures that replaying a terminal update and its acknowledgement leaves the
    stream terminated, so recovery drops it."""
    stream = new_stream()
    running, finished = make_update(mesos_pb2.TASK_RUNNING), make_update(mesos_pb2.TASK_FINISHED)
    stream.replay([running, finished], {running.uuid, finished.uuid})
    assert stream.terminated
    assert not stream.pending


def _write_two_updates(path: str) -> tuple[messages_pb2.StatusUpdate, int]:
    stream = new_stream(path)
    running, finished = make_update(mesos_pb2.TASK_RUNNING), make_update(mesos_pb2.TASK_FINISHED)
    stream.update(running)
    first_size = os.path.getsize(path)
    stream.update(finished)
    stream.close()
    return running, first_size


def test_truncated_last_record_is_recovered_up_to_it_when_not_strict(tmp_path) -> None:
    """This test ensures that a last record cut short by a crash is dropped when not strict:
    the records before it are recovered, the error is counted and the file is truncated to the
    valid records so later appends stay readable."""
    path = str(tmp_path / "task.updates")
    running, first_size = _write_two_updates(path)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 3)

    state = read_task_updates(path, strict=False)
    assert [u.uuid for u in state.updates] == [running.uuid]
    assert state.errors == 1
    assert os.path.getsize(path) == first_size

    stream, errors = TaskStatusUpdateStream.recover(TASK, FRAMEWORK, SLAVE, path, strict=False)
    assert errors == 0
    killed = make_update(mesos_pb2.TASK_KILLED)
    stream.update(killed)
    stream.close()
    assert [r.update.uuid for r in decode_file(path)] == [running.uuid, killed.uuid]


def test_truncated_length_prefix_is_recovered_when_not_strict(tmp_path) -> None:
    """This test ensures that a crash in the middle of a record's 4-byte length is also a
    truncated last record."""
    path = str(tmp_path / "task.updates")
    running, first_size = _write_two_updates(path)
    with open(path, "r+b") as f:
        f.truncate(first_size + 2)

    state = read_task_updates(path, strict=False)
    assert [u.uuid for u in state.updates] == [running.uuid]
    assert os.path.getsize(path) == first_size


def test_truncated_last_record_is_reported_when_strict(tmp_path) -> None:
    """This test ensures that strict recovery reports a truncated last record clearly (file,
    offset, what is missing) and leaves the file as it found it."""
    path = str(tmp_path / "task.updates")
    _, first_size = _write_two_updates(path)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 3)
    size = os.path.getsize(path)

    with pytest.raises(CheckpointError) as error:
        TaskStatusUpdateStream.recover(TASK, FRAMEWORK, SLAVE, path, strict=True)
    message = str(error.value)
    assert path in message
    assert f"offset {first_size} is truncated" in message
    assert "--strict=false" in message
    assert os.path.getsize(path) == size


def test_corrupt_record_is_an_error_when_strict(tmp_path) -> None:
    """This test ensures that a complete record that does not parse fails strict recovery and
    ends a non-strict one at the record before it."""
    path = str(tmp_path / "task.updates")
    running, first_size = _write_two_updates(path)
    with open(path, "r+b") as f:
        f.truncate(first_size)
        f.seek(first_size)
        garbage = b"\xff" * 12
        f.write(struct.pack("=I", len(garbage)) + garbage)

    with pytest.raises(CheckpointError, match="does not parse"):
        read_task_updates(path, strict=True)
    state = read_task_updates(path, strict=False)
    assert [u.uuid for u in state.updates] == [running.uuid]
    assert state.errors == 1


def test_missing_file_is_an_empty_stream(tmp_path) -> None:
    """This test ensures that a task whose file was never written recovers with no update."""
    state = read_task_updates(str(tmp_path / "absent"), strict=True)
    assert state.updates == [] and state.acks == set() and state.errors == 0


def test_failed_checkpoint_write_fails_every_later_call(tmp_path) -> None:
    """This test ensures that once a record cannot be written the stream refuses everything,
    since it can no longer promise what is on disk."""
    stream = new_stream(str(tmp_path / "task.updates"))
    running = make_update(mesos_pb2.TASK_RUNNING)
    stream.update(running)
    stream.close()  # The next write fails.

    with pytest.raises(StatusUpdateStreamError, match="Failed to write"):
        stream.update(make_update(mesos_pb2.TASK_FINISHED))
    with pytest.raises(StatusUpdateStreamError, match="Failed to write"):
        stream.acknowledgement(TASK, FRAMEWORK, running.uuid)
    assert [u.uuid for u in stream.pending] == [running.uuid]
