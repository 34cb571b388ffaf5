"""Resources: parsing, validation and arithmetic, a port of Mesos's `Resources`.

Port of `src/common/resources.cpp`, `src/common/values.cpp` and the resource-format helpers of
`src/common/resources_utils.cpp`. Pure values: no threads, no time, no I/O.

A `Resources` is an immutable bag of `mesos_pb2.Resource`s in which every two resources that
Mesos would combine are combined: `cpus:1` plus `cpus:2` is `cpus:3`, ports `[1-5]` plus
`[6-9]` is `[1-9]`, `{a}` plus `{b}` is `{a, b}`. Resources combine when their name, type and
metadata (reservations, allocation, disk, revocability, provider, sharedness) agree, as
`addable` says in Mesos. Subtraction never goes negative: what would become negative or empty
is dropped, as in Mesos.

Internally each metadata combination is interned once as a `_Kind`, and values are plain
Python data (scalars as integer thousandths, Mesos's fixed-point `Value::Scalar` arithmetic;
ranges as sorted coalesced `(begin, end)` tuples; sets as tuples), so `+`, `-` and
`contains` are dictionary operations: the allocator runs them thousands of times per round.
Protobufs are built only when asked for (`iter`, `to_protobuf_list`), and both directions
(protobuf -> kind and value, kind and value -> protobuf) are memoized in bounded caches
because the same resources travel again and again.

The text form is Mesos 1.12's `operator<<`: `cpus(reservations: [(STATIC,prod)]):8; mem:15360;
ports:[31000-32000]` (older Mesos printed `cpus(prod):8`; the parser reads that form).

Resources are kept in the "post-reservation-refinement" format of Mesos 1.12: a reservation
is the `reservations` stack (`name(role)` on the command line is one STATIC reservation),
`Resource.role` and `Resource.reservation` are unset. Protobufs in the old format (`role`,
`reservation`) are upgraded on the way in; `to_protobuf_list(ResourceFormat.PRE_...)` or
`ENDPOINT` sets the deprecated fields for old frameworks and endpoints, exactly as
`convertResourceFormat` does.
"""

from __future__ import annotations

import enum
import functools
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from mesos.protos.mesos import mesos_pb2

__all__ = [
    "RANGES",
    "SCALAR",
    "SET",
    "TEXT",
    "ResourceFormat",
    "Resources",
    "ResourcesError",
    "coalesce_ranges",
    "convert_resource_format",
    "format_ranges",
    "format_scalar",
    "format_set",
    "is_strict_subrole_of",
    "parse_value",
    "scalar_from_fixed",
    "scalar_to_fixed",
    "validate",
    "validate_resources",
    "validate_role",
]

Resource = mesos_pb2.Resource
ReservationInfo = mesos_pb2.Resource.ReservationInfo

SCALAR = mesos_pb2.Value.SCALAR
RANGES = mesos_pb2.Value.RANGES
SET = mesos_pb2.Value.SET
TEXT = mesos_pb2.Value.TEXT

_STATIC = ReservationInfo.STATIC
_DYNAMIC = ReservationInfo.DYNAMIC

_SOURCE = Resource.DiskInfo.Source
_PATH, _MOUNT, _BLOCK, _RAW = _SOURCE.PATH, _SOURCE.MOUNT, _SOURCE.BLOCK, _SOURCE.RAW


class ResourcesError(ValueError):
    """A resources string or protobuf is malformed; the message names the bad token."""


# A range set is a sorted tuple of disjoint, non-adjacent, inclusive `(begin, end)` pairs.
Ranges = tuple[tuple[int, int], ...]
# A value: integer thousandths (SCALAR), `Ranges` (RANGES) or a tuple of items (SET). Typed
# `Any` because the kind's type, not the static type, says which.
_Value = Any


# ---------------------------------------------------------------------------------------
# Values (port of `values.cpp`).


def _to_fixed(value: float) -> int:
    # `std::llround(value * 1000)`: round half away from zero.
    x = value * 1000.0
    return int(x + 0.5) if x >= 0 else -int(-x + 0.5)


