"""The generated protobuf modules match the wire facts in `mesos-wire.json`, field by field.

The facts are the contract with real Mesos: a field number, type or label that differs would
make our messages unreadable to (or misread by) a real master, agent or framework. Each facts
file is one test case so a failure names the file, and every mismatch in it is listed.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor, descriptor_pool

REPO = Path(__file__).resolve().parents[2]
WIRE = REPO.parent / "shared" / "reference" / "mesos-wire.json"

FACTS: dict[str, Any] = json.loads(WIRE.read_text(encoding="utf-8"))["files"]

# `FieldDescriptor.type` -> the type names the facts use.
TYPE_NAMES = {
    descriptor.FieldDescriptor.TYPE_DOUBLE: "double",
    descriptor.FieldDescriptor.TYPE_FLOAT: "float",
    descriptor.FieldDescriptor.TYPE_INT64: "int64",
    descriptor.FieldDescriptor.TYPE_UINT64: "uint64",
    descriptor.FieldDescriptor.TYPE_INT32: "int32",
    descriptor.FieldDescriptor.TYPE_FIXED64: "fixed64",
    descriptor.FieldDescriptor.TYPE_FIXED32: "fixed32",
    descriptor.FieldDescriptor.TYPE_BOOL: "bool",
    descriptor.FieldDescriptor.TYPE_STRING: "string",
    descriptor.FieldDescriptor.TYPE_MESSAGE: "message",
    descriptor.FieldDescriptor.TYPE_BYTES: "bytes",
    descriptor.FieldDescriptor.TYPE_UINT32: "uint32",
    descriptor.FieldDescriptor.TYPE_ENUM: "enum",
    descriptor.FieldDescriptor.TYPE_SFIXED32: "sfixed32",
    descriptor.FieldDescriptor.TYPE_SFIXED64: "sfixed64",
    descriptor.FieldDescriptor.TYPE_SINT32: "sint32",
    descriptor.FieldDescriptor.TYPE_SINT64: "sint64",
}

# Every message and enum the facts declare, across all files.
DECLARED = {
    name for facts in FACTS.values() for kind in ("messages", "enums") for name in facts[kind]
}

INTEGER_TYPES = {"int32", "int64", "uint32", "uint64", "sint32", "sint64"}
INTEGER_TYPES |= {"fixed32", "fixed64", "sfixed32", "sfixed64"}


def module_name(path: str) -> str:
    """The module holding a facts file: ours under `mesos.protos`, or the well-known one."""
    if path.startswith("google/protobuf/"):
        return path.removesuffix(".proto").replace("/", ".") + "_pb2"
    return "mesos.protos." + path.removesuffix(".proto").replace("/", ".") + "_pb2"


def descriptor_file_name(path: str) -> str:
    if path.startswith("google/protobuf/"):
        return path
    return "mesos/protos/" + path


@pytest.fixture(scope="module")
def pool() -> descriptor_pool.DescriptorPool:
    # Importing every module first makes the lookups below independent of import order.
    for path in FACTS:
        importlib.import_module(module_name(path))
    return descriptor_pool.Default()


def label_of(f: descriptor.FieldDescriptor) -> str:
    # protobuf 7 has no `label` attribute on descriptors; these two properties replace it.
    if f.is_repeated:
        return "repeated"
    return "required" if f.is_required else "optional"


def typed_default(fact: dict[str, Any], f: descriptor.FieldDescriptor) -> Any:
    """The value a declared default in the facts should have in the descriptor."""
    text: str = fact["default"]
    type_ = fact["type"]
    if type_ == "bool":
        assert text in ("true", "false"), text
        return text == "true"
    if type_ in ("double", "float"):
        return float(text)
    if type_ in INTEGER_TYPES:
        return int(text, 0)
    if type_ == "string":
        return text
    if type_ == "bytes":
        return text.encode("utf-8")
    if type_ == "enum":
        return f.enum_type.values_by_name[text].number
    raise AssertionError(f"no default comparison for type {type_!r}")


def field_mismatches(
    message: str, facts: list[dict[str, Any]], d: descriptor.Descriptor
) -> list[str]:
    problems = []
    fact_names = [fact["name"] for fact in facts]
    if sorted(fact_names) != sorted(d.fields_by_name):
        problems.append(
            f"{message}: fields {sorted(d.fields_by_name)} != facts {sorted(fact_names)}"
        )
    for fact in facts:
        f = d.fields_by_name.get(fact["name"])
        if f is None:
            continue
        where = f"{message}.{fact['name']}"
        if f.number != fact["number"]:
            problems.append(f"{where}: number {f.number} != {fact['number']}")
        if TYPE_NAMES[f.type] != fact["type"]:
            problems.append(f"{where}: type {TYPE_NAMES[f.type]} != {fact['type']}")
        if label_of(f) != fact["label"]:
            problems.append(f"{where}: label {label_of(f)} != {fact['label']}")
        referenced = f.message_type or f.enum_type
        type_name = referenced.full_name if referenced is not None else None
        if type_name != fact.get("type_name"):
            problems.append(f"{where}: type_name {type_name} != {fact.get('type_name')}")
        if "default" in fact:
            expected = typed_default(fact, f)
            if not f.has_default_value or f.default_value != expected:
                problems.append(f"{where}: default {f.default_value!r} != {expected!r}")
        elif f.has_default_value:
            problems.append(f"{where}: declares default {f.default_value!r}; the facts do not")
        oneof = f.containing_oneof.name if f.containing_oneof is not None else None
        if oneof != fact.get("oneof"):
            problems.append(f"{where}: oneof {oneof} != {fact.get('oneof')}")
    return problems


def walk(
    container: descriptor.FileDescriptor | descriptor.Descriptor,
) -> tuple[list[descriptor.Descriptor], list[descriptor.EnumDescriptor]]:
    """All messages and enums declared in a file, nested ones included."""
    if isinstance(container, descriptor.FileDescriptor):
        messages = list(container.message_types_by_name.values())
        enums = list(container.enum_types_by_name.values())
    else:
        messages = list(container.nested_types)
        enums = list(container.enum_types)
    for m in list(messages):
        nested_messages, nested_enums = walk(m)
        messages += nested_messages
        enums += nested_enums
    return messages, enums


@pytest.mark.parametrize("path", sorted(FACTS))
def test_file_matches_facts(path: str, pool: descriptor_pool.DescriptorPool) -> None:
    """This test ensures that every message, field and enum of a facts file is generated as
    stated, and that nothing else is declared in the file (except protoc's map entries)."""
    facts = FACTS[path]
    file = pool.FindFileByName(descriptor_file_name(path))
    problems = []
    if file.package != facts["package"]:
        problems.append(f"package {file.package} != {facts['package']}")

    # 1. Every message in the facts exists with exactly the stated fields.
    for name, fields in facts["messages"].items():
        try:
            d = pool.FindMessageTypeByName(name)
        except KeyError:
            problems.append(f"{name}: missing")
            continue
        if d.file is not file:
            problems.append(f"{name}: declared in {d.file.name}, not {file.name}")
        problems += field_mismatches(name, fields, d)

    # 2. Every enum in the facts exists with exactly the stated values.
    for name, values in facts["enums"].items():
        try:
            e = pool.FindEnumTypeByName(name)
        except KeyError:
            problems.append(f"{name}: missing")
            continue
        if e.file is not file:
            problems.append(f"{name}: declared in {e.file.name}, not {file.name}")
        generated = {v.name: v.number for v in e.values}
        if generated != values:
            problems.append(f"{name}: values {generated} != facts {values}")

    # 3. Nothing is declared beyond the facts, except map entries, which the facts leave out.
    messages, enums = walk(file)
    for d in messages:
        if d.full_name not in facts["messages"] and not d.GetOptions().map_entry:
            problems.append(f"{d.full_name}: declared but not in the facts")
    for e in enums:
        if e.full_name not in facts["enums"]:
            problems.append(f"{e.full_name}: declared but not in the facts")

    assert not problems, "\n".join(problems)


def test_map_fields_use_string_keys(pool: descriptor_pool.DescriptorPool) -> None:
    """This test ensures that every field whose entry type the facts leave out is a real
    protobuf map (so Python gets a dict-like field), keyed by string like all Mesos maps."""
    maps = []
    for path, facts in FACTS.items():
        for name, fields in facts["messages"].items():
            for fact in fields:
                type_name = fact.get("type_name")
                if type_name is None or type_name in DECLARED:
                    continue
                entry = pool.FindMessageTypeByName(name).fields_by_name[fact["name"]].message_type
                assert entry.GetOptions().map_entry, f"{name}.{fact['name']} in {path}"
                assert entry.fields_by_name["key"].type == descriptor.FieldDescriptor.TYPE_STRING
                maps.append(f"{name}.{fact['name']}")
    assert len(maps) == 22, maps


def test_interface_mesos_pb2_is_the_generated_module() -> None:
    """This test ensures that old frameworks' `from mesos.interface import mesos_pb2` gets the
    `mesos` package module itself, not a copy."""
    import mesos.interface.mesos_pb2
    import mesos.protos.mesos.mesos_pb2
    from mesos.interface import mesos_pb2

    assert mesos_pb2.DESCRIPTOR.package == "mesos"
    assert mesos.interface.mesos_pb2 is mesos.protos.mesos.mesos_pb2
    assert mesos_pb2 is mesos.protos.mesos.mesos_pb2
