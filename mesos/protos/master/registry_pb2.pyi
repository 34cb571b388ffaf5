from mesos.protos.mesos.maintenance import maintenance_pb2 as _maintenance_pb2
from mesos.protos.mesos import mesos_pb2 as _mesos_pb2
from mesos.protos.mesos.quota import quota_pb2 as _quota_pb2
from mesos.protos.resource_provider import registry_pb2 as _registry_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Registry(_message.Message):
    __slots__ = ("master", "slaves", "unreachable", "gone", "machines", "schedules", "quotas", "quota_configs", "weights", "resource_provider_registry", "minimum_capabilities")
    class GoneSlave(_message.Message):
        __slots__ = ("id", "timestamp")
        ID_FIELD_NUMBER: _ClassVar[int]
        TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
        id: _mesos_pb2.SlaveID
        timestamp: _mesos_pb2.TimeInfo
        def __init__(self, id: _Optional[_Union[_mesos_pb2.SlaveID, _Mapping]] = ..., timestamp: _Optional[_Union[_mesos_pb2.TimeInfo, _Mapping]] = ...) -> None: ...
    class GoneSlaves(_message.Message):
        __slots__ = ("slaves",)
        SLAVES_FIELD_NUMBER: _ClassVar[int]
        slaves: _containers.RepeatedCompositeFieldContainer[Registry.GoneSlave]
        def __init__(self, slaves: _Optional[_Iterable[_Union[Registry.GoneSlave, _Mapping]]] = ...) -> None: ...
    class Machine(_message.Message):
        __slots__ = ("info",)
        INFO_FIELD_NUMBER: _ClassVar[int]
        info: _mesos_pb2.MachineInfo
        def __init__(self, info: _Optional[_Union[_mesos_pb2.MachineInfo, _Mapping]] = ...) -> None: ...
    class Machines(_message.Message):
        __slots__ = ("machines",)
        MACHINES_FIELD_NUMBER: _ClassVar[int]
        machines: _containers.RepeatedCompositeFieldContainer[Registry.Machine]
        def __init__(self, machines: _Optional[_Iterable[_Union[Registry.Machine, _Mapping]]] = ...) -> None: ...
    class Master(_message.Message):
        __slots__ = ("info",)
        INFO_FIELD_NUMBER: _ClassVar[int]
        info: _mesos_pb2.MasterInfo
        def __init__(self, info: _Optional[_Union[_mesos_pb2.MasterInfo, _Mapping]] = ...) -> None: ...
    class MinimumCapability(_message.Message):
        __slots__ = ("capability",)
        CAPABILITY_FIELD_NUMBER: _ClassVar[int]
        capability: str
        def __init__(self, capability: _Optional[str] = ...) -> None: ...
    class Quota(_message.Message):
        __slots__ = ("info",)
        INFO_FIELD_NUMBER: _ClassVar[int]
        info: _quota_pb2.QuotaInfo
        def __init__(self, info: _Optional[_Union[_quota_pb2.QuotaInfo, _Mapping]] = ...) -> None: ...
    class Slave(_message.Message):
        __slots__ = ("info", "drain_info", "deactivated")
        INFO_FIELD_NUMBER: _ClassVar[int]
        DRAIN_INFO_FIELD_NUMBER: _ClassVar[int]
        DEACTIVATED_FIELD_NUMBER: _ClassVar[int]
        info: _mesos_pb2.SlaveInfo
        drain_info: _mesos_pb2.DrainInfo
        deactivated: bool
        def __init__(self, info: _Optional[_Union[_mesos_pb2.SlaveInfo, _Mapping]] = ..., drain_info: _Optional[_Union[_mesos_pb2.DrainInfo, _Mapping]] = ..., deactivated: _Optional[bool] = ...) -> None: ...
    class Slaves(_message.Message):
        __slots__ = ("slaves",)
        SLAVES_FIELD_NUMBER: _ClassVar[int]
        slaves: _containers.RepeatedCompositeFieldContainer[Registry.Slave]
        def __init__(self, slaves: _Optional[_Iterable[_Union[Registry.Slave, _Mapping]]] = ...) -> None: ...
    class UnreachableSlave(_message.Message):
        __slots__ = ("id", "timestamp", "drain_info", "deactivated")
        ID_FIELD_NUMBER: _ClassVar[int]
        TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
        DRAIN_INFO_FIELD_NUMBER: _ClassVar[int]
        DEACTIVATED_FIELD_NUMBER: _ClassVar[int]
        id: _mesos_pb2.SlaveID
        timestamp: _mesos_pb2.TimeInfo
        drain_info: _mesos_pb2.DrainInfo
        deactivated: bool
        def __init__(self, id: _Optional[_Union[_mesos_pb2.SlaveID, _Mapping]] = ..., timestamp: _Optional[_Union[_mesos_pb2.TimeInfo, _Mapping]] = ..., drain_info: _Optional[_Union[_mesos_pb2.DrainInfo, _Mapping]] = ..., deactivated: _Optional[bool] = ...) -> None: ...
    class UnreachableSlaves(_message.Message):
        __slots__ = ("slaves",)
        SLAVES_FIELD_NUMBER: _ClassVar[int]
        slaves: _containers.RepeatedCompositeFieldContainer[Registry.UnreachableSlave]
        def __init__(self, slaves: _Optional[_Iterable[_Union[Registry.UnreachableSlave, _Mapping]]] = ...) -> None: ...
    class Weight(_message.Message):
        __slots__ = ("info",)
        INFO_FIELD_NUMBER: _ClassVar[int]
        info: _mesos_pb2.WeightInfo
        def __init__(self, info: _Optional[_Union[_mesos_pb2.WeightInfo, _Mapping]] = ...) -> None: ...
    MASTER_FIELD_NUMBER: _ClassVar[int]
    SLAVES_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    GONE_FIELD_NUMBER: _ClassVar[int]
    MACHINES_FIELD_NUMBER: _ClassVar[int]
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    QUOTAS_FIELD_NUMBER: _ClassVar[int]
    QUOTA_CONFIGS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_PROVIDER_REGISTRY_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    master: Registry.Master
    slaves: Registry.Slaves
    unreachable: Registry.UnreachableSlaves
    gone: Registry.GoneSlaves
    machines: Registry.Machines
    schedules: _containers.RepeatedCompositeFieldContainer[_maintenance_pb2.Schedule]
    quotas: _containers.RepeatedCompositeFieldContainer[Registry.Quota]
    quota_configs: _containers.RepeatedCompositeFieldContainer[_quota_pb2.QuotaConfig]
    weights: _containers.RepeatedCompositeFieldContainer[Registry.Weight]
    resource_provider_registry: _registry_pb2.Registry
    minimum_capabilities: _containers.RepeatedCompositeFieldContainer[Registry.MinimumCapability]
    def __init__(self, master: _Optional[_Union[Registry.Master, _Mapping]] = ..., slaves: _Optional[_Union[Registry.Slaves, _Mapping]] = ..., unreachable: _Optional[_Union[Registry.UnreachableSlaves, _Mapping]] = ..., gone: _Optional[_Union[Registry.GoneSlaves, _Mapping]] = ..., machines: _Optional[_Union[Registry.Machines, _Mapping]] = ..., schedules: _Optional[_Iterable[_Union[_maintenance_pb2.Schedule, _Mapping]]] = ..., quotas: _Optional[_Iterable[_Union[Registry.Quota, _Mapping]]] = ..., quota_configs: _Optional[_Iterable[_Union[_quota_pb2.QuotaConfig, _Mapping]]] = ..., weights: _Optional[_Iterable[_Union[Registry.Weight, _Mapping]]] = ..., resource_provider_registry: _Optional[_Union[_registry_pb2.Registry, _Mapping]] = ..., minimum_capabilities: _Optional[_Iterable[_Union[Registry.MinimumCapability, _Mapping]]] = ...) -> None: ...
