"""Atomic checkpoint files, written and read the way the Mesos agent does.

Port of `slave::state::checkpoint` (src/slave/state.hpp) and of the single-message half of
stout's `protobuf::{read,write}`. A checkpoint is written to a temporary file in the same
directory (so the rename never crosses a filesystem), flushed with `fsync`, renamed over the
target, and the directory is `fsync`ed so that the rename itself survives a crash: a reader
sees either the old file or the new one, never a half-written one.

A protobuf file holds one record: the message's length as a 4-byte unsigned integer in the
machine's byte order, then the message (stout's `protobuf::write`), so a `slave.info` or a
`task.info` written by a Mesos agent reads here and vice versa. Text files (`boot_id`,
`framework.pid`, `forked.pid`, `libprocess.pid`) hold the text alone.

Pure functions over the filesystem, called on the agent's thread (and on the containerizer's
for `forked.pid`). Errors are `OSError` (writing) and `CheckpointError` (a file that does not
hold what it should).
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

__all__ = [
    "CheckpointError",
    "checkpoint",
    "encode_message",
    "read_message",
    "read_text",
]

M = TypeVar("M", bound=Message)

# stout's `protobuf::write` prefixes each message with a `uint32_t` copied as is.
_LENGTH = struct.Struct("=I")


class CheckpointError(Exception):
    """A checkpoint file that exists but cannot be read as what it should hold (empty,
    truncated, or not parsable). The message names the file."""


def encode_message(message: Message) -> bytes:
    """One length-prefixed record, as stout's `protobuf::write` lays it out."""
    body = message.SerializeToString()
    return _LENGTH.pack(len(body)) + body


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint(path: str, data: bytes | str | Message | Iterable[Message]) -> None:
    """Writes `data` to `path` atomically: temporary file, fsync, rename, fsync of the
    directory (port of `state::checkpoint`). A message (or several, one record each) is
    written length-prefixed; text as UTF-8; bytes as they are. Makes the directory if
    needed. Raises `OSError`, after removing the temporary file."""
    if isinstance(data, Message):
        payload = encode_message(data)
    elif isinstance(data, str):
        payload = data.encode()
    elif isinstance(data, bytes | bytearray):
        payload = bytes(data)
    else:
        payload = b"".join(encode_message(message) for message in data)

    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    # Hidden and unique in the target's directory, so a crash leaves at worst a stray
    # temporary file, never a partial target.
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".checkpoint-")
    try:
        try:
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def read_message(path: str, cls: type[M]) -> M:
    """The one message a checkpoint file holds (stout's `protobuf::read<T>(path)`).

    Raises `FileNotFoundError` if there is no file, `OSError` if it cannot be read, and
    `CheckpointError` naming the file if it is empty, truncated or does not parse (a file
    written atomically is never legitimately any of these).
    """
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise CheckpointError(f"'{path}' is empty")
    if len(data) < _LENGTH.size:
        raise CheckpointError(f"'{path}' is truncated: {len(data)} of the {_LENGTH.size} bytes "
                              "of the record's length")
    (size,) = _LENGTH.unpack_from(data)
    body = data[_LENGTH.size:_LENGTH.size + size]
    if len(body) < size:
        raise CheckpointError(f"'{path}' is truncated: {len(body)} of the record's {size} "
                              "bytes")
    message = cls()
    try:
        message.ParseFromString(body)
    except DecodeError as e:
        raise CheckpointError(f"'{path}' does not hold a {cls.DESCRIPTOR.full_name}: {e}") \
            from None
    if not message.IsInitialized():
        missing = ", ".join(message.FindInitializationErrors())
        raise CheckpointError(f"'{path}' holds a {cls.DESCRIPTOR.full_name} missing {missing}")
    return message


def read_text(path: str) -> str:
    """The text of a checkpoint file, stripped. Raises `FileNotFoundError`, `OSError`, or
    `CheckpointError` if it is empty or not UTF-8."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode().strip()
    except UnicodeDecodeError as e:
        raise CheckpointError(f"'{path}' is not text: {e}") from None
    if not text:
        raise CheckpointError(f"'{path}' is empty")
    return text