def _to_float(fixed: int) -> float:
    # Mesos divides the integer part and the remainder separately so that only values in
    # [0, 999] go through floating point division; C++ integer division truncates.
    if fixed >= 0:
        return float(fixed // 1000) + (fixed % 1000) / 1000.0
    return -(float(-fixed // 1000) + (-fixed % 1000) / 1000.0)


def scalar_to_fixed(value: float) -> int:
    """A scalar as integer thousandths, as Mesos's `convertToFixed` (`llround(v * 1000)`)."""
    return _to_fixed(value)


def scalar_from_fixed(fixed: int) -> float:
    """Integer thousandths back to a float exactly as Mesos's `convertToFloating` does
    (which is not always `fixed / 1000.0` to the last bit)."""
    return _to_float(fixed)


def format_scalar(value: float) -> str:
    """Formats a scalar as Mesos does: three decimals kept, then 15 significant digits."""
    if not math.isfinite(value):
        return str(value)
    return f"{_to_float(_to_fixed(value)):.15g}"


def _format_fixed(fixed: int) -> str:
    return f"{_to_float(fixed):.15g}"


def format_ranges(ranges: Iterable[tuple[int, int]]) -> str:
    """`[31000-32000, 33000-34000]`, as `operator<<(ostream&, const Value::Ranges&)`."""
    return "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"


def format_set(items: Iterable[str]) -> str:
    """`{a, b}`, as `operator<<(ostream&, const Value::Set&)`."""
    return "{" + ", ".join(items) + "}"


def coalesce_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorts and merges overlapping or adjacent ranges (`[1-3, 4-6]` is `[1-6]`)."""
    ordered = sorted(ranges)
    if not ordered:
        return ()
    out: list[tuple[int, int]] = []
    cb, ce = ordered[0]
    for b, e in ordered[1:]:
        if b <= ce + 1:
            if e > ce:
                ce = e
        else:
            out.append((cb, ce))
            cb, ce = b, e
    out.append((cb, ce))
    return tuple(out)


def _ranges_add(left: Ranges, right: Ranges) -> Ranges:
    if not right:
        return left
    if not left:
        return right
    return coalesce_ranges(left + right)


def _ranges_sub(left: Ranges, right: Ranges) -> Ranges:
    # Interval difference of two coalesced range sets.
    if not right or not left:
        return left
    out: list[tuple[int, int]] = []
    j = 0
    n = len(right)
    for b, e in left:
        cur = b
        while j < n and right[j][1] < cur:
            j += 1
        k = j
        while k < n and right[k][0] <= e:
            rb, re_ = right[k]
            if rb > cur:
                out.append((cur, rb - 1))
            if re_ + 1 > cur:
                cur = re_ + 1
            if cur > e:
                break
            k += 1
        if cur <= e:
            out.append((cur, e))
    return tuple(out)


def _ranges_contain(left: Ranges, right: Ranges) -> bool:
    # Every range on the right lies inside one range on the left (both coalesced).
    j = 0
    n = len(left)
    for b, e in right:
        while j < n and left[j][1] < b:
            j += 1
        if j == n or left[j][0] > b or left[j][1] < e:
            return False
    return True


def _ranges_size(ranges: Ranges) -> int:
    return sum(e - b + 1 for b, e in ranges)


def _set_add(left: tuple[str, ...], right: tuple[str, ...]) -> tuple[str, ...]:
    if not left:
        return right
    present = set(left)
    extra = tuple(x for x in right if x not in present)
    return left + extra if extra else left


def _set_sub(left: tuple[str, ...], right: tuple[str, ...]) -> tuple[str, ...]:
    gone = set(right)
    return tuple(x for x in left if x not in gone)


def _brackets_match(text: str, open_: str, close: str) -> bool:
    if open_ not in text and close not in text:
        return True
    depth = 0
    for c in text:
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_UINT_RE = re.compile(r"[0-9]+")
_UINT64_MAX = 2**64 - 1


_SPLITTERS: dict[str, re.Pattern[str]] = {}


def _tokenize(text: str, delims: str) -> list[str]:
    # `strings::tokenize`: split on any delimiter, dropping empty tokens.
    if len(delims) == 1:
        return [t for t in text.split(delims) if t]
    splitter = _SPLITTERS.get(delims)
    if splitter is None:
        splitter = _SPLITTERS[delims] = re.compile("[" + re.escape(delims) + "]")
    return [t for t in splitter.split(text) if t]


def parse_value(text: str) -> tuple[Any, Any]:
    """Parses a resource or attribute value: `8`, `[1-10,20-30]`, `{a,b}` or text.

    Port of `internal::values::parse`: spaces are dropped; returns `(SCALAR, float)`,
    `(RANGES, coalesced ranges)`, `(SET, tuple of items)` or `(TEXT, str)`. Raises
    `ValueError` with the reason.
    """
    temp = text.replace(" ", "")
    if not temp:
        raise ValueError("expecting a non-empty value")
    if not (
        _brackets_match(temp, "{", "}")
        and _brackets_match(temp, "[", "]")
        and _brackets_match(temp, "(", ")")
    ):
        raise ValueError("mismatched brackets")

    index = temp.find("[")
    if index == 0:
        tokens = _tokenize(temp, "[]-,\n")
        if len(tokens) % 2 != 0:
            raise ValueError("expecting one or more ranges like [1-10,20-30]")
        pairs = []
        for i in range(0, len(tokens), 2):
            for token in (tokens[i], tokens[i + 1]):
                if not _UINT_RE.fullmatch(token) or int(token) > _UINT64_MAX:
                    raise ValueError(f"expecting non-negative integers in '{token}'")
            pairs.append((int(tokens[i]), int(tokens[i + 1])))
        # Inverted ranges are kept for validation to refuse.
        if any(b > e for b, e in pairs):
            return RANGES, tuple(pairs)
        return RANGES, coalesce_ranges(pairs)
    if index != -1:
        raise ValueError("unexpected '['")

    index = temp.find("{")
    if index == 0:
        return SET, tuple(_tokenize(temp, "{},\n"))
    if index != -1:
        raise ValueError("unexpected '{'")

    if _NUMBER_RE.fullmatch(temp):
        return SCALAR, float(temp)
    return TEXT, temp


# ---------------------------------------------------------------------------------------
# Roles (port of `src/common/roles.cpp`).

_INVALID_ROLE_CHARS = frozenset("\x09\x0a\x0b\x0c\x0d\x20\x7f")


@functools.lru_cache(maxsize=4096)
def validate_role(role: str) -> str | None:
    """Returns why `role` is not a valid (possibly hierarchical) role name, or None."""
    if role == "*":
        return None
    if not role:
        return "Empty role name is invalid"
    if role.startswith("/"):
        return f"Role '{role}' cannot start with a slash"
    if role.endswith("/"):
        return f"Role '{role}' cannot end with a slash"
    for component in role.split("/"):
        if not component:
            return f"Role '{role}' cannot contain two adjacent slashes"
        if component in (".", ".."):
            return f"Role '{role}' cannot contain '{component}' as a path segment"
        if component == "*":
            return f"Role '{role}' cannot contain '*' as a path segment"
        if component.startswith("-"):
            return f"Role '{role}' cannot contain a path segment that starts with a dash"
        if any(c in _INVALID_ROLE_CHARS for c in component):
            return f"Role '{role}' cannot contain whitespace or backspace"
    return None


def is_strict_subrole_of(left: str, right: str) -> bool:
    """True if `left` is a descendant of `right` (`eng/web` of `eng`)."""
    return len(left) > len(right) and left[len(right)] == "/" and left.startswith(right)


# ---------------------------------------------------------------------------------------
# Resource formats (port of `convertResourceFormat`).


class ResourceFormat(enum.Enum):
    """The reservation formats of `Resource` (see 'Resource Format' in mesos.proto)."""

    # `role` and `reservation` describe one reservation; `reservations` unused. Sent to
    # frameworks without the RESERVATION_REFINEMENT capability and to old agents.
    PRE_RESERVATION_REFINEMENT = "pre-reservation-refinement"
    # Only the `reservations` stack: the format Mesos (and this port) computes with.
    POST_RESERVATION_REFINEMENT = "post-reservation-refinement"
    # Both, where possible: what HTTP endpoints show for backwards compatibility.
    ENDPOINT = "endpoint"


def convert_resource_format(resource: Any, fmt: ResourceFormat) -> None:
    """Converts one `Resource` in place, as Mesos's `convertResourceFormat`.

    Raises `ResourcesError` when a resource with refined reservations is asked for in the
    pre-reservation-refinement format (Mesos CHECK-fails there).
    """
    if fmt is ResourceFormat.POST_RESERVATION_REFINEMENT:
        if len(resource.reservations) > 0:
            # Already post, or endpoint format: drop the old fields.
            resource.ClearField("role")
            resource.ClearField("reservation")
            return
        if resource.role == "*":
            resource.ClearField("role")
            resource.ClearField("reservation")
            return
        reservation = resource.reservations.add()
        if resource.HasField("reservation"):
            reservation.CopyFrom(resource.reservation)
            resource.ClearField("reservation")
            reservation.type = _DYNAMIC
        else:
            reservation.type = _STATIC
        reservation.role = resource.role
        resource.ClearField("role")
        return

    count = len(resource.reservations)
    if count == 0:
        resource.role = "*"
        resource.ClearField("reservation")
    elif count == 1:
        source = resource.reservations[0]
        resource.ClearField("reservation")
        if source.type == _DYNAMIC:
            target = resource.reservation
            target.SetInParent()
            if source.HasField("principal"):
                target.principal = source.principal
            if source.HasField("labels"):
                target.labels.CopyFrom(source.labels)
        resource.role = source.role
        if fmt is ResourceFormat.PRE_RESERVATION_REFINEMENT:
            resource.ClearField("reservations")
    elif fmt is ResourceFormat.PRE_RESERVATION_REFINEMENT:
        raise ResourcesError(
            f"Cannot convert resource '{resource.name}' with refined reservations to the "
            "pre-reservation-refinement format"
        )


# ---------------------------------------------------------------------------------------
# Validation (port of `Resources::validate`).


def _labels_key(labels: Any) -> list[tuple[str, bool, str]]:
    return sorted((lb.key, lb.HasField("value"), lb.value) for lb in labels.labels)


def validate(resource: Any) -> str | None:
    """Returns why a `mesos_pb2.Resource` is invalid, or None (port of
    `Resources::validate`). Accepts both reservation formats."""
    if not resource.name:
        return "Empty resource name"

    rtype = resource.type
    has_scalar = resource.HasField("scalar")
    has_ranges = resource.HasField("ranges")
    has_set = resource.HasField("set")
    if rtype == SCALAR:
        if not has_scalar or has_ranges or has_set:
            return "Invalid scalar resource"
        value = resource.scalar.value
        if not math.isfinite(value):
            return "Invalid scalar resource: value is not finite"
        # Negative values, and non-zero values that would be represented as zero.
        if value != 0 and _to_fixed(value) <= 0:
            return "Invalid scalar resource: value <= 0"
    elif rtype == RANGES:
        if has_scalar or not has_ranges or has_set:
            return "Invalid ranges resource"
        pairs = [(r.begin, r.end) for r in resource.ranges.range]
        for b, e in pairs:
            if b > e:
                return "Invalid ranges resource: begin > end"
        pairs.sort()
        for (_, e1), (b2, _) in itertools.pairwise(pairs):
            if b2 <= e1:
                return "Invalid ranges resource: overlapping ranges"
    elif rtype == SET:
        if has_scalar or has_ranges or not has_set:
            return "Invalid set resource"
        items = list(resource.set.item)
        if len(set(items)) != len(items):
            return "Invalid set resource: duplicated elements"
    else:
        return "Unsupported resource type"

    if resource.HasField("disk"):
        if resource.name != "disk":
            return f"DiskInfo should not be set for {resource.name} resource"
        disk = resource.disk
        if disk.HasField("source"):
            source = disk.source
            name = _SOURCE.Type.Name(source.type)
            if source.type in (_BLOCK, _RAW):
                if source.HasField("mount"):
                    return f"Mount should not be set for {name} disk source"
                if source.HasField("path"):
                    return f"Path should not be set for {name} disk source"
            elif source.type not in (_PATH, _MOUNT):
                return "Unsupported 'DiskInfo.Source.Type' in disk source"

    reservations = resource.reservations
    if len(reservations) == 0:
        # The pre-reservation-refinement format.
        error = validate_role(resource.role)
        if error is not None:
            return error
        if resource.HasField("reservation"):
            if resource.reservation.HasField("type"):
                return (
                    "'Resource.ReservationInfo.type' must not be set for the "
                    "'Resource.reservation' field"
                )
            if resource.reservation.HasField("role"):
                return (
                    "'Resource.ReservationInfo.role' must not be set for the "
                    "'Resource.reservation' field"
                )
            if resource.role == "*":
                return 'Invalid reservation: role "*" cannot be dynamically reserved'
    else:
        for reservation in reservations:
            if not reservation.HasField("type"):
                return "Invalid reservation: 'Resource.ReservationInfo.type' field must be set"
            if not reservation.HasField("role"):
                return "Invalid reservation: 'Resource.ReservationInfo.role' field must be set"
            error = validate_role(reservation.role)
            if error is not None:
                return error
            if reservation.role == "*":
                return 'Invalid reservation: role "*" cannot be reserved'

        ancestor = reservations[0].role
        for reservation in list(reservations)[1:]:
            if reservation.type == _STATIC:
                return "Invalid refined reservation: A refined reservation cannot be STATIC"
            if not is_strict_subrole_of(reservation.role, ancestor):
                return (
                    f"Invalid refined reservation: role '{reservation.role}' is not a "
                    f"refinement of '{ancestor}'"
                )
            ancestor = reservation.role

        if len(reservations) == 1:
            reservation = reservations[0]
            if resource.HasField("role") and resource.role != reservation.role:
                return (
                    f"Invalid resource format: 'Resource.role' field with '{resource.role}' "
                    f"does not match the role '{reservation.role}' in 'Resource.reservations'"
                )
            if reservation.type == _STATIC:
                if resource.HasField("reservation"):
                    return (
                        "Invalid resource format: 'Resource.reservation' must not be set if "
                        "the single reservation in 'Resource.reservations' is STATIC"
                    )
            elif reservation.type == _DYNAMIC:
                if resource.HasField("role") != resource.HasField("reservation"):
                    return (
                        "Invalid resource format: 'Resource.role' and 'Resource.reservation' "
                        "must either be both set or both not set if the single reservation "
                        "in 'Resource.reservations' is DYNAMIC"
                    )
                if resource.HasField("reservation"):
                    old = resource.reservation
                    if old.principal != reservation.principal:
                        return (
                            "Invalid resource format: 'Resource.reservation.principal' field "
                            f"with '{old.principal}' does not match the principal "
                            f"'{reservation.principal}' in 'Resource.reservations'"
                        )
                    if _labels_key(old.labels) != _labels_key(reservation.labels):
                        return (
                            "Invalid resource format: 'Resource.reservation.labels' field "
                            "does not match the labels in 'Resource.reservations'"
                        )
            else:
                return "Unsupported 'Resource.ReservationInfo.Type'"
        else:
            if resource.HasField("role"):
                return (
                    "Invalid resource format: 'Resource.role' must not be set if there is "
                    "more than one reservation in 'Resource.reservations'"
                )
            if resource.HasField("reservation"):
                return (
                    "Invalid resource format: 'Resource.reservation' must not be set if there "
                    "is more than one reservation in 'Resource.reservations'"
                )

    if resource.HasField("shared"):
        if resource.name != "disk":
            return f"Resource {resource.name} cannot be shared"
        if not resource.HasField("disk") or not resource.disk.HasField("persistence"):
            return "Only persistent volumes can be shared"
    return None


def validate_resources(resources: Iterable[Any]) -> str | None:
    """Validates each resource; the error names the first invalid one."""
    for resource in resources:
        error = validate(resource)
        if error is not None:
            return f"Resource '{_format_proto(resource)}' is invalid: {error}"
    return None


# ---------------------------------------------------------------------------------------
# Kinds: the interned metadata of a resource (everything but its value).


def _format_labels(labels: Any) -> str:
    parts = []
    for label in labels.labels:
        parts.append(f"{label.key}: {label.value}" if label.HasField("value") else label.key)
    return "{" + ", ".join(parts) + "}"


def _format_reservation(reservation: Any) -> str:
    text = f"{ReservationInfo.Type.Name(reservation.type)},{reservation.role}"
    if reservation.HasField("principal"):
        text += f",{reservation.principal}"
    if reservation.HasField("labels"):
        text += f",{_format_labels(reservation.labels)}"
    return text


def _format_disk(disk: Any) -> str:
    text = ""
    if disk.HasField("source"):
        source = disk.source
        name = _SOURCE.Type.Name(source.type)
        if source.HasField("id") or source.HasField("profile"):
            text += f"{name}({source.vendor},{source.id},{source.profile})"
        elif source.type == _MOUNT and source.mount.HasField("root"):
            text += f"{name}:{source.mount.root}"
        elif source.type == _PATH and source.path.HasField("root"):
            text += f"{name}:{source.path.root}"
        else:
            text += name
    if disk.HasField("persistence"):
        if disk.HasField("source"):
            text += ","
        text += disk.persistence.id
    if disk.HasField("volume"):
        volume = disk.volume
        config = volume.container_path
        if volume.HasField("host_path"):
            config = f"{volume.host_path}:{config}"
            if volume.HasField("mode"):
                config += ":rw" if volume.mode == mesos_pb2.Volume.RW else ":ro"
        text += f":{config}"
    return text


def _format_prefix(name: str, meta: Any) -> str:
    # The part of `operator<<(ostream&, const Resource&)` before the value.
    text = name
    if meta is None:
        return text
    if meta.HasField("allocation_info"):
        text += f"(allocated: {meta.allocation_info.role})"
    if len(meta.reservations) > 0:
        text += (
            "(reservations: ["
            + ",".join(f"({_format_reservation(r)})" for r in meta.reservations)
            + "])"
        )
    if meta.HasField("disk"):
        text += f"[{_format_disk(meta.disk)}]"
    if meta.HasField("revocable"):
        text += "{REV}"
    if meta.HasField("shared"):
        text += "<SHARED>"
    return text


_META_FIELDS = ("allocation_info", "disk", "revocable", "provider_id", "shared")


def _normalized_meta(resource: Any) -> Any:
    # The metadata Mesos compares (`compareResourceMetadata`), in a canonical form: labels
    # sorted, the disk's `volume` and the persistence's principal dropped.
    meta = Resource()
    for reservation in resource.reservations:
        r = meta.reservations.add()
        r.type = reservation.type
        r.role = reservation.role
        if reservation.HasField("principal"):
            r.principal = reservation.principal
        if reservation.HasField("labels"):
            r.labels.SetInParent()
            for key, has_value, value in _labels_key(reservation.labels):
                label = r.labels.labels.add(key=key)
                if has_value:
                    label.value = value
    if resource.HasField("allocation_info"):
        meta.allocation_info.SetInParent()
        if resource.allocation_info.HasField("role"):
            meta.allocation_info.role = resource.allocation_info.role
    if resource.HasField("disk"):
        disk = resource.disk
        meta.disk.SetInParent()
        if disk.HasField("source"):
            meta.disk.source.CopyFrom(disk.source)
            if disk.source.HasField("metadata"):
                meta.disk.source.metadata.ClearField("labels")
                for key, has_value, value in _labels_key(disk.source.metadata):
                    label = meta.disk.source.metadata.labels.add(key=key)
                    if has_value:
                        label.value = value
        if disk.HasField("persistence"):
            meta.disk.persistence.id = disk.persistence.id
    if resource.HasField("revocable"):
        meta.revocable.SetInParent()
    if resource.HasField("provider_id"):
        meta.provider_id.CopyFrom(resource.provider_id)
    if resource.HasField("shared"):
        meta.shared.SetInParent()
    return meta


class _Kind:
    """The interned metadata of resources that combine with each other.

    Two resources combine (and can be subtracted from one another) exactly when they have
    the same kind; kinds compare by identity. `meta` is a metadata-only `Resource` (None for
    a plain unreserved resource) used to rebuild protobufs.
    """

    __slots__ = (
        "_allocated",
        "_popped",
        "_unallocated",
        "_unreserved",
        "alloc_role",
        "exclusive",
        "key",
        "meta",
        "name",
        "persistent",
        "prefix",
        "reservations",
        "revocable",
        "role",
        "shared",
        "type",
    )

    def __init__(self, name: str, rtype: int, meta: Any, key: tuple[str, int, bytes]) -> None:
        self.name = name
        self.type: Any = rtype
        self.meta = meta
        self.key = key
        self.prefix = _format_prefix(name, meta)
        if meta is None:
            self.reservations: tuple[tuple[int, str], ...] = ()
            self.role: str | None = None
            self.alloc_role: str | None = None
            self.revocable = self.shared = self.persistent = self.exclusive = False
        else:
            self.reservations = tuple((r.type, r.role) for r in meta.reservations)
            self.role = self.reservations[-1][1] if self.reservations else None
            self.alloc_role = (
                meta.allocation_info.role if meta.HasField("allocation_info") else None
            )
            self.revocable = meta.HasField("revocable")
            self.shared = meta.HasField("shared")
            disk = meta.disk
            self.persistent = meta.HasField("disk") and disk.HasField("persistence")
            source = disk.source
            has_source = meta.HasField("disk") and disk.HasField("source")
            # Resources that Mesos never adds together (`addable` is false): exclusive
            # MOUNT and BLOCK disks, RAW disks with an identity, persistent volumes.
            self.exclusive = not self.shared and (
                self.persistent
                or (has_source and source.type in (_MOUNT, _BLOCK))
                or (has_source and source.type == _RAW and source.HasField("id"))
            )
        # Caches of derived kinds (kinds are immutable, so these never go stale).
        self._unreserved: _Kind | None = None
        self._popped: _Kind | None = None
        self._unallocated: _Kind | None = None
        self._allocated: dict[str, _Kind] = {}

    @property
    def dynamic(self) -> bool:
        return bool(self.reservations) and self.reservations[-1][0] == _DYNAMIC

    def proto(self, value: _Value) -> Any:
        """A new `Resource` (post-reservation-refinement format) of this kind."""
        r = Resource()
        if self.meta is not None:
            r.CopyFrom(self.meta)
        r.name = self.name
        r.type = self.type
        if self.type == SCALAR:
            r.scalar.value = _to_float(value)
        elif self.type == RANGES:
            r.ranges.SetInParent()
            add = r.ranges.range.add
            for b, e in value:
                add(begin=b, end=e)
        else:
            r.set.SetInParent()
            r.set.item.extend(value)
        return r

    def derive(self, edit: Callable[[Any], None]) -> _Kind:
        meta = Resource()
        if self.meta is not None:
            meta.CopyFrom(self.meta)
        edit(meta)
        return _kind(self.name, self.type, meta)

    def unreserved(self) -> _Kind:
        if self._unreserved is None:
            self._unreserved = (
                self if not self.reservations else self.derive(_clear_reservations)
            )
        return self._unreserved

    def popped(self) -> _Kind:
        if self._popped is None:
            if not self.reservations:
                raise ResourcesError(f"Cannot pop a reservation of unreserved '{self.prefix}'")
            self._popped = self.derive(_pop_reservation)
        return self._popped

    def allocated(self, role: str) -> _Kind:
        kind = self._allocated.get(role)
        if kind is None:

            def edit(m: Any) -> None:
                m.allocation_info.role = role

            kind = self._allocated[role] = self.derive(edit)
        return kind

    def unallocated(self) -> _Kind:
        if self._unallocated is None:
            if self.meta is None or not self.meta.HasField("allocation_info"):
                self._unallocated = self
            else:
                self._unallocated = self.derive(_clear_allocation)
        return self._unallocated

    def __repr__(self) -> str:
        return f"_Kind({self.prefix!r})"


_KINDS: dict[tuple[str, int, bytes], _Kind] = {}


def _kind(name: str, rtype: int, meta: Any) -> _Kind:
    """Interns the kind of resources with this name, type and metadata (post format)."""
    # Kinds compare by identity, so two threads interning the same metadata must end up
    # with one object: `dict.setdefault` is atomic, the loser's object is dropped.
    if meta is None or not (
        len(meta.reservations) > 0 or any(meta.HasField(f) for f in _META_FIELDS)
    ):
        key = (name, rtype, b"")
        kind = _KINDS.get(key)
        if kind is None:
            kind = _KINDS.setdefault(key, _Kind(name, rtype, None, key))
        return kind
    normalized = _normalized_meta(meta)
    key = (name, rtype, normalized.SerializePartialToString(deterministic=True))
    kind = _KINDS.get(key)
    if kind is None:
        kind = _KINDS.setdefault(key, _Kind(name, rtype, _strip_value(meta), key))
    return kind


_STATIC_KINDS: dict[tuple[str, int, str], _Kind] = {}


def _static_kind(name: str, rtype: int, role: str) -> _Kind:
    # `name(role)` on the command line: unreserved for `*`, else one STATIC reservation.
    key = (name, rtype, role)
    kind = _STATIC_KINDS.get(key)
    if kind is None:
        if role == "*":
            kind = _kind(name, rtype, None)
        else:
            meta = Resource()
            meta.reservations.add(type=_STATIC, role=role)
            kind = _kind(name, rtype, meta)
        _STATIC_KINDS[key] = kind
    return kind


def _value_of(resource: Any) -> _Value:
    rtype = resource.type
    if rtype == SCALAR:
        return _to_fixed(resource.scalar.value)
    if rtype == RANGES:
        return coalesce_ranges((r.begin, r.end) for r in resource.ranges.range)
    return tuple(resource.set.item)


def _is_empty(rtype: int, value: _Value) -> bool:
    if rtype == SCALAR:
        return value <= 0
    return not value


def _format_value(rtype: int, value: _Value) -> str:
    if rtype == SCALAR:
        return _format_fixed(value)
    if rtype == RANGES:
        return format_ranges(value)
    return format_set(value)


def _format_proto(resource: Any) -> str:
    # `operator<<(ostream&, const Resource&)` for a protobuf of either format.
    r = Resource()
    r.CopyFrom(resource)
    if len(r.reservations) == 0 and (r.HasField("role") or r.HasField("reservation")):
        if validate(r) is None:
            convert_resource_format(r, ResourceFormat.POST_RESERVATION_REFINEMENT)
    text = _format_prefix(r.name, r) + ":"
    if r.type == SCALAR:
        text += format_scalar(r.scalar.value)
    elif r.type == RANGES:
        text += format_ranges((x.begin, x.end) for x in r.ranges.range)
    elif r.type == SET:
        text += format_set(r.set.item)
    return text


def _validate_parsed(name: str, rtype: int, value: Any, role: str) -> str | None:
    # `Resources::validate` for a resource built from `name(role):value`.
    if not name:
        return "Empty resource name"
    if rtype == SCALAR:
        if not math.isfinite(value):
            return "Invalid scalar resource: value is not finite"
        if value != 0 and _to_fixed(value) <= 0:
            return "Invalid scalar resource: value <= 0"
    elif rtype == RANGES:
        if any(b > e for b, e in value):
            return "Invalid ranges resource: begin > end"
    elif rtype == SET:
        if len(set(value)) != len(value):
            return "Invalid set resource: duplicated elements"
    if role != "*":
        error = validate_role(role)
        if error is not None:
            return error
    return None


def _strip_value(resource: Any) -> Any:
    # A copy of a resource's metadata (no name, type, value or old-format fields).
    meta = Resource()
    meta.CopyFrom(resource)
    for field in ("name", "type", "scalar", "ranges", "set", "role", "reservation"):
        meta.ClearField(field)
    return meta


# (kind, value) -> serialized `Resource`: parsing bytes is about three times faster than
# building the message field by field. Bounded by clearing.
_BUILT: dict[tuple[_Kind, _Value], bytes] = {}
_BUILT_SIZE = 1 << 16


def _build(kind: _Kind, value: _Value, meta: Any) -> Any:
    # A new `Resource` of `kind` with `value`, taking metadata from `meta` (an entry's own
    # metadata, for shared and exclusive resources) or from the kind.
    if meta is None or meta is kind.meta:
        data = _BUILT.get((kind, value))
        if data is not None:
            return Resource.FromString(data)
        proto = kind.proto(value)
        if len(_BUILT) >= _BUILT_SIZE:
            _BUILT.clear()
        _BUILT[(kind, value)] = proto.SerializePartialToString()
        return proto
    proto = kind.proto(value)
    value_fields = {"scalar": SCALAR, "ranges": RANGES, "set": SET}
    keep = [f for f in value_fields if value_fields[f] == kind.type]
    saved = Resource()
    for f in keep:
        getattr(saved, f).CopyFrom(getattr(proto, f))
    proto.CopyFrom(meta)
    proto.name = kind.name
    proto.type = kind.type
    for f in keep:
        getattr(proto, f).CopyFrom(getattr(saved, f))
    return proto


def _classify(resource: Any) -> tuple[_Kind, _Value, Any] | None:
    # The kind, value and own metadata of a protobuf, or None if it is invalid. Protobufs
    # in the old or endpoint format are upgraded first.
    if validate(resource) is not None:
        return None
    if resource.HasField("role") or resource.HasField("reservation"):
        upgraded = Resource()
        upgraded.CopyFrom(resource)
        if len(resource.reservations) == 0:
            convert_resource_format(upgraded, ResourceFormat.POST_RESERVATION_REFINEMENT)
        else:
            # Endpoint format: the `reservations` stack is authoritative.
            upgraded.ClearField("role")
            upgraded.ClearField("reservation")
        resource = upgraded
    kind = _kind(resource.name, resource.type, resource)
    meta = _strip_value(resource) if kind.shared or kind.exclusive else None
    return kind, _value_of(resource), meta


# Serialized protobuf -> what `_classify` says of it: building `Resources` from the same
# protobufs again and again (offers, tasks, agent totals) skips validation. Bounded by
# clearing; a race between threads at worst classifies a protobuf twice.
_PROTO_CACHE: dict[bytes, tuple[_Kind, _Value, Any] | None] = {}
_PROTO_CACHE_SIZE = 1 << 16
_MISSING: Any = object()


# ---------------------------------------------------------------------------------------
# Resources.

# A shared empty mapping for the (rare) exclusive/shared part; never mutated.
_NO_SPECIAL: dict[tuple[_Kind, _Value], tuple[int, Any]] = {}


class Resources:
    """An immutable, combined collection of resources (port of `mesos::Resources`).

    Build one from a string (`Resources.parse`), from protobufs (`Resources(protos)`: old
    format is upgraded, invalid and empty resources are dropped, as in Mesos) or from other
    `Resources`. Operators: `+`, `-` (never negative), `==`, `a.contains(b)` (also `a >= b`:
    "the offer contains the task"). Iteration yields fresh `mesos_pb2.Resource`s.

    Immutable, so any thread may use and share one (the interning of kinds is atomic).
    """

    __slots__ = ("__weakref__", "_s", "_x")

    # Ordinary resources: kind -> value (at most one entry per kind: combined).
    _s: dict[_Kind, _Value]
    # Shared resources and resources Mesos never combines (persistent volumes, MOUNT and
    # BLOCK disks): (kind, value) -> (count, metadata protobuf of the first one). The count
    # is the shared count, or how many identical exclusive resources there are.
    _x: dict[tuple[_Kind, _Value], tuple[int, Any]]

    def __init__(self, resources: Any = None) -> None:
        self._s = {}
        self._x = _NO_SPECIAL
        if resources is None:
            return
        if isinstance(resources, Resources):
            self._s = dict(resources._s)
            self._x = dict(resources._x) if resources._x else _NO_SPECIAL
            return
        if isinstance(resources, Resource):
            resources = (resources,)
        for resource in resources:
            if isinstance(resource, Resources):
                self._merge(resource)
            else:
                self._add_proto(resource)

    @classmethod
    def _make(
        cls, s: dict[_Kind, _Value], x: dict[tuple[_Kind, _Value], tuple[int, Any]]
    ) -> Resources:
        r = object.__new__(cls)
        r._s = s
        r._x = x if x else _NO_SPECIAL
        return r

    # -- building ------------------------------------------------------------------------

    def _add_proto(self, resource: Any) -> None:
        # `Resources::operator+=(const Resource&)`: invalid resources are ignored.
        key = resource.SerializePartialToString()
        entry = _PROTO_CACHE.get(key, _MISSING)
        if entry is _MISSING:
            entry = _PROTO_CACHE[key] = _classify(resource)
            if len(_PROTO_CACHE) > _PROTO_CACHE_SIZE:
                _PROTO_CACHE.clear()
        if entry is not None:
            self._add_value(entry[0], entry[1], 1, entry[2])

    def _add_value(self, kind: _Kind, value: _Value, count: int, meta: Any) -> None:
        if _is_empty(kind.type, value) or count <= 0:
            return
        if kind.shared or kind.exclusive:
            if self._x is _NO_SPECIAL:
                self._x = {}
            key = (kind, value)
            entry = self._x.get(key)
            if entry is None:
                stored = kind.meta
                if meta is not None and meta is not kind.meta:
                    stored = _strip_value(meta)
                self._x[key] = (count, stored)
            else:
                self._x[key] = (entry[0] + count, entry[1])
            return
        s = self._s
        current = s.get(kind)
        if current is None:
            s[kind] = value
        elif kind.type == SCALAR:
            s[kind] = current + value
        elif kind.type == RANGES:
            s[kind] = _ranges_add(current, value)
        else:
            s[kind] = _set_add(current, value)

    def _merge(self, other: Resources) -> None:
        for kind, value in other._s.items():
            self._add_value(kind, value, 1, None)
        for (kind, value), (count, meta) in other._x.items():
            self._add_value(kind, value, count, meta)

    @classmethod
    def parse(cls, text: str, default_role: str = "*") -> Resources:
        """Parses `cpus(prod):8;mem(*):15360;ports:[31000-32000]` or the JSON form.

        Port of `Resources::parse(text, defaultRole)`: a JSON array of `Resource` objects,
        or `;`-separated `name(role):value` tokens where the value is a scalar, ranges
        `[b-e,...]` or a set `{a,b}`. Every resource is validated, and the command line
        rules apply (no persistent volumes, revocable resources or dynamic reservations;
        one type per name). Raises `ResourcesError` naming the bad token.
        """
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                array = json.loads(stripped)
            except ValueError:
                array = None
            if isinstance(array, list):
                return cls.from_json(array, default_role)

        result = cls()
        types: dict[str, int] = {}
        for token in _tokenize(text, ";"):
            pair = _tokenize(token, ":")
            if len(pair) != 2:
                raise ResourcesError(
                    f"Bad value for resources, missing or extra ':' in '{token}' "
                    "(expected name(role):value, e.g. 'cpus(prod):8')"
                )
            head, raw = pair
            open_paren = head.find("(")
            if open_paren == -1:
                name = head.strip()
                role = default_role
            else:
                close_paren = head.find(")")
                if close_paren == -1 or close_paren < open_paren:
                    raise ResourcesError(
                        f"Bad value for resources, mismatched parentheses in '{token}'"
                    )
                name = head[:open_paren].strip()
                role = head[open_paren + 1:close_paren].strip()

            try:
                rtype, value = parse_value(raw)
            except ValueError as e:
                raise ResourcesError(
                    f"Bad value for resource '{name}': '{raw}' ({e})"
                ) from None
            if rtype == TEXT:
                raise ResourcesError(
                    f"Bad value for resource '{name}': '{raw}' (expected a number, ranges "
                    "like [31000-32000] or a set like {a,b})"
                )

            error = _validate_parsed(name, rtype, value, role)
            if error is not None:
                raise ResourcesError(f"Invalid resource '{token}': {error}")

            if types.setdefault(name, rtype) != rtype:
                raise ResourcesError(
                    f"Resources with the same name ('{name}') but different types are not "
                    f"allowed, in '{token}'"
                )

            if rtype == SCALAR:
                value = _to_fixed(value)
            result._add_value(_static_kind(name, rtype, role), value, 1, None)
        return result

    @classmethod
    def from_json(cls, array: list[Any], default_role: str = "*") -> Resources:
        """Builds resources from the JSON form (a list of `Resource` JSON objects).

        Port of `Resources::fromJSON` plus the checks of `Resources::parse`: a resource
        without `role` or `reservations` gets `default_role`. Raises `ResourcesError`.
        """
        from mesos.common.json_model import parse_mesos_json

        result = cls()
        types: dict[str, int] = {}
        for index, element in enumerate(array):
            try:
                resource = parse_mesos_json(element, Resource)
            except ValueError as e:
                raise ResourcesError(
                    f"Some JSON resources were not formatted properly: resource {index} "
                    f"({json.dumps(element)}): {e}"
                ) from None
            if not resource.HasField("role") and len(resource.reservations) == 0:
                resource.role = default_role
            error = validate(resource)
            if error is not None:
                raise ResourcesError(
                    f"Invalid resource {index} ({json.dumps(element)}): {error}"
                )
            convert_resource_format(resource, ResourceFormat.POST_RESERVATION_REFINEMENT)
            label = f"resource {index} ('{resource.name}')"
            if resource.HasField("disk") and resource.disk.HasField("persistence"):
                raise ResourcesError(
                    f"Persistent volumes cannot be specified at the command line: {label}"
                )
            if resource.HasField("revocable"):
                raise ResourcesError(
                    "Revocable resources cannot be specified at the command line; do not "
                    f"include a 'revocable' key in the resources JSON: {label}"
                )
            if len(resource.reservations) > 0 and resource.reservations[-1].type == _DYNAMIC:
                raise ResourcesError(
                    "Dynamic reservations cannot be specified at the command line; do not "
                    f"include a reservation with DYNAMIC type in the resources JSON: {label}"
                )
            if types.setdefault(resource.name, resource.type) != resource.type:
                raise ResourcesError(
                    f"Resources with the same name ('{resource.name}') but different types "
                    "are not allowed"
                )
            kind = _kind(resource.name, resource.type, resource)
            result._add_value(kind, _value_of(resource), 1, resource)
        return result

    validate = staticmethod(validate)

    # Immutable: copies are the object itself; pickling goes through protobufs because
    # kinds are interned per process.
    def __copy__(self) -> Resources:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Resources:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        entries = [
            (_build(kind, value, meta).SerializeToString(), count)
            for kind, value, count, meta in self._entries()
        ]
        return (_restore, (entries,))

    # -- arithmetic ----------------------------------------------------------------------

    def __add__(self, other: Any) -> Resources:
        if not isinstance(other, Resources):
            if isinstance(other, Resource):
                other = Resources(other)
            else:
                return NotImplemented
        if not other._s and not other._x:
            return self
        if not self._s and not self._x:
            return other
        s = dict(self._s)
        for kind, value in other._s.items():
            current = s.get(kind)
            if current is None:
                s[kind] = value
            elif kind.type == SCALAR:
                s[kind] = current + value
            elif kind.type == RANGES:
                s[kind] = _ranges_add(current, value)
            else:
                s[kind] = _set_add(current, value)
        if not other._x:
            return Resources._make(s, self._x)
        result = Resources._make(s, dict(self._x))
        for (kind, value), (count, meta) in other._x.items():
            result._add_value(kind, value, count, meta)
        return result

    def __radd__(self, other: Any) -> Resources:
        # Lets `sum(list_of_resources)` start from 0.
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def __sub__(self, other: Any) -> Resources:
        if not isinstance(other, Resources):
            if isinstance(other, Resource):
                if validate(other) is not None:
                    return self
                other = Resources(other)
            else:
                return NotImplemented
        if not self._s and not self._x:
            return self
        s = dict(self._s)
        for kind, value in other._s.items():
            current = s.get(kind)
            if current is None:
                continue
            t = kind.type
            if t == SCALAR:
                left = current - value
                if left <= 0:
                    del s[kind]
                else:
                    s[kind] = left
                continue
            rest: _Value = (
                _ranges_sub(current, value) if t == RANGES else _set_sub(current, value)
            )
            if rest:
                s[kind] = rest
            else:
                del s[kind]
        x = self._x
        if other._x and x:
            x = dict(x)
            for key, (count, _meta) in other._x.items():
                entry = x.get(key)
                if entry is None:
                    continue
                if entry[0] - count <= 0:
                    del x[key]
                else:
                    x[key] = (entry[0] - count, entry[1])
        return Resources._make(s, x)

    def contains(self, other: Any) -> bool:
        """True if every resource of `other` is in these resources (`Resources::contains`).

        `other` is a `Resources` or one `mesos_pb2.Resource` (validated first: an invalid
        resource is never contained).
        """
        if not isinstance(other, Resources):
            if validate(other) is not None:
                return False
            other = Resources(other)
        mine = self._s
        for kind, value in other._s.items():
            current = mine.get(kind)
            if current is None:
                return False
            t = kind.type
            if t == SCALAR:
                if value > current:
                    return False
            elif t == RANGES:
                if not _ranges_contain(current, value):
                    return False
            elif not set(value).issubset(current):
                return False
        if other._x:
            special = self._x
            for key, (count, _meta) in other._x.items():
                entry = special.get(key)
                if entry is None or entry[0] < count:
                    return False
        return True

    def __ge__(self, other: Any) -> bool:
        if not isinstance(other, Resources | Resource):
            return NotImplemented
        return self.contains(other)

    def __le__(self, other: Any) -> bool:
        if isinstance(other, Resource):
            other = Resources(other)
        if not isinstance(other, Resources):
            return NotImplemented
        return other.contains(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        if self._s.keys() != other._s.keys() or self._x.keys() != other._x.keys():
            return False
        for kind, value in self._s.items():
            theirs = other._s[kind]
            if kind.type == SET:
                if set(value) != set(theirs):
                    return False
            elif value != theirs:
                return False
        return all(count == other._x[key][0] for key, (count, _) in self._x.items())

    def __hash__(self) -> int:
        return hash((
            frozenset(
                (kind, frozenset(value) if kind.type == SET else value)
                for kind, value in self._s.items()
            ),
            frozenset((key, count) for key, (count, _) in self._x.items()),
        ))

    # -- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        # Mesos's `size()`: one per Resource object (identical exclusive ones count each).
        return len(self._s) + sum(
            1 if key[0].shared else count for key, (count, _) in self._x.items()
        )

    def __bool__(self) -> bool:
        return bool(self._s) or bool(self._x)

    def _entries(self) -> Iterator[tuple[_Kind, _Value, int, Any]]:
        # (kind, value, count, metadata) for every entry.
        for kind, value in self._s.items():
            yield kind, value, 1, kind.meta
        for (kind, value), (count, meta) in self._x.items():
            yield kind, value, count, meta

    def __iter__(self) -> Iterator[Any]:
        """Yields a fresh `mesos_pb2.Resource` per resource (post-refinement format).

        A shared resource is yielded once whatever its count, as in Mesos.
        """
        for kind, value, count, meta in self._entries():
            repeat = 1 if kind.shared else count
            for _ in range(repeat):
                yield _build(kind, value, meta)

    def to_protobuf_list(
        self, fmt: ResourceFormat = ResourceFormat.POST_RESERVATION_REFINEMENT
    ) -> list[Any]:
        """Fresh protobufs in the given format (see `ResourceFormat`)."""
        result = list(self)
        if fmt is not ResourceFormat.POST_RESERVATION_REFINEMENT:
            for resource in result:
                convert_resource_format(resource, fmt)
        return result

    def __str__(self) -> str:
        """Mesos's `operator<<`: `cpus(reservations: [(STATIC,prod)]):8; mem:15360`."""
        parts = []
        for kind, value, count, _meta in self._entries():
            text = f"{kind.prefix}:{_format_value(kind.type, value)}"
            if kind.shared:
                parts.append(f"{text}<{count}>")
            else:
                parts.extend([text] * count)
        return "; ".join(parts) if parts else "{}"

    def __repr__(self) -> str:
        return f"Resources({str(self)!r})"

    def _scalar(self, name: str) -> float | None:
        total = 0
        found = False
        for kind, value, count, _meta in self._entries():
            if kind.name == name and kind.type == SCALAR:
                total += value * (1 if kind.shared else count)
                found = True
        return _to_float(total) if found else None

    def get_scalar(self, name: str) -> float | None:
        """The total of the scalar resources called `name` (all roles), or None."""
        return self._scalar(name)

    def get_ranges(self, name: str) -> Ranges | None:
        """The union of the ranges resources called `name`, or None."""
        total: Ranges = ()
        found = False
        for kind, value, _count, _meta in self._entries():
            if kind.name == name and kind.type == RANGES:
                total = _ranges_add(total, value)
                found = True
        return total if found else None

    def get_set(self, name: str) -> tuple[str, ...] | None:
        """The union of the set resources called `name`, or None."""
        total: tuple[str, ...] = ()
        found = False
        for kind, value, _count, _meta in self._entries():
            if kind.name == name and kind.type == SET:
                total = _set_add(total, value)
                found = True
        return total if found else None

    def cpus(self) -> float | None:
        return self._scalar("cpus")

    def gpus(self) -> float | None:
        return self._scalar("gpus")

    def mem(self) -> float | None:
        """Megabytes of memory (a float; Mesos returns whole megabytes as `Bytes`)."""
        return self._scalar("mem")

    def disk(self) -> float | None:
        """Megabytes of disk (a float; Mesos returns whole megabytes as `Bytes`)."""
        return self._scalar("disk")

    def ports(self) -> Ranges | None:
        return self.get_ranges("ports")

    def ephemeral_ports(self) -> Ranges | None:
        return self.get_ranges("ephemeral_ports")

    def names(self) -> set[str]:
        return {kind.name for kind, _v, _c, _m in self._entries()}

    def types(self) -> dict[str, int]:
        """Resource name -> `Value.Type` (the last one seen, as Mesos's `types()`)."""
        return {kind.name: kind.type for kind, _v, _c, _m in self._entries()}

    def scalar_quantities(self) -> dict[str, float]:
        """Name -> total quantity, as `ResourceQuantities::fromResources` (used by the
        sorters): scalars summed in fixed point, ranges counted as numbers of elements
        (`ports:[31000-32000]` is 1001), sets as numbers of items."""
        fixed: dict[str, int] = {}
        counted: dict[str, int] = {}
        for kind, value, count, _meta in self._entries():
            times = 1 if kind.shared else count
            if kind.type == SCALAR:
                fixed[kind.name] = fixed.get(kind.name, 0) + value * times
            elif kind.type == RANGES:
                counted[kind.name] = counted.get(kind.name, 0) + _ranges_size(value) * times
            else:
                counted[kind.name] = counted.get(kind.name, 0) + len(value) * times
        result = {name: _to_float(v) for name, v in fixed.items()}
        for name, n in counted.items():
            result[name] = result.get(name, 0.0) + float(n)
        return result

    # -- filters -------------------------------------------------------------------------

    def _filter_kinds(self, keep: Callable[[_Kind], bool]) -> Resources:
        s = {k: v for k, v in self._s.items() if keep(k)}
        x = {key: entry for key, entry in self._x.items() if keep(key[0])}
        return Resources._make(s, x)

    def filter(self, predicate: Callable[[Any], bool]) -> Resources:
        """The resources for which `predicate(resource_protobuf)` is true."""
        s: dict[_Kind, _Value] = {}
        x: dict[tuple[_Kind, _Value], tuple[int, Any]] = {}
        for kind, value in self._s.items():
            if predicate(_build(kind, value, None)):
                s[kind] = value
        for key, entry in self._x.items():
            if predicate(_build(key[0], key[1], entry[1])):
                x[key] = entry
        return Resources._make(s, x)

    def get(self, name: str) -> Resources:
        """The resources called `name`."""
        return self._filter_kinds(lambda k: k.name == name)

    def scalars(self) -> Resources:
        return self._filter_kinds(lambda k: k.type == SCALAR)

    def reserved(self, role: str | None = None) -> Resources:
        """Reserved resources; with `role`, those whose current reservation is to it."""
        if role is None:
            return self._filter_kinds(lambda k: k.role is not None)
        return self._filter_kinds(lambda k: k.role == role)

    def unreserved(self) -> Resources:
        return self._filter_kinds(lambda k: k.role is None)

    def allocatable_to(self, role: str) -> Resources:
        """Unreserved resources and those reserved to `role` or one of its ancestors."""
        return self._filter_kinds(
            lambda k: k.role is None or k.role == role or is_strict_subrole_of(role, k.role)
        )

    def reserved_to_role_subtree(self, role: str) -> Resources:
        return self._filter_kinds(
            lambda k: k.role is not None
            and (k.role == role or is_strict_subrole_of(k.role, role))
        )

    def reservations(self) -> dict[str, Resources]:
        """Reserved resources by (current) reservation role."""
        roles = {k.role for k, _v, _c, _m in self._entries() if k.role is not None}
        return {role: self.reserved(role) for role in sorted(roles)}

    def revocable(self) -> Resources:
        return self._filter_kinds(lambda k: k.revocable)

    def non_revocable(self) -> Resources:
        return self._filter_kinds(lambda k: not k.revocable)

    def shared(self) -> Resources:
        return self._filter_kinds(lambda k: k.shared)

    def non_shared(self) -> Resources:
        return self._filter_kinds(lambda k: not k.shared)

    def persistent_volumes(self) -> Resources:
        return self._filter_kinds(lambda k: k.persistent)

    def dynamically_reserved(self) -> Resources:
        return self._filter_kinds(lambda k: k.dynamic)

    # -- transformations -----------------------------------------------------------------

    def _map_kinds(
        self, change: Callable[[_Kind], _Kind], edit: Callable[[Any], None]
    ) -> Resources:
        # Applies a metadata edit to every resource: `change` maps a kind to its edited
        # kind (cached on the kind), `edit` changes an entry's own metadata protobuf.
        result = Resources()
        for kind, value, count, meta in self._entries():
            new = change(kind)
            own = None
            if meta is not None and meta is not kind.meta:
                own = Resource()
                own.CopyFrom(meta)
                edit(own)
            result._add_value(new, value, count, own)
        return result

    def to_unreserved(self) -> Resources:
        """The same resources with every reservation removed (`toUnreserved`)."""
        return self._map_kinds(_Kind.unreserved, _clear_reservations)

    def pop_reservation(self) -> Resources:
        """Removes the last reservation of each resource (`popReservation`).

        Raises `ResourcesError` if a resource is unreserved.
        """
        return self._map_kinds(_Kind.popped, _pop_reservation)

    def push_reservation(self, reservation: Any) -> Resources:
        """Adds `reservation` (a `ReservationInfo`) on top of each resource's stack
        (`pushReservation`). Raises `ResourcesError` if a result would be invalid (a STATIC
        refinement, a role that does not refine the current one, ...)."""

        def edit(m: Any) -> None:
            m.reservations.add().CopyFrom(reservation)

        def change(kind: _Kind) -> _Kind:
            new = kind.derive(edit)
            error = validate(new.proto(_sample(kind.type)))
            if error is not None:
                raise ResourcesError(f"Cannot push reservation onto '{kind.prefix}': {error}")
            return new

        return self._map_kinds(change, edit)

    def flatten(self, role: str | None = None) -> Resources:
        """The same quantities, all unreserved (`role` None or `*`) or all statically
        reserved to `role`; allocation and other metadata are kept."""
        unreserved = self.to_unreserved()
        if role is None or role == "*":
            return unreserved
        error = validate_role(role)
        if error is not None:
            raise ResourcesError(f"Cannot flatten to role '{role}': {error}")

        def edit(m: Any) -> None:
            m.reservations.add(type=_STATIC, role=role)

        return unreserved._map_kinds(lambda k: k.derive(edit), edit)

    def allocate(self, role: str) -> Resources:
        """The same resources with `allocation_info.role` set to `role` (`allocate`)."""

        def edit(m: Any) -> None:
            m.allocation_info.role = role

        return self._map_kinds(lambda k: k.allocated(role), edit)

    def unallocate(self) -> Resources:
        """The same resources without allocation info (`unallocate`)."""
        return self._map_kinds(_Kind.unallocated, _clear_allocation)

    def allocations(self) -> dict[str, Resources]:
        """Resources by allocation role (every resource must be allocated)."""
        roles = set()
        for kind, _v, _c, _m in self._entries():
            if kind.alloc_role is None:
                raise ResourcesError(f"Resource '{kind.prefix}' is not allocated")
            roles.add(kind.alloc_role)
        return {role: self._allocated_to(role) for role in sorted(roles)}

    def _allocated_to(self, role: str) -> Resources:
        return self._filter_kinds(lambda k: k.alloc_role == role)

    def create_stripped_scalar_quantity(self) -> Resources:
        """Scalars only, with all metadata removed (`createStrippedScalarQuantity`)."""
        result = Resources()
        for kind, value, count, _meta in self._entries():
            if kind.type == SCALAR:
                plain = _kind(kind.name, SCALAR, None)
                result._add_value(plain, value * (1 if kind.shared else count), 1, None)
        return result


def _restore(entries: list[tuple[bytes, int]]) -> Resources:
    # Unpickles `Resources.__reduce__`: serialized resources with their counts.
    result = Resources()
    for data, count in entries:
        resource = Resource.FromString(data)
        kind = _kind(resource.name, resource.type, resource)
        result._add_value(kind, _value_of(resource), count, resource)
    return result


def _sample(rtype: int) -> _Value:
    # A valid non-empty value of a type, for validating metadata alone.
    if rtype == SCALAR:
        return 1000
    return ((1, 1),) if rtype == RANGES else ("x",)


def _clear_reservations(meta: Any) -> None:
    meta.ClearField("reservations")


def _pop_reservation(meta: Any) -> None:
    meta.reservations.pop()


def _clear_allocation(meta: Any) -> None:
    meta.ClearField("allocation_info")
