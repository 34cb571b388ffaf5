"""The state API's contract, run against every storage backend (in-memory, LevelDB and a real
ZooKeeper): Mesos's `State` semantics must not depend on where the variables live."""

from __future__ import annotations

import threading

import pytest

from mesos.protos.master import registry_pb2
from mesos.state import State, Storage, Variable
from mesos.state.storage import Entry, random_uuid

TIMEOUT = 30.0


def test_fetch_of_missing_name_gives_empty_variable(state: State) -> None:
    """This test ensures that fetching a name never stored gives an empty variable with a
    fresh version, and stores nothing."""
    variable = state.fetch("registry").get(TIMEOUT)

    assert variable.name == "registry"
    assert variable.value == b""
    assert len(variable.uuid) == 16
    assert state.fetch("registry").get(TIMEOUT).uuid != variable.uuid
    assert state.names().get(TIMEOUT) == []


def test_store_then_fetch_round_trips(state: State) -> None:
    """This test ensures that a stored variable is fetched back with its value and the new
    version the store gave it."""
    # 1. Fetch the empty variable and store a value into it.
    empty = state.fetch("registry").get(TIMEOUT)
    stored = state.store(empty.mutate(b"\x00value\xff")).get(TIMEOUT)

    # 2. The store gave a new version; a fetch sees it and the value.
    assert stored is not None
    assert stored.value == b"\x00value\xff"
    assert stored.uuid != empty.uuid
    fetched = state.fetch("registry").get(TIMEOUT)
    assert (fetched.value, fetched.uuid) == (stored.value, stored.uuid)

    # 3. Storing from the fetched variable works again (it carries the current version).
    again = state.store(fetched.mutate(b"second")).get(TIMEOUT)
    assert again is not None
    assert state.fetch("registry").get(TIMEOUT).value == b"second"


def test_stale_writer_loses_and_value_stays_intact(state: State) -> None:
    """This test ensures that of two writers who fetched the same version, the second one to
    store gets a version conflict (None) and the first one's value stays."""
    # 1. Seed a value; two writers fetch it.
    seed = state.store(state.fetch("registry").get(TIMEOUT).mutate(b"seed")).get(TIMEOUT)
    assert seed is not None
    first = state.fetch("registry").get(TIMEOUT)
    second = state.fetch("registry").get(TIMEOUT)
    assert first.uuid == second.uuid

    # 2. The first writer wins, the second loses.
    assert state.store(first.mutate(b"first")).get(TIMEOUT) is not None
    assert state.store(second.mutate(b"second")).get(TIMEOUT) is None

    # 3. The value is the winner's; a fresh fetch lets the loser try again.
    current = state.fetch("registry").get(TIMEOUT)
    assert current.value == b"first"
    assert state.store(current.mutate(b"second")).get(TIMEOUT) is not None
    assert state.fetch("registry").get(TIMEOUT).value == b"second"


def test_two_creators_of_a_new_name_one_wins(state: State) -> None:
    """This test ensures that when two writers both fetched a name that did not exist, only
    the first store creates it (as in Mesos: with nothing stored any version may create it,
    after that only the stored one may replace it)."""
    first = state.fetch("fresh").get(TIMEOUT)
    second = state.fetch("fresh").get(TIMEOUT)

    assert state.store(first.mutate(b"first")).get(TIMEOUT) is not None
    assert state.store(second.mutate(b"second")).get(TIMEOUT) is None
    assert state.fetch("fresh").get(TIMEOUT).value == b"first"


def test_storing_an_unchanged_value_still_moves_the_version(state: State) -> None:
    """This test ensures that, as in Mesos, every store swaps the version even when the value
    did not change, so an older copy of the variable becomes stale."""
    stored = state.store(state.fetch("registry").get(TIMEOUT).mutate(b"same")).get(TIMEOUT)
    assert stored is not None

    restored = state.store(stored).get(TIMEOUT)

    assert restored is not None
    assert restored.uuid != stored.uuid
    assert state.store(stored.mutate(b"late")).get(TIMEOUT) is None
    assert state.fetch("registry").get(TIMEOUT).value == b"same"


def test_expunge(state: State) -> None:
    """This test ensures that expunge deletes only the current version, and only once."""
    # 1. Store two versions; keep the stale first one.
    v1 = state.store(state.fetch("registry").get(TIMEOUT).mutate(b"one")).get(TIMEOUT)
    assert v1 is not None
    v2 = state.store(v1.mutate(b"two")).get(TIMEOUT)
    assert v2 is not None

    # 2. The stale version cannot expunge; the value survives.
    assert state.expunge(v1).get(TIMEOUT) is False
    assert state.fetch("registry").get(TIMEOUT).value == b"two"

    # 3. The current version can, once; then the name is gone.
    assert state.expunge(v2).get(TIMEOUT) is True
    assert state.expunge(v2).get(TIMEOUT) is False
    assert state.fetch("registry").get(TIMEOUT).value == b""
    assert state.names().get(TIMEOUT) == []

    # 4. A variable fetched before the expunge may create the name again (nothing stored).
    assert state.store(v2.mutate(b"three")).get(TIMEOUT) is not None
    assert state.fetch("registry").get(TIMEOUT).value == b"three"


