"""Tests of Mesos-style protobuf JSON and the `/state` models (`mesos.common.json_model`),
after stout's `protobuf_tests.cpp` and the models of `src/common/http.cpp`."""

from __future__ import annotations

import base64
import json

import pytest

from mesos.common.attributes import parse_attributes
from mesos.common.json_model import (
    model_attributes,
    model_resources,
    model_role_resources,
    parse_mesos_json,
    parse_mesos_json_list,
    to_mesos_json,
)
from mesos.common.resources import ResourceFormat, Resources
from mesos.protos.mesos import mesos_pb2


def framework_info() -> mesos_pb2.FrameworkInfo:
    info = mesos_pb2.FrameworkInfo(user="alice", name="spark", principal="p")
    info.id.value = "fw-1"
    info.roles.extend(["a", "b"])
    info.capabilities.add(type=mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE)
    info.labels.labels.add(key="k", value="v")
    return info


def test_protobuf_to_json_like_mesos() -> None:
    """This test ensures that messages become JSON with proto field names, enums by name,
    nested messages as objects, repeated fields as lists and unset fields left out."""
    assert to_mesos_json(framework_info()) == {
        "user": "alice",
        "name": "spark",
        "id": {"value": "fw-1"},
        "failover_timeout": 0.0,
        "checkpoint": False,
        "roles": ["a", "b"],
        "principal": "p",
        "capabilities": [{"type": "PARTITION_AWARE"}],
        "labels": {"labels": [{"key": "k", "value": "v"}]},
    }


def test_unset_fields_with_declared_defaults_are_written() -> None:
    """This test ensures that unset optional fields that declare a default are written with
    it (stout's `JSON::protobuf`), except deprecated ones such as `FrameworkInfo.role`, and
    that fields without a declared default are left out."""
    task = mesos_pb2.TaskStatus(state=mesos_pb2.TASK_RUNNING)
    task.task_id.value = "t"
    body = to_mesos_json(task)
    assert body["state"] == "TASK_RUNNING"
    assert "message" not in body and "uuid" not in body

    info = to_mesos_json(mesos_pb2.FrameworkInfo(user="u", name="n"))
    assert info["checkpoint"] is False and info["failover_timeout"] == 0.0
    assert "role" not in info
    assert to_mesos_json(mesos_pb2.FrameworkInfo(user="u", name="n", role="r"))["role"] == "r"

    resource = to_mesos_json(mesos_pb2.Resource(name="cpus", type=mesos_pb2.Value.SCALAR))
    assert "role" not in resource


def test_bytes_are_base64_and_int64_are_numbers() -> None:
    """This test ensures that bytes fields are base64 text and 64-bit integers stay JSON
    numbers, both ways."""
    status = mesos_pb2.TaskStatus(state=mesos_pb2.TASK_FINISHED, uuid=b"\x00\xffuuid")
    status.task_id.value = "t"
    body = to_mesos_json(status)
    assert body["uuid"] == base64.b64encode(b"\x00\xffuuid").decode()
    assert parse_mesos_json(body, mesos_pb2.TaskStatus).uuid == b"\x00\xffuuid"

    time = mesos_pb2.TimeInfo(nanoseconds=2**62)
    assert to_mesos_json(time) == {"nanoseconds": 2**62}
    assert json.loads(json.dumps(to_mesos_json(time))) == {"nanoseconds": 2**62}


def test_maps_are_objects() -> None:
    """This test ensures that protobuf map fields are JSON objects both ways."""
    info = mesos_pb2.FrameworkInfo(user="u", name="n")
    quantities = info.offer_filters["r"].min_allocatable_resources.quantities.add()
    quantities.quantities["cpus"].value = 1.5
    body = to_mesos_json(info)
    assert body["offer_filters"] == {
        "r": {"min_allocatable_resources": {"quantities": [{"quantities": {"cpus": {
            "value": 1.5}}}]}}
    }
    parsed = parse_mesos_json(body, mesos_pb2.FrameworkInfo)
    assert parsed.offer_filters["r"] == info.offer_filters["r"]


def test_json_round_trip() -> None:
    """This test ensures that parsing the JSON of a message gives the message back (with
    its defaults now set explicitly, as in Mesos)."""
    info = framework_info()
    parsed = parse_mesos_json(to_mesos_json(info), mesos_pb2.FrameworkInfo)
    info.failover_timeout = 0.0
    info.checkpoint = False
    assert parsed == info
    assert parse_mesos_json(json.dumps(to_mesos_json(info)), mesos_pb2.FrameworkInfo) == info


