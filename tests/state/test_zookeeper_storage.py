"""ZooKeeper storage against a real server: the node layout, chunked large values written
atomically, readers racing writers, garbage collection of abandoned chunks, and operations
that wait out a ZooKeeper outage or a session expiry."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator

import pytest
from kazoo.exceptions import NoAuthError

from mesos.state import State
from mesos.state.storage import Entry
from mesos.state.zookeeper import CHUNKS, MANIFEST_MAGIC, ZooKeeperStorage, registry_znode
from mesos.zookeeper.server import ZooKeeperServer
from mesos.zookeeper.testing import ZooKeeperChroot
from mesos.zookeeper.url import parse

pytestmark = pytest.mark.zookeeper

TIMEOUT = 30.0
ROOT = "/mesos/state"


@pytest.fixture
def chunked(zookeeper: ZooKeeperChroot) -> Iterator[ZooKeeperStorage]:
    """A storage in the test's chroot that splits values into 64 KB chunks."""
    storage = ZooKeeperStorage(zookeeper.hosts, 10.0, ROOT, chunk_size=64 * 1024)
    yield storage
    storage.close()


def chunk_names(client: object, name: str = "registry") -> list[str]:
    path = f"{ROOT}/{CHUNKS}/{name}"
    if client.exists(path) is None:  # type: ignore[attr-defined]
        return []
    return sorted(client.get_children(path))  # type: ignore[attr-defined]


def test_small_values_use_mesos_entry_format(zookeeper: ZooKeeperChroot) -> None:
    """This test ensures that a value that fits one node is stored as Mesos stores it: the
    node `<root>/<name>` holds the serialized `mesos.internal.state.Entry`."""
    storage = ZooKeeperStorage(zookeeper.hosts, 10.0, ROOT)
    try:
        state = State(storage)
        stored = state.store(state.fetch("registry").get(TIMEOUT).mutate(b"small")).get(TIMEOUT)
        assert stored is not None

        data, stat = zookeeper.client().get(f"{ROOT}/registry")

        entry = Entry()
        entry.ParseFromString(data)
        assert (entry.name, entry.uuid, entry.value) == ("registry", stored.uuid, b"small")
        assert stat.version == 0
    finally:
        storage.close()


def test_large_value_is_chunked_and_replaced_atomically(
        zookeeper: ZooKeeperChroot, chunked: ZooKeeperStorage) -> None:
    """This test ensures that a value larger than a node is written as a manifest plus chunks,
    that replacing it removes the old chunks in the same commit, and that going back to a
    small value or expunging leaves no chunk behind."""
    state = State(chunked)
    client = zookeeper.client()
    big = os.urandom(300 * 1024)  # Incompressible: 5 chunks of 64 KB.

    # 1. The first large value: a manifest naming 5 chunks, all present.
    v1 = state.store(state.fetch("registry").get(TIMEOUT).mutate(big)).get(TIMEOUT)
    assert v1 is not None
    data, _ = client.get(f"{ROOT}/registry")
    assert data.startswith(MANIFEST_MAGIC)
    manifest = json.loads(data[len(MANIFEST_MAGIC):])
    assert manifest["uuid"] == v1.uuid.hex()
    assert manifest["size"] == len(big)
    assert len(manifest["chunks"]) == 5
    assert chunk_names(client) == sorted(manifest["chunks"])
    assert state.fetch("registry").get(TIMEOUT).value == big

    # 2. A second large value: only its own chunks remain.
    bigger = os.urandom(400 * 1024)
    v2 = state.store(v1.mutate(bigger)).get(TIMEOUT)
    assert v2 is not None
    manifest2 = json.loads(client.get(f"{ROOT}/registry")[0][len(MANIFEST_MAGIC):])
    assert chunk_names(client) == sorted(manifest2["chunks"])
    assert not set(manifest["chunks"]) & set(manifest2["chunks"])
    assert state.fetch("registry").get(TIMEOUT).value == bigger

    # 3. A stale writer with a large value loses and leaves no chunks behind.
    assert state.store(v1.mutate(os.urandom(200 * 1024))).get(TIMEOUT) is None
    assert chunk_names(client) == sorted(manifest2["chunks"])

    # 4. Back to a small value: no chunks; then large again and expunge: no chunks.
    v3 = state.store(v2.mutate(b"tiny")).get(TIMEOUT)
    assert v3 is not None
    assert chunk_names(client) == []
    v4 = state.store(v3.mutate(big)).get(TIMEOUT)
    assert v4 is not None
    assert state.expunge(v4).get(TIMEOUT) is True
    assert chunk_names(client) == []
    assert client.exists(f"{ROOT}/registry") is None
    assert state.names().get(TIMEOUT) == []


def test_readers_never_see_a_torn_value(chunked: ZooKeeperStorage) -> None:
    """This test ensures that a reader racing a writer of multi-chunk values always gets one
    whole value that was stored (never chunks of two versions): a read whose chunks were
    replaced underneath starts again."""
    state = State(chunked)
    values = [bytes([i]) * (200 * 1024) + os.urandom(64) for i in range(12)]
    current = state.store(state.fetch("registry").get(TIMEOUT).mutate(values[0])).get(TIMEOUT)
    assert current is not None
    written = {values[0]}
    done = threading.Event()
    seen: list[bytes] = []

    def reader() -> None:
        while not done.is_set():
            seen.append(state.fetch("registry").get(TIMEOUT).value)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for value in values[1:]:
            stored = state.store(current.mutate(value)).get(TIMEOUT)
            assert stored is not None
            current = stored
            written.add(value)
    finally:
        done.set()
        thread.join(TIMEOUT)

    assert seen
    assert all(value in written for value in seen)


