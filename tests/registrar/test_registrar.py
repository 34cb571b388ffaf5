"""The Registrar process (port of the registrar cases of Mesos's `registrar_tests.cpp`):
recovery, batching, the fetch and store timeouts, abort on storage failure, a corrupt registry,
the `/registrar(N)/registry` endpoint and a LevelDB round trip. The clock is paused."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import libprocess
from libprocess import FutureFailed
from libprocess.testing import settle
from mesos.protos.master import registry_pb2
from mesos.registrar import (
    AdmitSlave,
    MarkSlaveReachable,
    MarkSlaveUnreachable,
    Registrar,
    RegistrarOptions,
    RemoveSlave,
)
from mesos.state.in_memory import InMemoryStorage
from mesos.state.leveldb import LevelDBStorage
from mesos.state.storage import State, Storage

TIMEOUT = 10.0


@pytest.fixture
def storage(kit: Any) -> Any:
    """A counting, holdable storage over a real in-memory storage."""
    return kit.ControlledStorage(InMemoryStorage())


@pytest.fixture
def start_registrar() -> Iterator[Callable[..., Registrar]]:
    started: list[Registrar] = []

    def start(storage: Storage, **options: Any) -> Registrar:
        registrar = Registrar(RegistrarOptions(**options), State(storage))
        started.append(registrar)
        return registrar

    yield start
    for registrar in started:
        registrar.close()


def stored(storage: Storage) -> tuple[bytes, Any]:
    """The stored `registry` variable's bytes and its parse (what a new master would read)."""
    variable = State(storage).fetch("registry").get(TIMEOUT)
    registry = registry_pb2.Registry()
    registry.ParseFromString(variable.value)
    return variable.value, registry


def snapshot() -> dict[str, float]:
    return libprocess.metrics.snapshot().get(TIMEOUT)


def failure_of(future: Any) -> str:
    with pytest.raises(FutureFailed) as caught:
        future.get(TIMEOUT)
    return caught.value.failure


def test_recover_empty_store(kit, clock, storage, start_registrar):
    """This test ensures that recovering from an empty store gives an empty registry that
    names the new leader, and that this registry is stored before recovery completes."""
    registrar = start_registrar(storage)

    registry = registrar.recover(kit.master_info("leader-1")).get(TIMEOUT)

    assert registry.master.info.id == "leader-1"
    assert len(registry.slaves.slaves) == 0
    assert storage.sets == 1
    _, persisted = stored(storage)
    assert persisted.master.info.id == "leader-1"
    metrics = snapshot()
    assert metrics["registrar/state_fetch_ms/count"] == 1
    assert metrics["registrar/state_store_ms/count"] == 1


def test_recover_existing_registry(kit, clock, storage, start_registrar):
    """This test ensures that a new leader recovers the agents a previous leader admitted,
    with its own MasterInfo replacing the old one in the stored registry."""
    # 1. A first leader admits two agents and marks one unreachable.
    first = start_registrar(storage)
    first.recover(kit.master_info("leader-1")).get(TIMEOUT)
    assert first.apply(AdmitSlave(kit.slave_info(1))).get(TIMEOUT) is True
    assert first.apply(AdmitSlave(kit.slave_info(2))).get(TIMEOUT) is True
    assert first.apply(MarkSlaveUnreachable(kit.slave_info(2), 100.0)).get(TIMEOUT) is True
    first.close()

    # 2. A second leader recovers them.
    second = start_registrar(storage)
    registry = second.recover(kit.master_info("leader-2")).get(TIMEOUT)

    assert registry.master.info.id == "leader-2"
    assert kit.ids(registry.slaves.slaves) == ["S1"]
    assert kit.ids(registry.unreachable.slaves) == ["S2"]
    _, persisted = stored(storage)
    assert persisted.master.info.id == "leader-2"

    # 3. Its index knows them: the recovered agent cannot be admitted twice.
    assert second.apply(AdmitSlave(kit.slave_info(1))).get(TIMEOUT) is False
    assert second.apply(MarkSlaveReachable(kit.slave_info(2))).get(TIMEOUT) is True
    assert kit.ids(stored(storage)[1].slaves.slaves) == ["S1", "S2"]


def test_apply_before_recover_fails(kit, clock, storage, start_registrar):
    """This test ensures that an operation applied before `recover` fails, as in Mesos."""
    registrar = start_registrar(storage)

    failure = failure_of(registrar.apply(AdmitSlave(kit.slave_info(1))))

    assert failure == "Attempted to apply the operation before recovering"
    assert storage.sets == 0


