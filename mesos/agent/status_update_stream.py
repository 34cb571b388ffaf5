"""The pure core of the agent's task status update manager: one `TaskStatusUpdateStream` per
task, and the `task.updates` checkpoint format.

Port of `TaskStatusUpdateStream` (src/slave/task_status_update_manager.{hpp,cpp}) and of the
`task.updates` part of `TaskState::recover` (src/slave/state.cpp). No threads, no clock and no
actors here: the stream is plain data with checked transitions, owned by whoever holds it (the
`TaskStatusUpdateManagerProcess`, on its thread). Forwarding, retries and timers are the
process's job.

The checkpoint file is the Mesos one, byte for byte: a sequence of `StatusUpdateRecord`s, each
preceded by its length as a 4-byte unsigned integer in the machine's native byte order (stout's
`protobuf::write`), so a `task.updates` written by a Mesos agent replays here and vice versa.
"""

from __future__ import annotations

import logging
import os
import struct
import uuid as uuid_module
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2

__all__ = [
    "TERMINAL_STATES",
    "CheckpointError",
    "StatusUpdateStreamError",
    "TaskStatusUpdateStream",
    "TaskUpdates",
    "describe",
    "encode_record",
    "format_uuid",
    "is_terminal_state",
    "read_task_updates",
]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)

StatusUpdate = messages_pb2.StatusUpdate
StatusUpdateRecord = messages_pb2.StatusUpdateRecord

# stout's `protobuf::write` copies a `uint32_t` into the file: native byte order, 4 bytes.
_LENGTH = struct.Struct("=I")

# `protobuf::isTerminalState`: TASK_LOST is terminal although the task may come back.
TERMINAL_STATES = frozenset({
    mesos_pb2.TASK_FINISHED,
    mesos_pb2.TASK_FAILED,
    mesos_pb2.TASK_KILLED,
    mesos_pb2.TASK_ERROR,
    mesos_pb2.TASK_LOST,
    mesos_pb2.TASK_DROPPED,
    mesos_pb2.TASK_GONE,
    mesos_pb2.TASK_GONE_BY_OPERATOR,
})


def is_terminal_state(state: int) -> bool:
    return state in TERMINAL_STATES


class StatusUpdateStreamError(Exception):
    """An update or acknowledgement a stream cannot take (missing uuid, wrong task, a stream
    closed by an acknowledged terminal update, or a failed checkpoint write)."""


class CheckpointError(Exception):
    """A `task.updates` file that strict recovery cannot read (truncated or corrupt)."""


def format_uuid(value: bytes) -> str:
    """A status update uuid as Mesos prints it (canonical form for 16 bytes, else hex)."""
    if len(value) == 16:
        return str(uuid_module.UUID(bytes=bytes(value)))
    return value.hex() or "<none>"


def describe(update: messages_pb2.StatusUpdate) -> str:
    """`TASK_RUNNING (Status UUID: ...) for task t of framework f`, as Mesos logs an update."""
    state = mesos_pb2.TaskState.Name(update.status.state)
    return (f"{state} (Status UUID: {format_uuid(update.uuid)}) for task "
            f"{update.status.task_id.value} of framework {update.framework_id.value}")


def encode_record(record: messages_pb2.StatusUpdateRecord) -> bytes:
    """One `task.updates` record: the 4-byte native-endian length, then the message."""
    if not record.IsInitialized():
        raise StatusUpdateStreamError(
            f"StatusUpdateRecord is missing {', '.join(record.FindInitializationErrors())}")
    body = record.SerializeToString()
    return _LENGTH.pack(len(body)) + body


@dataclass
class TaskUpdates:
    """What a `task.updates` file holds (the `updates` and `acks` of Mesos's
    `state::TaskState`): the updates in file order, the acknowledged uuids, and how many
    errors a non-strict read tolerated."""

    updates: list[messages_pb2.StatusUpdate] = field(default_factory=list)
    acks: set[bytes] = field(default_factory=set)
    errors: int = 0