def test_names(state: State) -> None:
    """This test ensures that `names` lists exactly the stored variables, sorted."""
    stored = {}
    for name in ("registry", "alpha", "zeta"):
        variable = state.store(state.fetch(name).get(TIMEOUT).mutate(name.encode()))
        stored[name] = variable.get(TIMEOUT)

    assert state.names().get(TIMEOUT) == ["alpha", "registry", "zeta"]

    assert state.expunge(stored["registry"]).get(TIMEOUT) is True
    assert state.names().get(TIMEOUT) == ["alpha", "zeta"]


def test_storage_compare_and_set_semantics(storage: Storage) -> None:
    """This test ensures that the `Storage` interface itself (below `State`) swaps an entry
    only against the stored uuid and answers None for a missing name."""
    assert storage.get("registry").get(TIMEOUT) is None

    first = Entry(name="registry", uuid=random_uuid(), value=b"1")
    assert storage.set(first, random_uuid()).get(TIMEOUT) is True  # Nothing stored yet.
    got = storage.get("registry").get(TIMEOUT)
    assert (got.name, got.uuid, got.value) == ("registry", first.uuid, b"1")

    second = Entry(name="registry", uuid=random_uuid(), value=b"2")
    assert storage.set(second, random_uuid()).get(TIMEOUT) is False
    assert storage.set(second, first.uuid).get(TIMEOUT) is True
    assert storage.expunge(first).get(TIMEOUT) is False
    assert storage.expunge(second).get(TIMEOUT) is True
    assert storage.names().get(TIMEOUT) == []


def test_concurrent_writers_never_lose_an_update(state: State) -> None:
    """This test ensures that compare-and-set is atomic: writers on several threads that
    increment a counter (fetch, add one, store, retry on conflict) end with exactly their
    number of successful stores."""
    threads, increments = 3, 8
    stored = state.store(state.fetch("counter").get(TIMEOUT).mutate(b"0")).get(TIMEOUT)
    assert stored is not None
    conflicts = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            done = 0
            while done < increments:
                current = state.fetch("counter").get(TIMEOUT)
                result = state.store(current.mutate(str(int(current.value) + 1).encode()))
                if result.get(TIMEOUT) is None:
                    conflicts.append(1)
                else:
                    done += 1
        except BaseException as e:  # Reported by the main thread below.
            errors.append(e)

    workers = [threading.Thread(target=writer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(TIMEOUT * 2)

    assert errors == []
    assert state.fetch("counter").get(TIMEOUT).value == str(threads * increments).encode()


def test_registry_of_50000_agents_round_trips(state: State, large_registry: bytes) -> None:
    """This test ensures that a registry of 50,000 agents (about 9 MB, far beyond ZooKeeper's
    1 MB node limit) is stored and fetched intact, and can be replaced by a newer one."""
    assert len(large_registry) > 5_000_000

    # 1. Store the large registry and fetch it back.
    stored = state.store(state.fetch("registry").get(TIMEOUT).mutate(large_registry))
    variable = stored.get(TIMEOUT)
    assert variable is not None
    fetched = state.fetch("registry").get(TIMEOUT)
    assert fetched.uuid == variable.uuid
    assert fetched.value == large_registry
    registry = registry_pb2.Registry()
    registry.ParseFromString(fetched.value)
    assert len(registry.slaves.slaves) == 50_000
    assert registry.slaves.slaves[49_999].info.hostname == "agent-49999.example.com"

    # 2. A newer (smaller) registry replaces it; the stale large one cannot come back.
    del registry.slaves.slaves[25_000:]
    smaller = state.store(fetched.mutate(registry.SerializeToString())).get(TIMEOUT)
    assert smaller is not None
    assert state.store(fetched.mutate(large_registry)).get(TIMEOUT) is None
    final = registry_pb2.Registry()
    final.ParseFromString(state.fetch("registry").get(TIMEOUT).value)
    assert len(final.slaves.slaves) == 25_000


def test_variable_is_immutable() -> None:
    """This test ensures that `mutate` gives a new variable at the same version and leaves
    the original alone, and that a variable holds bytes only."""
    original = Variable("registry", random_uuid(), b"old")

    changed = original.mutate(b"new")

    assert (original.value, changed.value) == (b"old", b"new")
    assert changed.uuid == original.uuid and changed.name == original.name
    with pytest.raises(TypeError, match="bytes"):
        original.mutate("text")  # type: ignore[arg-type]