def test_apply_during_recovery_waits(kit, clock, storage, start_registrar):
    """This test ensures that operations applied while the registry is being fetched wait
    for recovery and are then stored, in the order they came."""
    registrar = start_registrar(storage)
    storage.hold_gets = True
    recovered = registrar.recover(kit.master_info())
    first = registrar.apply(AdmitSlave(kit.slave_info(1)))
    second = registrar.apply(AdmitSlave(kit.slave_info(1)))
    settle()
    assert recovered.is_pending() and first.is_pending() and second.is_pending()

    storage.release_gets()

    recovered.get(TIMEOUT)
    assert first.get(TIMEOUT) is True
    assert second.get(TIMEOUT) is False
    assert kit.ids(stored(storage)[1].slaves.slaves) == ["S1"]


def test_batching(kit, clock, storage, start_registrar):
    """This test ensures that the operations applied while a store is in flight are applied
    together and written in exactly one more store, each with its own result."""
    registrar = start_registrar(storage)
    registrar.recover(kit.master_info()).get(TIMEOUT)
    assert storage.sets == 1

    # 1. Hold the next store: the first operation's batch stays in flight.
    storage.hold_sets = True
    first = registrar.apply(AdmitSlave(kit.slave_info(1)))
    settle()
    assert storage.sets == 2
    assert len(storage.held_sets) == 1

    # 2. Three more operations queue behind it; one is refused (a duplicate admission).
    batch = [registrar.apply(AdmitSlave(kit.slave_info(2))),
             registrar.apply(AdmitSlave(kit.slave_info(1))),
             registrar.apply(RemoveSlave(kit.slave_info(1)))]
    settle()
    assert storage.sets == 2
    assert snapshot()["registrar/queued_operations"] == 3
    assert all(f.is_pending() for f in [first, *batch])

    # 3. Releasing the first store sends the whole batch in one more store.
    storage.release_sets()

    assert first.get(TIMEOUT) is True
    assert [f.get(TIMEOUT) for f in batch] == [True, False, True]
    settle()
    assert storage.sets == 3
    data, registry = stored(storage)
    assert kit.ids(registry.slaves.slaves) == ["S2"]
    metrics = snapshot()
    assert metrics["registrar/queued_operations"] == 0
    assert metrics["registrar/registry_size_bytes"] == len(data)


def test_store_timeout_aborts_the_registrar(kit, clock, storage, start_registrar):
    """This test ensures that a store that does not finish within `registry_store_timeout`
    fails its operations and every queued and later one, and that nothing more is written."""
    registrar = start_registrar(storage)
    registrar.recover(kit.master_info()).get(TIMEOUT)

    # 1. The storage hangs from now on.
    storage.hold_sets = True
    first = registrar.apply(AdmitSlave(kit.slave_info(1)))
    settle()
    queued = registrar.apply(AdmitSlave(kit.slave_info(2)))
    settle()

    # 2. Just before the timeout nothing has failed.
    clock.advance(19.9)
    settle()
    assert first.is_pending() and queued.is_pending()

    # 3. Past it, the store fails and takes the queued operation with it.
    clock.advance(0.2)
    expected = "Failed to update registry: Failed to perform store within 20secs"
    assert failure_of(first) == expected
    assert failure_of(queued) == expected

    # 4. The registrar stays aborted: later operations fail without touching the storage.
    sets = storage.sets
    assert failure_of(registrar.apply(AdmitSlave(kit.slave_info(3)))) == expected
    assert storage.sets == sets == 2
    assert len(stored(storage)[1].slaves.slaves) == 0


def test_store_failure_aborts_the_registrar(kit, clock, start_registrar):
    """This test ensures that a storage error fails the batch and every later operation."""

    class FailingStorage(kit.ControlledStorage):
        def set(self, entry: Any, uuid: bytes) -> Any:
            self.sets += 1
            if self.sets > 1:
                return libprocess.Future.failed("disk on fire")
            return self.delegate.set(entry, uuid)

    storage = FailingStorage(InMemoryStorage())
    registrar = start_registrar(storage)
    registrar.recover(kit.master_info()).get(TIMEOUT)

    failure = failure_of(registrar.apply(AdmitSlave(kit.slave_info(1))))

    assert failure == "Failed to update registry: disk on fire"
    assert failure_of(registrar.apply(AdmitSlave(kit.slave_info(2)))) == failure
    assert storage.sets == 2


def test_version_conflict_aborts_the_registrar(kit, clock, storage, start_registrar):
    """This test ensures that a store meeting a version conflict (another master wrote the
    registry) aborts the registrar instead of overwriting the other writer."""
    registrar = start_registrar(storage)
    registrar.recover(kit.master_info("leader-1")).get(TIMEOUT)

    # Another master recovers and writes in between.
    other = start_registrar(storage)
    other.recover(kit.master_info("leader-2")).get(TIMEOUT)

    failure = failure_of(registrar.apply(AdmitSlave(kit.slave_info(1))))

    assert failure == "Failed to update registry: version mismatch"
    assert failure_of(registrar.apply(AdmitSlave(kit.slave_info(2)))) == failure
    _, registry = stored(storage)
    assert registry.master.info.id == "leader-2"
    assert len(registry.slaves.slaves) == 0