def read_task_updates(path: str, strict: bool) -> TaskUpdates:
    """Reads the records of a `task.updates` file (port of the reading in `TaskState::recover`).

    A missing file is an empty stream (the agent died before checkpointing any update). A last
    record cut short by a crash (a partial length or body) or a record that does not parse
    raises `CheckpointError` when `strict`; otherwise the records before it are kept, the file
    is truncated to them (so later appends follow a valid record, as Mesos does) and the error
    is logged and counted in `errors`. Raises `OSError` only when the file cannot be read.
    """
    result = TaskUpdates()
    if not os.path.exists(path):
        log.warning("Failed to find status updates file '%s'", path)
        return result

    with open(path, "rb") as f:
        data = f.read()

    offset = 0
    problem: str | None = None
    while offset < len(data):
        if len(data) - offset < _LENGTH.size:
            problem = (f"the last record at offset {offset} is truncated: "
                       f"{len(data) - offset} of the {_LENGTH.size} bytes of its length")
            break
        (size,) = _LENGTH.unpack_from(data, offset)
        start = offset + _LENGTH.size
        if len(data) - start < size:
            problem = (f"the last record at offset {offset} is truncated: "
                       f"{len(data) - start} of its {size} bytes")
            break
        record = StatusUpdateRecord()
        try:
            record.ParseFromString(data[start:start + size])
        except DecodeError as e:
            problem = f"the record at offset {offset} ({size} bytes) does not parse: {e}"
            break
        if record.type == StatusUpdateRecord.UPDATE:
            if not record.HasField("update"):
                problem = f"the UPDATE record at offset {offset} has no update"
                break
            result.updates.append(record.update)
        else:
            result.acks.add(record.uuid)
        offset = start + size

    if problem is None:
        return result

    message = f"Failed to read status updates file '{path}': {problem}, possible corruption"
    if strict:
        raise CheckpointError(
            message + f" ({len(result.updates)} updates and {len(result.acks)} "
            "acknowledgements before it; --strict=false recovers up to it)")
    log.warning("%s; recovering the %d records before it and truncating the file to %d bytes",
                message, len(result.updates) + len(result.acks), offset)
    with open(path, "r+b") as f:
        f.truncate(offset)
        f.flush()
        os.fsync(f.fileno())
    result.errors += 1
    return result


