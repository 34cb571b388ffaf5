"""The Registrar (port of `src/master/registrar.{hpp,cpp}` and
`src/master/registry_operations.{hpp,cpp}`): the master's durable list of admitted,
unreachable and gone agents, kept as the `mesos.internal.Registry` state variable `registry`.

- `operations`: the pure registry operations (`AdmitSlave`, `MarkSlaveReachable`, ...) and
  the `RegistryIndex` that makes them O(log n).
- `registrar`: the `registrar(N)` process and its `Registrar` facade (recover, batched apply,
  fetch and store timeouts, abort on storage failure).
"""

from mesos.registrar.operations import (
    AdmitSlave,
    MarkSlaveGone,
    MarkSlaveReachable,
    MarkSlaveUnreachable,
    Prune,
    RegistryIndex,
    RegistryOperation,
    RegistryOperationError,
    RemoveSlave,
    UpdateSlave,
    select_for_gc,
    time_info,
)
from mesos.registrar.registrar import (
    REGISTRY_VARIABLE,
    Recover,
    Registrar,
    RegistrarOptions,
    RegistrarProcess,
)

__all__ = [
    "REGISTRY_VARIABLE",
    "AdmitSlave",
    "MarkSlaveGone",
    "MarkSlaveReachable",
    "MarkSlaveUnreachable",
    "Prune",
    "Recover",
    "Registrar",
    "RegistrarOptions",
    "RegistrarProcess",
    "RegistryIndex",
    "RegistryOperation",
    "RegistryOperationError",
    "RemoveSlave",
    "UpdateSlave",
    "select_for_gc",
    "time_info",
]
