from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Entry(_message.Message):
    __slots__ = ("name", "uuid", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    uuid: bytes
    value: bytes
    def __init__(self, name: _Optional[str] = ..., uuid: _Optional[bytes] = ..., value: _Optional[bytes] = ...) -> None: ...
