from mesos.protos.mesos import mesos_pb2 as _mesos_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Registry(_message.Message):
    __slots__ = ("resource_providers", "removed_resource_providers")
    RESOURCE_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_RESOURCE_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    resource_providers: _containers.RepeatedCompositeFieldContainer[ResourceProvider]
    removed_resource_providers: _containers.RepeatedCompositeFieldContainer[ResourceProvider]
    def __init__(self, resource_providers: _Optional[_Iterable[_Union[ResourceProvider, _Mapping]]] = ..., removed_resource_providers: _Optional[_Iterable[_Union[ResourceProvider, _Mapping]]] = ...) -> None: ...

class ResourceProvider(_message.Message):
    __slots__ = ("id", "type", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: _mesos_pb2.ResourceProviderID
    type: str
    name: str
    def __init__(self, id: _Optional[_Union[_mesos_pb2.ResourceProviderID, _Mapping]] = ..., type: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...
