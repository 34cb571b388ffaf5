"""Protobuf <-> JSON in Mesos's style, and the JSON models of resources and attributes.

Port of stout's `JSON::protobuf` and `protobuf::parse` (`3rdparty/stout/include/stout/
protobuf.hpp`) and of the resource and attribute models of `src/common/http.cpp`. Pure
functions: no threads, no time, no I/O. Results are plain `dict`/`list` values ready for
`json.dumps`.

Mesos's JSON differs from protobuf's own `json_format`:

- field names are the proto names (`framework_id`, not `frameworkId`);
- set fields are written, *and* unset optional fields that declare a default (unless the
  field is deprecated): an unset `FrameworkInfo.checkpoint` is written as `false`;
- enums are written by name, bytes in base64, 64-bit integers as JSON numbers, repeated
  fields as lists (left out when empty), maps as objects;
- when parsing, unknown fields are ignored, `null` means unset, an unknown enum name drops
  the field (unless it is required), and the message must be initialized at the end.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

__all__ = [
    "model_attributes",
    "model_resources",
    "model_role_resources",
    "parse_mesos_json",
    "parse_mesos_json_list",
    "to_mesos_json",
]

_M = TypeVar("_M", bound=Message)

# Fields that Mesos 1.12 declares `deprecated=true` with a default. The default is not
# written for them; the generated protobufs of this port do not carry the `deprecated`
# option, so it is listed here too (the option is honoured wherever it is present).
_DEPRECATED_WITH_DEFAULT = frozenset({
    "mesos.Resource.role",
    "mesos.FrameworkInfo.role",
    "mesos.v1.Resource.role",
    "mesos.v1.FrameworkInfo.role",
})

_INT_TYPES = frozenset({
    FieldDescriptor.CPPTYPE_INT32,
    FieldDescriptor.CPPTYPE_INT64,
    FieldDescriptor.CPPTYPE_UINT32,
    FieldDescriptor.CPPTYPE_UINT64,
})
_FLOAT_TYPES = frozenset({FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE})

_INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}


def _is_map(field: Any) -> bool:
    return (
        field.type == FieldDescriptor.TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
    )


def _is_deprecated(field: Any) -> bool:
    return field.GetOptions().deprecated or field.full_name in _DEPRECATED_WITH_DEFAULT


# ---------------------------------------------------------------------------------------
# Protobuf -> JSON.


def _scalar_to_json(field: Any, value: Any) -> Any:
    cpp = field.cpp_type
    if cpp == FieldDescriptor.CPPTYPE_MESSAGE:
        return to_mesos_json(value)
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        enum_value = field.enum_type.values_by_number.get(value)
        return enum_value.name if enum_value is not None else value
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, bytes):
        # A `string` field that is not UTF-8 (upb hands those back as bytes): a peer sent
        # it; JSON shows it with replacement characters rather than failing the reader.
        return value.decode("utf-8", "replace")
    return value


def to_mesos_json(message: Message) -> dict[str, Any]:
    """A protobuf message as Mesos writes it (`JSON::protobuf`)."""
    result: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        name = field.name
        if field.is_repeated:
            values = getattr(message, name)
            if not values:
                continue
            if _is_map(field):
                value_field = field.message_type.fields_by_name["value"]
                result[name] = {
                    str(key).lower() if isinstance(key, bool) else str(key):
                        _scalar_to_json(value_field, values[key])
                    for key in values
                }
            else:
                result[name] = [_scalar_to_json(field, v) for v in values]
        elif message.HasField(name) or (field.has_default_value and not _is_deprecated(field)):
            result[name] = _scalar_to_json(field, getattr(message, name))
    return result


# ---------------------------------------------------------------------------------------
# JSON -> protobuf.


def _convert(field: Any, value: Any) -> Any:
    # A JSON scalar as the Python value of a non-message field; raises ValueError.
    name = field.name
    cpp = field.cpp_type
    if isinstance(value, bool):
        if cpp == FieldDescriptor.CPPTYPE_BOOL:
            return value
        raise ValueError(f"Not expecting a JSON boolean for field '{name}'")
    if isinstance(value, int | float):
        if cpp in _FLOAT_TYPES:
            return float(value)
        if cpp in _INT_TYPES:
            if isinstance(value, float):
                if not math.isfinite(value) or not value.is_integer():
                    raise ValueError(
                        f"Not expecting a non-integer JSON number for field '{name}': {value}"
                    )
                value = int(value)
            low, high = _INT_RANGES[cpp]
            if not low <= value <= high:
                raise ValueError(f"JSON number {value} is out of range for field '{name}'")
            return value
        raise ValueError(f"Not expecting a JSON number for field '{name}'")
    if isinstance(value, str):
        if field.type == FieldDescriptor.TYPE_STRING:
            return value
        if field.type == FieldDescriptor.TYPE_BYTES:
            try:
                return base64.b64decode(value.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError) as e:
                raise ValueError(f"Failed to base64 decode bytes field '{name}': {e}") from None
        if cpp == FieldDescriptor.CPPTYPE_ENUM:
            enum_value = field.enum_type.values_by_name.get(value)
            if enum_value is None:
                if field.is_required:
                    raise ValueError(f"Failed to find enum for '{value}' in field '{name}'")
                return None  # proto2 drops an unknown enum value.
            return enum_value.number
        # Numbers written as strings (protobuf's own JSON writes 64-bit integers so).
        if cpp in _INT_TYPES or cpp in _FLOAT_TYPES:
            try:
                number: Any = int(value) if cpp in _INT_TYPES else float(value)
            except ValueError:
                raise ValueError(
                    f"Failed to convert '{value}' to a number for field '{name}'"
                ) from None
            return _convert(field, number)
        raise ValueError(f"Not expecting a JSON string for field '{name}'")
    raise ValueError(f"Not expecting a JSON {type(value).__name__} for field '{name}'")


def _set_field(message: Message, field: Any, value: Any) -> None:
    name = field.name
    if value is None:
        return  # `null` means unset.

    if isinstance(value, list):
        if not field.is_repeated or _is_map(field):
            raise ValueError(f"Not expecting a JSON array for field '{name}'")
        for element in value:
            if isinstance(element, list):
                raise ValueError(f"Not expecting a nested JSON array for field '{name}'")
            _set_field(message, field, element)
        return

    if _is_map(field):
        if not isinstance(value, dict):
            raise ValueError(f"Expecting a JSON object for map field '{name}'")
        container = getattr(message, name)
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        for raw_key, raw_value in value.items():
            key: Any = raw_key
            if key_field.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
                if raw_key not in ("true", "false"):
                    raise ValueError(f"Invalid boolean map key '{raw_key}' for field '{name}'")
                key = raw_key == "true"
            elif key_field.cpp_type != FieldDescriptor.CPPTYPE_STRING:
                key = _convert(key_field, raw_key)
            if value_field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
                if not isinstance(raw_value, dict):
                    raise ValueError(f"Expecting JSON objects as values of map field '{name}'")
                _parse_into(container[key], raw_value)
            else:
                converted = _convert(value_field, raw_value)
                if converted is not None:
                    container[key] = converted
        return

    if isinstance(value, dict):
        if field.cpp_type != FieldDescriptor.CPPTYPE_MESSAGE:
            raise ValueError(f"Not expecting a JSON object for field '{name}'")
        if field.is_repeated:
            _parse_into(getattr(message, name).add(), value)
        else:
            sub = getattr(message, name)
            sub.SetInParent()
            _parse_into(sub, value)
        return

    if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        raise ValueError(f"Expecting a JSON object for field '{name}'")
    converted = _convert(field, value)
    if converted is None:
        return
    if field.is_repeated:
        getattr(message, name).append(converted)
    else:
        setattr(message, name, converted)


def _parse_into(message: Message, obj: Mapping[str, Any]) -> None:
    fields = message.DESCRIPTOR.fields_by_name
    for name, value in obj.items():
        field = fields.get(name)
        if field is not None:  # Unknown fields are ignored, as in Mesos.
            _set_field(message, field, value)


def parse_mesos_json(obj: Any, message_class: type[_M]) -> _M:
    """Parses a JSON object (a `dict`, or its text) into a new `message_class`.

    Port of `protobuf::parse<T>(JSON::Value)`. Raises `ValueError` naming the field.
    """
    if isinstance(obj, str | bytes):
        try:
            obj = json.loads(obj)
        except ValueError as e:
            raise ValueError(f"Failed to parse JSON: {e}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"Expecting a JSON object, got {json.dumps(obj)[:80]}")
    message = message_class()
    _parse_into(message, obj)
    if not message.IsInitialized():
        missing = ", ".join(message.FindInitializationErrors())
        raise ValueError(f"Missing required fields: {missing}")
    return message


def parse_mesos_json_list(array: Any, message_class: type[_M]) -> list[_M]:
    """Parses a JSON array of objects (`RepeatedPtrField<T>`) into messages."""
    if isinstance(array, str | bytes):
        try:
            array = json.loads(array)
        except ValueError as e:
            raise ValueError(f"Failed to parse JSON: {e}") from None
    if not isinstance(array, list):
        raise ValueError("Expecting a JSON array")
    return [parse_mesos_json(element, message_class) for element in array]


# ---------------------------------------------------------------------------------------
# Models used by the `/state` endpoints (`src/common/http.cpp`).


def model_resources(resources: Iterable[Any]) -> dict[str, Any]:
    """The `/state` model of resources: `{"cpus": 8.0, "gpus": 0.0, "mem": 15360.0,
    "disk": 0.0, "ports": "[31000-32000]"}`.

    Port of `json(JSON::ObjectWriter*, const Resources&)`: `cpus`, `gpus`, `mem` and `disk`
    are always present; scalars of every role are summed (in Mesos's fixed point), ranges
    and sets are written as their text; revocable resources get a `_revocable` suffix.
    Accepts a `Resources` or any iterable of `mesos_pb2.Resource`.
    """
    from mesos.common.resources import (
        RANGES,
        SCALAR,
        SET,
        coalesce_ranges,
        format_ranges,
        format_set,
        scalar_from_fixed,
        scalar_to_fixed,
    )

    scalars: dict[str, int] = {"cpus": 0, "gpus": 0, "mem": 0, "disk": 0}
    ranges: dict[str, list[tuple[int, int]]] = {}
    sets: dict[str, list[str]] = {}
    for resource in resources:
        name = resource.name + ("_revocable" if resource.HasField("revocable") else "")
        if resource.type == SCALAR:
            scalars[name] = scalars.get(name, 0) + scalar_to_fixed(resource.scalar.value)
        elif resource.type == RANGES:
            ranges.setdefault(name, []).extend((r.begin, r.end) for r in resource.ranges.range)
        elif resource.type == SET:
            items = sets.setdefault(name, [])
            items.extend(i for i in resource.set.item if i not in items)

    result: dict[str, Any] = {name: scalar_from_fixed(v) for name, v in scalars.items()}
    for name, pairs in ranges.items():
        result[name] = format_ranges(coalesce_ranges(pairs))
    for name, items in sets.items():
        result[name] = format_set(items)
    return result


def model_role_resources(role_resources: Mapping[str, Iterable[Any]]) -> dict[str, Any]:
    """`{role: model_resources(resources)}` (`model(const hashmap<string, Resources>&)`)."""
    return {role: model_resources(resources) for role, resources in role_resources.items()}


def model_attributes(attributes: Iterable[Any]) -> dict[str, Any]:
    """The `/state` model of agent attributes: scalars as numbers, the rest as text
    (`{"rack": 3.0, "zone": "a", "ports": "[1-10]"}`)."""
    from mesos.common.resources import RANGES, SCALAR, SET, format_ranges, format_set

    result: dict[str, Any] = {}
    for attribute in attributes:
        if attribute.type == SCALAR:
            result[attribute.name] = attribute.scalar.value
        elif attribute.type == RANGES:
            result[attribute.name] = format_ranges(
                (r.begin, r.end) for r in attribute.ranges.range
            )
        elif attribute.type == SET:
            result[attribute.name] = format_set(attribute.set.item)
        else:
            result[attribute.name] = attribute.text.value
    return result