class TaskStatusUpdateStream:
    """The status updates and acknowledgements of one task (port of `TaskStatusUpdateStream`).

    Owns the queue of `pending` updates (the head is the only one in flight), the uuids
    `received` and `acknowledged`, `terminated` (an acknowledged terminal update closes the
    stream), `latest_state` (the state of the newest update received) and, when
    `checkpoint_path` is given, the open `task.updates` file every update and acknowledgement is
    appended to (and fsynced) before it changes the stream. Plain data: whoever holds the stream
    (the status update manager's thread) is the only one touching it.

    A failed checkpoint write leaves the stream in `error`, and every later call raises it, as
    in Mesos: the stream can no longer promise what is on disk.
    """

    def __init__(self, task_id: mesos_pb2.TaskID, framework_id: mesos_pb2.FrameworkID,
                 slave_id: mesos_pb2.SlaveID | None, checkpoint_path: str | None = None) -> None:
        self.task_id = _copy(mesos_pb2.TaskID, task_id)
        self.framework_id = _copy(mesos_pb2.FrameworkID, framework_id)
        self.slave_id = _copy(mesos_pb2.SlaveID, slave_id) if slave_id is not None else None
        self.path = checkpoint_path
        self.terminated = False
        self.pending: deque[messages_pb2.StatusUpdate] = deque()
        self.received: set[bytes] = set()
        self.acknowledged: set[bytes] = set()
        self.latest_state: int | None = None
        self.error: str | None = None
        self._fd: int | None = None

        if checkpoint_path is not None:
            directory = os.path.dirname(checkpoint_path)
            try:
                os.makedirs(directory, exist_ok=True)
            except OSError as e:
                self.error = f"Failed to create '{directory}': {e}"
                return
            try:
                # Kept open for the task's lifetime so each record is one append.
                self._fd = os.open(checkpoint_path,
                                   os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC, 0o644)
            except OSError as e:
                self.error = f"Failed to open '{checkpoint_path}' for status updates: {e}"

    @property
    def checkpoint(self) -> bool:
        return self.path is not None

    def __repr__(self) -> str:
        return (f"<TaskStatusUpdateStream task {self.task_id.value} of framework "
                f"{self.framework_id.value}: {len(self.pending)} pending"
                f"{', terminated' if self.terminated else ''}>")

    # Transitions.

    def update(self, update: messages_pb2.StatusUpdate) -> bool:
        """Takes a new update (checkpointing it first when the stream checkpoints).

        True when the update was added to `pending`; False when it is a duplicate (its uuid was
        received or acknowledged already), which the caller still acknowledges to the executor.
        Raises `StatusUpdateStreamError` for an update without uuid or for another task, a new
        update after the terminal update was acknowledged, or a failed checkpoint write.
        """
        self._check_error()
        if not update.uuid:
            raise StatusUpdateStreamError(
                f"Task status update {describe(update)} is missing 'uuid'")
        self._check_task(update.status.task_id, update.framework_id, describe(update))

        if update.uuid in self.acknowledged:
            # The framework acknowledged it, but the executor never heard back from the agent
            # (the agent died before acknowledging it) and retried.
            log.warning("Ignoring task status update %s that has already been acknowledged by "
                        "the framework", describe(update))
            return False
        if update.uuid in self.received:
            log.warning("Ignoring duplicate task status update %s", describe(update))
            return False
        if self.terminated:
            raise StatusUpdateStreamError(
                f"Refusing task status update {describe(update)} because the stream of task "
                f"{self.task_id.value} is closed: its terminal update was acknowledged")

        self._handle(update, StatusUpdateRecord.UPDATE)
        return True

    def acknowledgement(self, task_id: mesos_pb2.TaskID, framework_id: mesos_pb2.FrameworkID,
                        uuid: bytes, update: messages_pb2.StatusUpdate | None = None) -> bool:
        """Takes the acknowledgement `uuid` of the head update (checkpointing it first).

        `update` is the head the caller looked up (`next()`); it defaults to the head. True when
        the head was acknowledged and popped; False when the acknowledgement is ignored: a
        duplicate (already acknowledged), a stale or unknown uuid that does not match the head
        (e.g. acknowledgements of both a retried update and its original), or no update pending.
        Raises `StatusUpdateStreamError` for another task, an `update` that is not the head, or
        a failed checkpoint write.
        """
        self._check_error()
        self._check_task(task_id, framework_id, f"acknowledgement {format_uuid(uuid)}")
        head = self.next()
        if update is None:
            update = head
        elif head is None or update.uuid != head.uuid:
            raise StatusUpdateStreamError(
                f"Cannot acknowledge {describe(update)}: it is not the head of the stream of "
                f"task {self.task_id.value}")

        if uuid in self.acknowledged:
            log.warning("Ignoring duplicate task status update acknowledgement (UUID: %s) for "
                        "task %s of framework %s", format_uuid(uuid), self.task_id.value,
                        self.framework_id.value)
            return False
        if update is None:
            log.warning("Ignoring unexpected task status update acknowledgement (UUID: %s) for "
                        "task %s of framework %s because no update is pending",
                        format_uuid(uuid), self.task_id.value, self.framework_id.value)
            return False
        if uuid != update.uuid:
            log.warning("Ignoring unexpected task status update acknowledgement (received %s, "
                        "expecting %s) for update %s", format_uuid(uuid),
                        format_uuid(update.uuid), describe(update))
            return False

        self._handle(update, StatusUpdateRecord.ACK)
        return True

    def next(self) -> messages_pb2.StatusUpdate | None:
        """The head of `pending` (the update in flight), or None when nothing is pending."""
        self._check_error()
        return self.pending[0] if self.pending else None

    def next_to_forward(self) -> messages_pb2.StatusUpdate | None:
        """A copy of the head to send to the master, its `latest_state` set to the state of the
        newest update received for the task (the head keeps its own, older state)."""
        head = self.next()
        if head is None:
            return None
        forward = _copy(StatusUpdate, head)
        if self.latest_state is not None:
            forward.latest_state = self.latest_state  # type: ignore[assignment]
        return forward

    def replay(self, updates: Iterable[messages_pb2.StatusUpdate], acks: Iterable[bytes]) -> None:
        """Rebuilds the stream from checkpointed records, writing nothing (port of
        `TaskStatusUpdateStream::replay`).

        Each update in order is received, then acknowledged if its uuid is in `acks`. A terminal
        acknowledged update terminates the stream; later updates are still replayed (they were
        accepted by a later stream for the same task) and the caller drops a terminated stream.
        """
        self._check_error()
        acked = set(acks)
        log.debug("Replaying task status update stream for task %s", self.task_id.value)
        for update in updates:
            if not update.uuid:
                raise StatusUpdateStreamError(
                    f"Checkpointed task status update {describe(update)} is missing 'uuid'")
            if update.uuid in self.received:
                # Written again by a stream created after a terminal acknowledgement closed an
                # earlier one; queueing it twice would forward it twice.
                log.warning("Skipping duplicate checkpointed task status update %s",
                            describe(update))
                continue
            self._apply(update, StatusUpdateRecord.UPDATE)
            if update.uuid in acked:
                self._apply(update, StatusUpdateRecord.ACK)

    @classmethod
    def recover(cls, task_id: mesos_pb2.TaskID, framework_id: mesos_pb2.FrameworkID,
                slave_id: mesos_pb2.SlaveID | None, path: str,
                strict: bool) -> tuple[TaskStatusUpdateStream, int]:
        """Reads `path` (see `read_task_updates`) and replays it into a new stream that keeps
        appending to the same file; returns the stream and the errors a non-strict read
        tolerated. Raises `CheckpointError` (strict) or `StatusUpdateStreamError`."""
        state = read_task_updates(path, strict)
        stream = cls(task_id, framework_id, slave_id, path)
        try:
            stream.replay(state.updates, state.acks)
        except StatusUpdateStreamError:
            stream.close()
            raise
        return stream, state.errors

    def close(self) -> None:
        """Closes the checkpoint file; the stream takes no more updates that need it."""
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError as e:
                log.error("Failed to close file '%s': %s", self.path, e)
            self._fd = None

    # Internals.

    def _check_error(self) -> None:
        if self.error is not None:
            raise StatusUpdateStreamError(self.error)

    def _check_task(self, task_id: mesos_pb2.TaskID, framework_id: mesos_pb2.FrameworkID,
                    what: str) -> None:
        if task_id.value != self.task_id.value or framework_id.value != self.framework_id.value:
            raise StatusUpdateStreamError(
                f"Task status {what} (task {task_id.value} of framework {framework_id.value}) "
                f"does not belong to the stream of task {self.task_id.value} of framework "
                f"{self.framework_id.value}")

    def _handle(self, update: messages_pb2.StatusUpdate, type: int) -> None:
        """Checkpoints the record (if the stream checkpoints), then applies it."""
        if self.path is not None:
            record = StatusUpdateRecord(type=type)  # type: ignore[arg-type]
            if type == StatusUpdateRecord.UPDATE:
                record.update.CopyFrom(update)
            else:
                record.uuid = update.uuid
            kind = StatusUpdateRecord.Type.Name(type)
            log.info("Checkpointing %s for task status update %s", kind, describe(update))
            try:
                self._append(encode_record(record))
            except OSError as e:
                self.error = (f"Failed to write task status update {describe(update)} to "
                              f"'{self.path}': {e}")
                raise StatusUpdateStreamError(self.error) from e
        self._apply(update, type)

    def _append(self, data: bytes) -> None:
        if self._fd is None:
            raise OSError("the file is closed")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def _apply(self, update: messages_pb2.StatusUpdate, type: int) -> None:
        if type == StatusUpdateRecord.UPDATE:
            self.received.add(update.uuid)
            self.pending.append(_copy(StatusUpdate, update))
            self.latest_state = update.status.state
        else:
            self.acknowledged.add(update.uuid)
            self.pending.popleft()
            if not self.terminated:
                self.terminated = is_terminal_state(update.status.state)


def _copy(cls: type[M], message: M) -> M:
    copy = cls()
    copy.CopyFrom(message)
    return copy
