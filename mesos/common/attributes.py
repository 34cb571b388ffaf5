"""Agent attributes: `rack:3;dc:east;ports:[1-10];zone:{a,b}` to `mesos_pb2.Attribute`s and back.

Port of `Attributes::parse` (`src/common/attributes.cpp`). Pure functions: no threads, no
time, no I/O.

Attributes are `;`-separated (or newline-separated) `name:value` pairs. The name ends at the
first `:`, so values may contain colons (`url:http://host`). The value follows the resource
value syntax: a number is a SCALAR (`rack:3`), `[b-e,...]` is RANGES, `{a,b}` is a SET and
anything else is TEXT (`disks:sata`). Spaces inside values are dropped, as in Mesos.

Mesos itself refuses SET attributes (the agent aborts on `zone:{a,b}`); this port accepts them,
since `Attribute.set` exists on the wire and `/state` shows them as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mesos.common.resources import (
    RANGES,
    SCALAR,
    SET,
    TEXT,
    format_ranges,
    format_scalar,
    format_set,
    parse_value,
)
from mesos.protos.mesos import mesos_pb2

__all__ = [
    "find_attribute",
    "format_attribute",
    "format_attributes",
    "parse_attribute",
    "parse_attributes",
]

_EXPECTED = (
    "expected name:value pairs separated by ';', e.g. 'rack:3;dc:east;ports:[1-10];zone:{a,b}'"
)


def parse_attribute(name: str, text: str) -> Any:
    """Parses one attribute value (`Attributes::parse(name, text)`); raises `ValueError`."""
    if not name:
        raise ValueError(f"Invalid attribute '{name}:{text}': empty name; {_EXPECTED}")
    try:
        vtype, value = parse_value(text)
    except ValueError as e:
        raise ValueError(f"Bad value for attribute '{name}': '{text}' ({e})") from None

    attribute = mesos_pb2.Attribute(name=name, type=vtype)
    if vtype == SCALAR:
        attribute.scalar.value = value
    elif vtype == RANGES:
        if any(begin > end for begin, end in value):
            raise ValueError(
                f"Bad value for attribute '{name}': '{text}' (range begin > end)"
            )
        attribute.ranges.SetInParent()
        for begin, end in value:
            attribute.ranges.range.add(begin=begin, end=end)
    elif vtype == SET:
        attribute.set.SetInParent()
        attribute.set.item.extend(value)
    else:
        attribute.text.value = value
    return attribute


def parse_attributes(text: str) -> list[Any]:
    """Parses `disks:sata;raid:jbod;dc:1;rack:3` into `mesos_pb2.Attribute`s.

    Raises `ValueError` naming the bad pair (Mesos aborts the agent instead).
    """
    attributes = []
    for token in (t for t in re.split(r"[;\n]", text) if t):
        name, colon, value = token.partition(":")
        if not colon or not name or not value:
            raise ValueError(f"Invalid attribute key:value pair '{token}'; {_EXPECTED}")
        attributes.append(parse_attribute(name, value))
    return attributes


def _format_value(attribute: Any) -> str:
    if attribute.type == SCALAR:
        return format_scalar(attribute.scalar.value)
    if attribute.type == RANGES:
        return format_ranges((r.begin, r.end) for r in attribute.ranges.range)
    if attribute.type == SET:
        return format_set(attribute.set.item)
    if attribute.type == TEXT:
        return attribute.text.value
    raise ValueError(f"Attribute '{attribute.name}' has an unknown type {attribute.type}")


def format_attribute(attribute: Any) -> str:
    """`rack:3`, `ports:[1-10]`, `zone:{a, b}`: the text `parse_attributes` reads back."""
    return f"{attribute.name}:{_format_value(attribute)}"


def format_attributes(attributes: Iterable[Any]) -> str:
    """The `--attributes` text of a list of attributes (`rack:3;dc:east`)."""
    return ";".join(format_attribute(a) for a in attributes)


def find_attribute(attributes: Iterable[Any], name: str) -> Any | None:
    """The first attribute called `name`, or None."""
    for attribute in attributes:
        if attribute.name == name:
            return attribute
    return None
