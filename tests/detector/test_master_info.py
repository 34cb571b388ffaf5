"""MasterInfo in election znodes: the exact bytes Mesos writes, and every label it reads."""

from __future__ import annotations

import json

import pytest

from mesos.detector.master_info import (
    MASTER_INFO_JSON_LABEL,
    MASTER_INFO_LABEL,
    master_info_from_json,
    master_info_to_json,
    parse_master_info,
)
from mesos.detector.zookeeper import parse_member
from mesos.protos.mesos import mesos_pb2

# What a Mesos 1.12 master at 10.0.0.1:5050 writes into `/mesos/json.info_<seq>`, built by
# hand from the C++ model: `Master::initialize` fills `MasterInfo` (id, ip as
# `in_addr.s_addr` read as a little-endian uint32, port, pid, hostname, version, address,
# domain, the `MASTER_CAPABILITIES()`), and `stringify(JSON::protobuf(info))` prints a
# `JSON::Object` (a `std::map`: keys sorted at every level) without whitespace.
GOLDEN = (
    b'{"address":{"hostname":"master1.example.com","ip":"10.0.0.1","port":5050},'
    b'"capabilities":[{"type":"AGENT_UPDATE"},{"type":"AGENT_DRAINING"},{"type":"QUOTA_V2"}],'
    b'"domain":{"fault_domain":{"region":{"name":"us-east-1"},"zone":{"name":"us-east-1a"}}},'
    b'"hostname":"master1.example.com",'
    b'"id":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",'
    b'"ip":16777226,'
    b'"pid":"master@10.0.0.1:5050",'
    b'"port":5050,'
    b'"version":"1.12.0"}'
)


def golden_master_info() -> mesos_pb2.MasterInfo:
    info = mesos_pb2.MasterInfo()
    info.id = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    info.ip = 16777226  # 10.0.0.1
    info.port = 5050
    info.pid = "master@10.0.0.1:5050"
    info.hostname = "master1.example.com"
    info.version = "1.12.0"
    info.address.hostname = "master1.example.com"
    info.address.ip = "10.0.0.1"
    info.address.port = 5050
    info.domain.fault_domain.region.name = "us-east-1"
    info.domain.fault_domain.zone.name = "us-east-1a"
    for kind in ("AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"):
        info.capabilities.add().type = mesos_pb2.MasterInfo.Capability.Type.Value(kind)
    return info


def test_json_matches_what_mesos_writes() -> None:
    """This test ensures that the znode data is byte for byte what a Mesos master writes,
    so Mesos agents, drivers and pymesos read our masters, and that it reads back."""
    data = master_info_to_json(golden_master_info())
    assert data == GOLDEN
    assert master_info_from_json(GOLDEN) == golden_master_info()


def test_json_writes_the_default_port_and_omits_unset_fields() -> None:
    """This test ensures that, as stout's `JSON::protobuf`, an unset field with a default
    (`port`, 5050) is written and unset fields without one are not."""
    info = mesos_pb2.MasterInfo(id="m", ip=0)
    assert json.loads(master_info_to_json(info)) == {"id": "m", "ip": 0, "port": 5050}


def test_json_escapes_strings_as_stout_does() -> None:
    """This test ensures that strings are escaped as stout escapes them (`/` too, DEL and
    control characters as `\\u00XX`) and that non-ASCII text stays raw UTF-8."""
    info = mesos_pb2.MasterInfo(id='a/b"c\\d\te\x01\x7f', ip=1, port=5050, hostname="hôte")
    data = master_info_to_json(info)
    assert b'"id":"a\\/b\\"c\\\\d\\te\\u0001\\u007f"' in data
    assert '"hostname":"hôte"'.encode() in data
    assert master_info_from_json(data) == info


@pytest.mark.parametrize("data, reason", [
    (b"not json", "valid JSON"),
    (b"[1, 2]", "Expecting a JSON object"),
    (b'{"id": "m"}', "Missing required fields"),
    (b'{"id": "m", "ip": "ten", "port": 5050}', "ip"),
    (b"\xff\xfe", "valid JSON"),
])
def test_bad_json_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    """This test ensures that bad znode data raises `ValueError` saying what was wrong."""
    with pytest.raises(ValueError, match=reason):
        master_info_from_json(data)


def test_legacy_labels_are_read() -> None:
    """This test ensures that the formats of older masters are read as the C++ detector
    reads them: `info_` (binary protobuf) and no label (a bare UPID)."""
    info = golden_master_info()
    assert parse_master_info(MASTER_INFO_JSON_LABEL, GOLDEN) == info
    assert parse_master_info(MASTER_INFO_LABEL, info.SerializeToString()) == info
    legacy = parse_master_info(None, b"master@10.0.0.1:5050")
    assert legacy.pid == "master@10.0.0.1:5050"
    assert legacy.ip == 16777226
    with pytest.raises(ValueError, match="unknown label 'garbage'"):
        parse_master_info("garbage", GOLDEN)
    with pytest.raises(ValueError, match="MasterInfo"):
        parse_master_info(MASTER_INFO_LABEL, b"\x0a\x05ab")
    with pytest.raises(ValueError, match="UPID"):
        parse_master_info(None, b"")


@pytest.mark.parametrize("name, member", [
    ("json.info_0000000007", ("json.info", 7)),
    ("info_0000000003", ("info", 3)),
    ("0000000012", (None, 12)),
    ("log_replicas", None),
    ("json.info_", None),
    ("json.info_abc", None),
    ("garbage", None),
    ("json.info_99999999999", None),
])
def test_group_member_names(name: str, member: tuple[str | None, int] | None) -> None:
    """This test ensures that only children with a numeric suffix are group members (as
    `GroupProcess::cache` decides), so `log_replicas` and garbage are ignored."""
    assert parse_member(name) == member