def test_abandoned_chunks_are_collected_by_the_next_writer(
        zookeeper: ZooKeeperChroot, chunked: ZooKeeperStorage) -> None:
    """This test ensures that chunks left by a writer that died between staging and commit
    (they name an old version) are deleted by the next large store."""
    state = State(chunked)
    client = zookeeper.client()
    v1 = state.store(state.fetch("registry").get(TIMEOUT).mutate(os.urandom(100 * 1024)))
    assert v1.get(TIMEOUT) is not None

    # 1. A dead writer's chunk, staged on an old version.
    orphan = "0000000000000001-deadbeef0000-000000"
    client.create(f"{ROOT}/{CHUNKS}/registry/{orphan}", b"garbage")
    assert orphan in chunk_names(client)

    # 2. The next large store collects it.
    v2 = state.store(v1.get(TIMEOUT).mutate(os.urandom(100 * 1024))).get(TIMEOUT)
    assert v2 is not None
    assert orphan not in chunk_names(client)
    assert state.fetch("registry").get(TIMEOUT).value == v2.value


def test_names_hide_the_chunk_area_and_bad_names_fail(chunked: ZooKeeperStorage) -> None:
    """This test ensures that the reserved chunk node is not an entry name, and that a name
    ZooKeeper cannot hold fails the call with a clear message."""
    state = State(chunked)
    assert state.store(state.fetch("a").get(TIMEOUT).mutate(os.urandom(100 * 1024))).get(
        TIMEOUT) is not None

    assert state.names().get(TIMEOUT) == ["a"]
    for bad in ("a/b", CHUNKS, ""):
        future = state.fetch(bad)
        assert future.wait(TIMEOUT)
        assert future.is_failed()
        assert "Bad entry name" in future.failure


def test_operations_wait_out_an_outage(
        zookeeper_factory: Callable[..., ZooKeeperServer]) -> None:
    """This test ensures that, as in Mesos, operations issued while ZooKeeper is down stay
    pending and complete once it is back; an operation its caller discarded meanwhile (a
    registrar timeout) is dropped instead of written late."""
    # 1. A storage on a dedicated server, with a stored value.
    server = zookeeper_factory()
    storage = ZooKeeperStorage(server.connect_string, 10.0, registry_znode("/mesos"))
    try:
        state = State(storage)
        v1 = state.store(state.fetch("registry").get(TIMEOUT).mutate(b"before")).get(TIMEOUT)
        assert v1 is not None

        # 2. ZooKeeper goes away; a store and a discarded store wait.
        server.stop()
        abandoned = state.store(v1.mutate(b"abandoned"))
        pending = state.store(v1.mutate(b"after"))
        assert not pending.wait(0.5)
        assert abandoned.is_pending()
        abandoned.discard()

        # 3. ZooKeeper is back (same data): the live store lands, the discarded one never ran.
        server.start()
        stored = pending.get(TIMEOUT)
        assert stored is not None
        assert abandoned.is_discarded()
        fetched = state.fetch("registry").get(TIMEOUT)
        assert (fetched.value, fetched.uuid) == (b"after", stored.uuid)
    finally:
        storage.close()


def test_session_expiry_is_survived(zookeeper: ZooKeeperChroot) -> None:
    """This test ensures that after its session expires the storage carries on with a new
    session, with the stored data intact."""
    storage = ZooKeeperStorage(zookeeper.hosts, 10.0, ROOT)
    try:
        state = State(storage)
        v1 = state.store(state.fetch("registry").get(TIMEOUT).mutate(b"one")).get(TIMEOUT)
        assert v1 is not None
        client = storage.process.client
        old_session = client.client_id[0]

        zookeeper.expire_session(client)

        v2 = state.store(v1.mutate(b"two")).get(TIMEOUT)
        assert v2 is not None
        assert state.fetch("registry").get(TIMEOUT).value == b"two"
        assert client.client_id[0] != old_session
    finally:
        storage.close()


def test_close_fails_pending_operations(
        zookeeper_factory: Callable[..., ZooKeeperServer]) -> None:
    """This test ensures that closing the storage fails the operations still waiting for
    ZooKeeper instead of leaving their callers hanging, and later calls fail at once."""
    server = zookeeper_factory()
    storage = ZooKeeperStorage(server.connect_string, 10.0, ROOT)
    state = State(storage)
    assert state.names().get(TIMEOUT) == []
    server.kill()
    pending = state.fetch("registry")
    assert not pending.wait(0.2)

    storage.close()

    assert pending.wait(TIMEOUT)
    assert pending.is_failed()
    assert "No longer managing storage" in pending.failure
    assert state.names().is_failed()


def test_storage_from_url_with_credentials(zookeeper: ZooKeeperChroot) -> None:
    """This test ensures that a storage made from a `--zk` URL with credentials lives under
    `<path>/state` and, as in Mesos, lets everybody read but only its creator write."""
    url = parse(f"zk://jane:secret@{zookeeper.servers}{zookeeper.path}/mesos")
    storage = ZooKeeperStorage.from_url(url, 10.0)
    try:
        state = State(storage)
        assert state.store(state.fetch("registry").get(TIMEOUT).mutate(b"guarded")).get(
            TIMEOUT) is not None

        anonymous = zookeeper.client()
        data, _ = anonymous.get("/mesos/state/registry")
        assert Entry.FromString(data).value == b"guarded"
        with pytest.raises(NoAuthError):
            anonymous.set("/mesos/state/registry", b"tampered")
    finally:
        storage.close()
