"""Questions every component asks of a `FrameworkInfo` (`protobuf::framework::*`)."""

from __future__ import annotations

from typing import Any

from mesos.protos.mesos import mesos_pb2

__all__ = ["framework_roles", "has_capability"]

_MULTI_ROLE = mesos_pb2.FrameworkInfo.Capability.MULTI_ROLE


def has_capability(info: Any, capability: int) -> bool:
    """Whether the framework declared `capability` (a `FrameworkInfo.Capability.Type`)."""
    return any(c.type == capability for c in info.capabilities)


def framework_roles(info: Any) -> frozenset[str]:
    """The roles a framework subscribes with (`protobuf::framework::getRoles`): `roles` for
    a MULTI_ROLE framework, else its single legacy `role` (`*` when unset)."""
    if has_capability(info, _MULTI_ROLE):
        return frozenset(info.roles)
    return frozenset({info.role or "*"})