def test_fetch_timeout_fails_recovery(kit, clock, storage, start_registrar):
    """This test ensures that recovery fails when the registry cannot be fetched within
    `registry_fetch_timeout`, and that operations waiting for it fail too."""
    registrar = start_registrar(storage)
    storage.hold_gets = True
    recovered = registrar.recover(kit.master_info())
    waiting = registrar.apply(AdmitSlave(kit.slave_info(1)))
    settle()

    clock.advance(59.9)
    settle()
    assert recovered.is_pending()

    clock.advance(0.2)

    expected = "Failed to recover registrar: Failed to perform fetch within 1mins"
    assert failure_of(recovered) == expected
    assert failure_of(waiting) == expected
    assert failure_of(registrar.apply(AdmitSlave(kit.slave_info(2)))) == expected
    assert storage.sets == 0


@pytest.mark.parametrize("value, reason", [
    (b"\xff\xff\xff\xff", "is not a valid mesos.internal.Registry"),
    # A master without its required fields (id, ip, port).
    (registry_pb2.Registry(master=registry_pb2.Registry.Master()).SerializePartialToString(),
     "missing required fields: master.info"),
])
def test_corrupt_registry_fails_recovery(kit, clock, storage, start_registrar, value, reason):
    """This test ensures that a stored registry that does not parse fails recovery with a
    message naming the problem, and that the stored bytes are left untouched."""
    variable = State(storage).fetch("registry").get(TIMEOUT)
    State(storage).store(variable.mutate(value)).get(TIMEOUT)
    before = storage.delegate.get("registry").get(TIMEOUT)
    sets = storage.sets
    registrar = start_registrar(storage)

    failure = failure_of(registrar.recover(kit.master_info()))

    assert failure.startswith("Failed to recover registrar: the stored 'registry' "
                              f"({len(value)} bytes)")
    assert reason in failure
    assert storage.sets == sets
    assert storage.delegate.get("registry").get(TIMEOUT) == before


def test_registry_endpoint(kit, clock, storage, start_registrar):
    """This test ensures that `/registrar(N)/registry` serves the stored registry as JSON."""
    registrar = start_registrar(storage)
    registrar.recover(kit.master_info("leader-1")).get(TIMEOUT)
    registrar.apply(AdmitSlave(kit.slave_info(1, attributes="rack:r1"))).get(TIMEOUT)
    host, port = libprocess.http_address()

    url = f"http://{host}:{port}/{registrar.pid.id}/registry"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        body = json.loads(response.read())

    assert registrar.pid.id.startswith("registrar(")
    assert body["master"]["info"]["id"] == "leader-1"
    [slave] = body["slaves"]["slaves"]
    assert slave["info"]["id"] == {"value": "S1"}
    assert slave["info"]["hostname"] == "host1"
    assert {r["name"] for r in slave["info"]["resources"]} == {"cpus", "mem", "disk"}


def test_close_fails_pending_operations(kit, clock, storage, start_registrar):
    """This test ensures that terminating the registrar fails the operations still waiting
    instead of leaving their callers hanging."""
    registrar = start_registrar(storage)
    registrar.recover(kit.master_info()).get(TIMEOUT)
    storage.hold_sets = True
    in_flight = registrar.apply(AdmitSlave(kit.slave_info(1)))
    settle()
    queued = registrar.apply(AdmitSlave(kit.slave_info(2)))
    settle()

    registrar.close()

    assert failure_of(in_flight) == "Registrar terminated"
    assert failure_of(queued) == "Registrar terminated"


def test_leveldb_round_trip(kit, clock, tmp_path: Path, start_registrar):
    """This test ensures that a registry stored in LevelDB survives the registrar and the
    storage being closed, and is recovered by the next master on the same directory."""
    path = tmp_path / "registry"
    storage = LevelDBStorage(path)
    first = start_registrar(storage)
    first.recover(kit.master_info("leader-1")).get(TIMEOUT)
    results = [first.apply(AdmitSlave(kit.slave_info(n))) for n in range(1, 4)]
    results.append(first.apply(MarkSlaveUnreachable(kit.slave_info(3), 42.0)))
    assert [f.get(TIMEOUT) for f in results] == [True, True, True, True]
    first.close()
    storage.close()

    reopened = LevelDBStorage(path)
    try:
        second = start_registrar(reopened)
        registry = second.recover(kit.master_info("leader-2")).get(TIMEOUT)

        assert registry.master.info.id == "leader-2"
        assert kit.ids(registry.slaves.slaves) == ["S1", "S2"]
        assert kit.ids(registry.unreachable.slaves) == ["S3"]
        assert registry.unreachable.slaves[0].timestamp.nanoseconds == 42 * 10**9
        assert second.apply(AdmitSlave(kit.slave_info(2))).get(TIMEOUT) is False
        second.close()
    finally:
        reopened.close()
