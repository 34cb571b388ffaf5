"""Messages built with the generated modules go over the wire with Mesos's field numbers.

The bytes are read back with a tiny hand-written decoder rather than with protobuf itself, so
the test does not trust the very descriptors it checks.
"""

from __future__ import annotations

from mesos.protos.mesos import mesos_pb2
from mesos.protos.mesos.scheduler import scheduler_pb2
from mesos.protos.messages import messages_pb2

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """The top-level `(field number, wire type, value)` triples of a serialized message."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        tag, pos = read_varint(data, pos)
        number, wire_type = tag >> 3, tag & 7
        value: int | bytes
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
        elif wire_type == LEN:
            length, pos = read_varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire_type == I64:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire_type == I32:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise AssertionError(f"unexpected wire type {wire_type}")
        out.append((number, wire_type, value))
    return out


def test_status_update_message_roundtrip() -> None:
    """This test ensures that a `mesos.internal.StatusUpdateMessage` carries its update as
    field 1 and the sender pid as field 2, and parses back to an equal message."""
    # 1. Build the message an agent sends to the master for a running task.
    message = messages_pb2.StatusUpdateMessage()
    update = message.update
    update.framework_id.value = "framework-1"
    update.slave_id.value = "agent-1"
    update.status.task_id.value = "task-1"
    update.status.state = mesos_pb2.TASK_RUNNING
    update.timestamp = 1700000000.5
    update.uuid = b"\x01" * 16
    message.pid = "slave(1)@10.0.0.1:5051"

    # 2. Serialize: the first byte is the tag of field 1, length-delimited (0x0a).
    data = message.SerializeToString()
    assert data[0] == 0x0A
    top = fields(data)
    assert [(number, wire_type) for number, wire_type, _ in top] == [(1, LEN), (2, LEN)]
    assert top[1][2] == b"slave(1)@10.0.0.1:5051"

    # 3. Inside `StatusUpdate`: framework_id(1), slave_id(3), status(4), timestamp(5), uuid(6).
    inner = fields(bytes(top[0][2]))
    assert [(number, wire_type) for number, wire_type, _ in inner] == [
        (1, LEN),
        (3, LEN),
        (4, LEN),
        (5, I64),
        (6, LEN),
    ]
    # `TaskStatus`: task_id(1), then state(2) as a varint holding TASK_RUNNING = 1.
    status = fields(bytes(inner[2][2]))
    assert status[1] == (2, VARINT, 1)

    # 4. Parse back.
    parsed = messages_pb2.StatusUpdateMessage.FromString(data)
    assert parsed == message
    assert parsed.update.status.state == mesos_pb2.TASK_RUNNING


def test_scheduler_subscribe_call_bytes() -> None:
    """This test ensures that a v0 `mesos.scheduler.Call` SUBSCRIBE has exactly the bytes
    Mesos would produce: type(2) = 1 as a varint, then subscribe(3) wrapping framework_info(1)
    with user(1) and name(2); unset fields with defaults are not sent."""
    call = scheduler_pb2.Call()
    call.type = scheduler_pb2.Call.SUBSCRIBE
    call.subscribe.framework_info.user = "u"
    call.subscribe.framework_info.name = "n"

    data = call.SerializeToString()
    framework_info = bytes([0x0A, 0x01]) + b"u" + bytes([0x12, 0x01]) + b"n"
    subscribe = bytes([0x0A, len(framework_info)]) + framework_info
    assert data == bytes([0x10, 0x01, 0x1A, len(subscribe)]) + subscribe

    parsed = scheduler_pb2.Call.FromString(data)
    assert parsed == call
    assert parsed.type == scheduler_pb2.Call.SUBSCRIBE
    # Declared defaults come back for unset fields without being on the wire.
    assert parsed.subscribe.framework_info.role == "*"
    assert parsed.subscribe.framework_info.failover_timeout == 0.0
    assert not parsed.subscribe.framework_info.HasField("role")
