"""MasterInfo as it is stored in a master's ZooKeeper candidacy znode, both ways.

A Mesos master (since 0.24) writes its `MasterInfo` into its `<path>/json.info_<seq>` znode as
the text of `JSON::protobuf(masterInfo)` (`src/master/contender/zookeeper.cpp`), and every
Mesos client (the C++ detector, pymesos, the Go and Java libraries) reads it back from there.
The text is stout's rendering of a `JSON::Object` (`3rdparty/stout/include/stout/{protobuf,
jsonify}.hpp`), which this module reproduces byte for byte:

- fields are the set ones plus unset optional fields that declare a default (so `port` is
  always written), repeated fields only when non-empty, enums by name;
- the object's keys come out sorted (a `JSON::Object` is a `std::map`), at every level;
- no whitespace at all;
- in strings, `"`, `\\` and `/` are escaped with a backslash, as are `\\b \\f \\n \\r \\t`;
  other control characters and DEL are written `\\u00XX`; everything else (UTF-8) is raw.

Older masters used other labels, which the C++ detector still reads, and so do we
(`parse_master_info`): `info_<seq>` holds the binary protobuf, and an unlabelled `<seq>` holds
just the master's UPID. Pure functions: no threads, no time, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.message import DecodeError

from libprocess import UPID, UPIDError
from mesos.common.json_model import parse_mesos_json, to_mesos_json
from mesos.protos.mesos import mesos_pb2

__all__ = [
    "MASTER_INFO_JSON_LABEL",
    "MASTER_INFO_LABEL",
    "master_info_from_json",
    "master_info_to_json",
    "parse_master_info",
]

# The znode labels of `src/master/constants.hpp`: a candidacy znode is `<label>_<seq>`.
MASTER_INFO_LABEL = "info"
MASTER_INFO_JSON_LABEL = "json.info"


def master_info_to_json(info: Any) -> bytes:
    """The znode data Mesos writes for `info`: `stringify(JSON::protobuf(info))`, UTF-8."""
    text = json.dumps(to_mesos_json(info), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)
    # `json.dumps` already escapes quotes, backslashes and control characters the way stout
    # does; stout also escapes `/` and DEL. Both can only occur inside strings here (keys are
    # field names and the other values are numbers and booleans), so a plain replace is exact.
    text = text.replace("/", "\\/").replace("\x7f", "\\u007f")
    return text.encode("utf-8")


def master_info_from_json(data: bytes | str) -> Any:
    """Parses the data of a `json.info_` znode (port of `protobuf::parse<MasterInfo>`).

    Raises `ValueError` saying what was wrong: not JSON, not an object, or a `MasterInfo`
    that misses required fields or has a field of the wrong type.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"Failed to parse data into valid JSON: {e}") from None
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise ValueError(f"Failed to parse data into valid JSON: {e}") from None
    try:
        return parse_mesos_json(obj, mesos_pb2.MasterInfo)
    except ValueError as e:
        raise ValueError(
            f"Failed to parse JSON into a valid MasterInfo protocol buffer: {e}") from None


def parse_master_info(label: str | None, data: bytes) -> Any:
    """The `MasterInfo` in the data of a candidacy znode with `label` (port of
    `ZooKeeperMasterDetectorProcess::fetched`).

    `json.info` holds JSON, `info` the binary protobuf, and no label a bare UPID (from which a
    `MasterInfo` is made up as `createMasterInfo` does). Raises `ValueError` for data that
    does not parse and for an unknown label.
    """
    if label == MASTER_INFO_JSON_LABEL:
        return master_info_from_json(data)
    if label == MASTER_INFO_LABEL:
        info = mesos_pb2.MasterInfo()
        try:
            info.ParseFromString(data)
        except DecodeError as e:
            raise ValueError(f"Failed to parse data into MasterInfo: {e}") from None
        if not info.IsInitialized():
            missing = ", ".join(info.FindInitializationErrors())
            raise ValueError(f"Failed to parse data into MasterInfo: missing {missing}")
        return info
    if label is None:
        try:
            pid = UPID(data.decode("utf-8", "replace").strip())
        except UPIDError as e:
            raise ValueError(f"Failed to parse data into a master UPID: {e}") from None
        if not pid:
            raise ValueError("Failed to parse data into a master UPID: it is empty")
        # Late import: `mesos.sched.detector` imports this package for `zk://` URLs.
        from mesos.sched.detector import master_info_from_pid

        return master_info_from_pid(pid)
    raise ValueError(f"Failed to parse data of unknown label '{label}'")