def test_parse_is_lenient_where_mesos_is() -> None:
    """This test ensures that parsing ignores unknown fields, treats `null` as unset, drops
    an unknown enum name of an optional field, and accepts numbers written as strings."""
    parsed = parse_mesos_json(
        {
            "user": "u",
            "name": "n",
            "bogus": {"x": 1},
            "hostname": None,
            "failover_timeout": "2.5",
            "capabilities": [{"type": "NOT_A_CAPABILITY"}],
        },
        mesos_pb2.FrameworkInfo,
    )
    assert not parsed.HasField("hostname")
    assert parsed.failover_timeout == 2.5
    assert not parsed.capabilities[0].HasField("type")
    assert parse_mesos_json({"nanoseconds": "12"}, mesos_pb2.TimeInfo).nanoseconds == 12


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "n"}, "Missing required fields: user"),
        ({"user": "u", "name": "n", "id": {}}, "Missing required fields: id.value"),
        ({"user": 1, "name": "n"}, "Not expecting a JSON number for field 'user'"),
        ({"user": "u", "name": "n", "checkpoint": "yes"},
         "Not expecting a JSON string for field 'checkpoint'"),
        ({"user": "u", "name": "n", "roles": "a"}, None),
        ({"user": "u", "name": "n", "id": "x"}, "Expecting a JSON object for field 'id'"),
        ({"user": "u", "name": "n", "user2": 1, "hostname": ["a"]},
         "Not expecting a JSON array for field 'hostname'"),
        ({"user": "u", "name": "n", "failover_timeout": True},
         "Not expecting a JSON boolean for field 'failover_timeout'"),
        ({"user": "u", "name": "n", "failover_timeout": "soon"},
         "Failed to convert 'soon' to a number for field 'failover_timeout'"),
        ([], "Expecting a JSON object"),
    ],
)
def test_parse_errors_name_the_field(body: object, message: str | None) -> None:
    """This test ensures that JSON of the wrong shape is refused with a message naming the
    field (a lone value for a repeated field is one element, as in stout)."""
    if message is None:
        assert list(parse_mesos_json(body, mesos_pb2.FrameworkInfo).roles) == ["a"]
        return
    with pytest.raises(ValueError) as error:
        parse_mesos_json(body, mesos_pb2.FrameworkInfo)
    assert str(error.value).startswith(message)


def test_parse_numbers_and_enums_strictly() -> None:
    """This test ensures that integers must be whole and in range, bytes must be base64,
    and an unknown enum name of a required field is an error."""
    with pytest.raises(ValueError, match="non-integer"):
        parse_mesos_json({"nanoseconds": 1.5}, mesos_pb2.TimeInfo)
    with pytest.raises(ValueError, match="out of range"):
        parse_mesos_json({"begin": -1, "end": 2}, mesos_pb2.Value.Range)
    with pytest.raises(ValueError, match="Failed to base64 decode bytes field 'uuid'"):
        parse_mesos_json({"task_id": {"value": "t"}, "state": "TASK_RUNNING", "uuid": "%%"},
                         mesos_pb2.TaskStatus)
    with pytest.raises(ValueError, match="Failed to find enum for 'BOGUS'"):
        parse_mesos_json({"type": "BOGUS"}, mesos_pb2.Value)
    assert parse_mesos_json({"nanoseconds": 3.0}, mesos_pb2.TimeInfo).nanoseconds == 3


def test_parse_list() -> None:
    """This test ensures that a JSON array parses into a list of messages."""
    resources = parse_mesos_json_list(
        '[{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]', mesos_pb2.Resource
    )
    assert Resources(resources) == Resources.parse("cpus:1")
    with pytest.raises(ValueError, match="Expecting a JSON array"):
        parse_mesos_json_list({}, mesos_pb2.Resource)


def test_resources_model() -> None:
    """This test ensures that the `/state` resources model always has cpus, gpus, mem and
    disk, sums scalars over roles, writes ranges and sets as text and suffixes revocable
    resources, as `json(JSON::ObjectWriter*, const Resources&)`."""
    resources = Resources.parse(
        "cpus(prod):8;cpus(stage):2;mem(*):15360;disk(*):710534;ports(*):[31000-32000];"
        "zones:{a,b}"
    )
    revocable = mesos_pb2.Resource(name="cpus", type=mesos_pb2.Value.SCALAR)
    revocable.scalar.value = 0.5
    revocable.revocable.SetInParent()
    model = model_resources(resources + Resources(revocable))
    assert model == {
        "cpus": 10.0,
        "gpus": 0.0,
        "mem": 15360.0,
        "disk": 710534.0,
        "ports": "[31000-32000]",
        "zones": "{a, b}",
        "cpus_revocable": 0.5,
    }
    assert model_resources(Resources()) == {"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}
    assert model_role_resources({"prod": resources.reserved("prod")})["prod"]["cpus"] == 8.0
    # Scalars come out exactly as Mesos's `convertToFloating` gives them, like `mem()`.
    odd = Resources.parse("mem:1.118")
    assert model_resources(odd)["mem"] == odd.mem() == 1 + 0.118 != 1118 / 1000.0
    # Protobuf lists work too, in any format.
    listed = resources.to_protobuf_list(ResourceFormat.ENDPOINT)
    assert model_resources(listed) == model_resources(resources)


def test_resources_in_endpoint_format_to_json() -> None:
    """This test ensures that a reserved resource in the endpoint format shows both the
    deprecated `role` and the `reservations` stack, as Mesos endpoints do."""
    cpus = Resources.parse("cpus(prod):8").to_protobuf_list(ResourceFormat.ENDPOINT)[0]
    assert to_mesos_json(cpus) == {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 8.0},
        "role": "prod",
        "reservations": [{"type": "STATIC", "role": "prod"}],
    }


def test_attributes_model() -> None:
    """This test ensures that the `/state` attributes model writes scalars as numbers and
    other values as text."""
    attributes = parse_attributes("rack:3;dc:east;ports:[1-10];zone:{a,b}")
    assert model_attributes(attributes) == {
        "rack": 3.0,
        "dc": "east",
        "ports": "[1-10]",
        "zone": "{a, b}",
    }
