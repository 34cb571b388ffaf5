"""Fixtures for the state storage tests: each backend behind one `storage` fixture, a real
ZooKeeper (from `mesos.zookeeper.testing`) for the ZooKeeper backend, and a large registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mesos.protos.master import registry_pb2
from mesos.protos.mesos import mesos_pb2
from mesos.state import InMemoryStorage, State, Storage
from mesos.state.leveldb import LevelDBStorage
from mesos.state.zookeeper import ZooKeeperStorage

# The ZooKeeper fixtures come from the `mesos.zookeeper.testing` plugin (see pyproject.toml).
from mesos.zookeeper.testing import ZooKeeperChroot

BACKENDS = ["in_memory", "leveldb", pytest.param("zookeeper", marks=pytest.mark.zookeeper)]


def make_storage(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if backend == "in_memory":
        return InMemoryStorage()
    if backend == "leveldb":
        return LevelDBStorage(tmp_path / "registry")
    chroot: ZooKeeperChroot = request.getfixturevalue("zookeeper")
    return ZooKeeperStorage(chroot.hosts, 10.0, "/mesos/state")


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Each backend in turn, empty, closed after the test."""
    backend = make_storage(request.param, request, tmp_path)
    yield backend
    backend.close()


@pytest.fixture
def state(storage: Storage) -> State:
    return State(storage)


def build_registry(agents: int) -> registry_pb2.Registry:
    """A registry of `agents` admitted agents, each `cpus:1;mem:512;disk:2048` with a rack
    and a zone attribute."""
    registry = registry_pb2.Registry()
    registry.master.info.id = "a3a6c1d2-5f4e-4b1f-9d0c-2e6f8a7b9c01"
    registry.master.info.ip = 0x0100007F
    registry.master.info.port = 5050
    resources = []
    for name, amount in (("cpus", 1.0), ("mem", 512.0), ("disk", 2048.0)):
        resource = mesos_pb2.Resource(name=name, type=mesos_pb2.Value.SCALAR)
        resource.scalar.value = amount
        resources.append(resource)
    slaves = registry.slaves.slaves
    for i in range(agents):
        info = slaves.add().info
        info.hostname = f"agent-{i}.example.com"
        info.port = 5051
        info.id.value = f"a3a6c1d2-5f4e-4b1f-9d0c-2e6f8a7b9c01-S{i}"
        info.resources.extend(resources)
        rack = info.attributes.add(name="rack", type=mesos_pb2.Value.TEXT)
        rack.text.value = f"rack-{i % 40}"
        zone = info.attributes.add(name="zone", type=mesos_pb2.Value.SCALAR)
        zone.scalar.value = i % 3
    return registry


@pytest.fixture(scope="session")
def large_registry() -> bytes:
    """A serialized registry of 50,000 agents (about 9 MB), built once per session."""
    return build_registry(50_000).SerializeToString()
