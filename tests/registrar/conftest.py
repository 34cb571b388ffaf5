"""Test kit for the registrar: agent and master infos, and a storage that counts, holds or
drops the calls it passes on to a real storage."""

from __future__ import annotations

import threading
import types
from typing import Any

import pytest

from libprocess import Future, Promise
from mesos.common.attributes import parse_attributes
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2
from mesos.state.storage import Entry, Storage

TIMEOUT = 10.0

AGENT_RESOURCES = "cpus:1;mem:512;disk:2048"


def slave_info(n: int, hostname: str | None = None,
               resources: str = AGENT_RESOURCES, attributes: str = "") -> Any:
    """A `SlaveInfo` with id `S<n>` (host `host<n>`), the given resources and attributes."""
    info = mesos_pb2.SlaveInfo(hostname=hostname or f"host{n}", port=5051)
    info.id.value = f"S{n}"
    info.resources.extend(Resources.parse(resources))
    if attributes:
        info.attributes.extend(parse_attributes(attributes))
    return info


def master_info(name: str = "master-1", port: int = 5050) -> Any:
    """A complete `MasterInfo` (its required fields set)."""
    return mesos_pb2.MasterInfo(id=name, ip=0x0100007F, port=port, hostname="localhost",
                                pid=f"master@127.0.0.1:{port}", version="1.12.0")


def ids(entries: Any) -> list[str]:
    """The agent ids of one registry list, in order."""
    out = []
    for entry in entries:
        has_info = "info" in entry.DESCRIPTOR.fields_by_name
        out.append(entry.info.id.value if has_info else entry.id.value)
    return out


class ControlledStorage(Storage):
    """A `Storage` that passes every call on to `delegate` (a real storage) and counts the
    writes (`sets`). While `hold_sets` (or `hold_gets`) is true, the calls are held: their
    futures stay pending until `release_sets()` (`release_gets()`) passes them on, or for
    ever (a storage that hangs). Any thread may use it."""

    def __init__(self, delegate: Storage) -> None:
        self.delegate = delegate
        self.sets = 0
        self.hold_sets = False
        self.hold_gets = False
        self._lock = threading.Lock()
        self.held_sets: list[tuple[Promise[bool], Entry, bytes]] = []
        self.held_gets: list[tuple[Promise[Entry | None], str]] = []

    def get(self, name: str) -> Future[Entry | None]:
        with self._lock:
            if self.hold_gets:
                promise: Promise[Entry | None] = Promise()
                self.held_gets.append((promise, name))
                return promise.future
        return self.delegate.get(name)

    def set(self, entry: Entry, uuid: bytes) -> Future[bool]:
        with self._lock:
            self.sets += 1
            if self.hold_sets:
                promise: Promise[bool] = Promise()
                self.held_sets.append((promise, entry, uuid))
                return promise.future
        return self.delegate.set(entry, uuid)

    def expunge(self, entry: Entry) -> Future[bool]:
        return self.delegate.expunge(entry)

    def names(self) -> Future[list[str]]:
        return self.delegate.names()

    def release_sets(self) -> None:
        """Stops holding writes and passes the held ones on, in order."""
        with self._lock:
            self.hold_sets = False
            held, self.held_sets = self.held_sets, []
        for promise, entry, uuid in held:
            promise.associate(self.delegate.set(entry, uuid))

    def release_gets(self) -> None:
        with self._lock:
            self.hold_gets = False
            held, self.held_gets = self.held_gets, []
        for promise, name in held:
            promise.associate(self.delegate.get(name))


@pytest.fixture
def kit() -> types.SimpleNamespace:
    """The helpers above, for test modules (conftest is not importable under importlib)."""
    return types.SimpleNamespace(TIMEOUT=TIMEOUT, slave_info=slave_info,
                                 master_info=master_info, ids=ids,
                                 ControlledStorage=ControlledStorage)
