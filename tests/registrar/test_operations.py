"""The registry operations as pure functions (port of the operation cases of Mesos's
`registrar_tests.cpp`), each run with both accumulators: a plain set of admitted ids (Mesos's
`hashset<SlaveID>`, linear scans) and the `RegistryIndex` the Registrar uses."""

from __future__ import annotations

import random
from typing import Any

import pytest

from mesos.protos.master import registry_pb2
from mesos.protos.mesos import mesos_pb2
from mesos.registrar import (
    AdmitSlave,
    MarkSlaveGone,
    MarkSlaveReachable,
    MarkSlaveUnreachable,
    Prune,
    RegistryIndex,
    RegistryOperationError,
    RemoveSlave,
    UpdateSlave,
    select_for_gc,
    time_info,
)

ACCUMULATORS = ["set", "index"]


def fresh(kind: str, registry: Any = None) -> tuple[Any, Any]:
    """A registry (empty unless given) and an accumulator of the kind asked for."""
    registry = registry if registry is not None else registry_pb2.Registry()
    if kind == "index":
        return registry, RegistryIndex(registry)
    return registry, {s.info.id.value for s in registry.slaves.slaves}


@pytest.mark.parametrize("kind", ACCUMULATORS)
def test_admit_slave_twice_is_refused(kit: Any, kind: str) -> None:
    """This test ensures that admitting an agent appends it to `slaves`, and that admitting
    the same id again is refused with Mesos's error and changes nothing."""
    registry, slave_ids = fresh(kind)

    assert AdmitSlave(kit.slave_info(1))(registry, slave_ids) is True
    assert kit.ids(registry.slaves.slaves) == ["S1"]
    assert "S1" in slave_ids

    with pytest.raises(RegistryOperationError, match="Agent already admitted"):
        AdmitSlave(kit.slave_info(1, hostname="other"))(registry, slave_ids)
    assert kit.ids(registry.slaves.slaves) == ["S1"]
    assert registry.slaves.slaves[0].info.hostname == "host1"


@pytest.mark.parametrize("kind", ACCUMULATORS)
def test_admit_slave_stores_pre_refinement_resources(kit: Any, kind: str) -> None:
    """This test ensures that the registry keeps resources in the pre-reservation-refinement
    format (readable by older masters), as Mesos's `downgradeResources` does."""
    registry, slave_ids = fresh(kind)
    info = kit.slave_info(1, resources="cpus(role1):2;mem:512")

    AdmitSlave(info)(registry, slave_ids)

    stored = {r.name: r for r in registry.slaves.slaves[0].info.resources}
    assert stored["cpus"].role == "role1"
    assert len(stored["cpus"].reservations) == 0
    assert stored["mem"].role == "*"


@pytest.mark.parametrize("kind", ACCUMULATORS)
def test_update_slave_compares_across_resource_formats(kit: Any, kind: str) -> None:
    """This test ensures that an agent admitted with reserved resources is not seen as
    changed when it comes back with the same resources (in the format the master computes
    with), although the registry holds them in the old format."""
    registry, slave_ids = fresh(kind)
    info = kit.slave_info(1, resources="cpus(role1):2;mem:512")
    AdmitSlave(info)(registry, slave_ids)
    stored = registry.SerializeToString()

    assert UpdateSlave(info)(registry, slave_ids) is False
    assert MarkSlaveReachable(info)(registry, slave_ids) is False
    assert registry.SerializeToString() == stored

    changed = kit.slave_info(1, resources="cpus(role2):2;mem:512")
    assert UpdateSlave(changed)(registry, slave_ids) is True
    cpus = registry.slaves.slaves[0].info.resources[0]
    assert (cpus.role, len(cpus.reservations)) == ("role2", 0)


def test_admit_slave_needs_an_id(kit: Any) -> None:
    """This test ensures that an operation on a `SlaveInfo` without an id is a programming
    error caught at construction, as Mesos's CHECK."""
    with pytest.raises(ValueError, match="missing the 'id' field"):
        AdmitSlave(mesos_pb2.SlaveInfo(hostname="h"))


@pytest.mark.parametrize("kind", ACCUMULATORS)
def test_update_slave(kit: Any, kind: str) -> None:
    """This test ensures that UpdateSlave replaces an admitted agent's info, reports no
    mutation for an equal info (compared as Mesos does: resources as `Resources`, attributes
    in any order), and refuses an agent that was never admitted."""
    registry, slave_ids = fresh(kind)
    AdmitSlave(kit.slave_info(1, attributes="rack:r1;zone:z1"))(registry, slave_ids)
    AdmitSlave(kit.slave_info(2))(registry, slave_ids)

    # The same info, resources given in another order and attributes reversed.
    same = kit.slave_info(1, resources="disk:2048;mem:512;cpus:1", attributes="zone:z1;rack:r1")
    assert UpdateSlave(same)(registry, slave_ids) is False

    bigger = kit.slave_info(1, resources="cpus:4;mem:512;disk:2048", attributes="rack:r1")
    assert UpdateSlave(bigger)(registry, slave_ids) is True
    updated = registry.slaves.slaves[0].info
    assert (updated.resources[0].name, updated.resources[0].scalar.value) == ("cpus", 4.0)
    assert [a.name for a in updated.attributes] == ["rack"]
    assert kit.ids(registry.slaves.slaves) == ["S1", "S2"]

    with pytest.raises(RegistryOperationError, match=r"Agent not yet admitted\."):
        UpdateSlave(kit.slave_info(3))(registry, slave_ids)


@pytest.mark.parametrize("kind", ACCUMULATORS)
def test_mark_unreachable_then_reachable(kit: Any, kind: str) -> None:
    """This test ensures that an agent marked unreachable moves from `slaves` to the end of
    `unreachable` with its timestamp, keeping its drain state; that marking it unreachable
    again is refused; and that marking it reachable moves it back with that drain state."""
    registry, slave_ids = fresh(kind)
    for n in (1, 2, 3):
        AdmitSlave(kit.slave_info(n))(registry, slave_ids)
    registry.slaves.slaves[1].deactivated = True
    registry.slaves.slaves[1].drain_info.state = mesos_pb2.DRAINING
    when = time_info(1000.5)

    assert MarkSlaveUnreachable(kit.slave_info(2), when)(registry, slave_ids) is True
    assert kit.ids(registry.slaves.slaves) == ["S1", "S3"]
    assert kit.ids(registry.unreachable.slaves) == ["S2"]
    unreachable = registry.unreachable.slaves[0]
    assert unreachable.timestamp.nanoseconds == 1_000_500_000_000
    assert unreachable.deactivated is True
    assert unreachable.drain_info.state == mesos_pb2.DRAINING
    assert "S2" not in slave_ids

    with pytest.raises(RegistryOperationError, match="Agent not yet admitted"):
        MarkSlaveUnreachable(kit.slave_info(2), when)(registry, slave_ids)

    assert MarkSlaveReachable(kit.slave_info(2))(registry, slave_ids) is True
    assert kit.ids(registry.slaves.slaves) == ["S1", "S3", "S2"]
    assert len(registry.unreachable.slaves) == 0
    back = registry.slaves.slaves[2]
    assert back.deactivated is True
    assert back.drain_info.state == mesos_pb2.DRAINING
    assert "S2" in slave_ids


@pytest.mark.parametrize("kind", ACCUMULATORS)
def test_mark_reachable_of_admitted_or_unknown(kit: Any, kind: str) -> None:
    """This test ensures that marking an admitted agent reachable changes nothing (the agent
    reregistered after a failover), and that an agent in neither list (garbage collected) is
    admitted all the same."""
    registry, slave_ids = fresh(kind)
    AdmitSlave(kit.slave_info(1))(registry, slave_ids)

    assert MarkSlaveReachable(kit.slave_info(1))(registry, slave_ids) is False
    assert kit.ids(registry.slaves.slaves) == ["S1"]

    assert MarkSlaveReachable(kit.slave_info(7))(registry, slave_ids) is True
    assert kit.ids(registry.slaves.slaves) == ["S1", "S7"]
    assert "S7" in slave_ids


@pytest.mark.parametrize("kind", ACCUMULATORS)
def test_remove_slave(kit: Any, kind: str) -> None:
    """This test ensures that RemoveSlave deletes an admitted agent and refuses one that is
    not admitted, including one that is unreachable."""
    registry, slave_ids = fresh(kind)
    for n in (1, 2, 3):
        AdmitSlave(kit.slave_info(n))(registry, slave_ids)
    MarkSlaveUnreachable(kit.slave_info(3), 5.0)(registry, slave_ids)

    assert RemoveSlave(kit.slave_info(1))(registry, slave_ids) is True
    assert kit.ids(registry.slaves.slaves) == ["S2"]
    assert "S1" not in slave_ids

    for n in (1, 3):
        with pytest.raises(RegistryOperationError, match="Agent not yet admitted"):
            RemoveSlave(kit.slave_info(n))(registry, slave_ids)
    assert kit.ids(registry.unreachable.slaves) == ["S3"]


@pytest.mark.parametrize("kind", ACCUMULATORS)
def test_mark_slave_gone(kit: Any, kind: str) -> None:
    """This test ensures that MarkSlaveGone moves an admitted or an unreachable agent to
    `gone` with its timestamp, refuses an agent already gone, and refuses an unknown one."""
    registry, slave_ids = fresh(kind)
    for n in (1, 2):
        AdmitSlave(kit.slave_info(n))(registry, slave_ids)
    MarkSlaveUnreachable(kit.slave_info(2), 5.0)(registry, slave_ids)

    assert MarkSlaveGone("S1", 10.0)(registry, slave_ids) is True
    assert MarkSlaveGone(mesos_pb2.SlaveID(value="S2"), 11.0)(registry, slave_ids) is True
    assert len(registry.slaves.slaves) == 0
    assert len(registry.unreachable.slaves) == 0
    assert kit.ids(registry.gone.slaves) == ["S1", "S2"]
    assert [g.timestamp.nanoseconds for g in registry.gone.slaves] == [10 * 10**9, 11 * 10**9]
    assert "S1" not in slave_ids

    with pytest.raises(RegistryOperationError, match="Agent S1 already marked as gone"):
        MarkSlaveGone("S1", 12.0)(registry, slave_ids)
    with pytest.raises(RegistryOperationError, match="Failed to find agent S9"):
        MarkSlaveGone("S9", 12.0)(registry, slave_ids)
    assert kit.ids(registry.gone.slaves) == ["S1", "S2"]


@pytest.mark.parametrize("kind", ACCUMULATORS)
def test_prune(kit: Any, kind: str) -> None:
    """This test ensures that Prune removes the listed unreachable and gone agents, skips ids
    that are no longer listed, leaves admitted agents alone, and says whether it removed
    anything."""
    registry, slave_ids = fresh(kind)
    for n in range(1, 7):
        AdmitSlave(kit.slave_info(n))(registry, slave_ids)
    for n in (2, 3, 4):
        MarkSlaveUnreachable(kit.slave_info(n), float(n))(registry, slave_ids)
    for n in (5, 6):
        MarkSlaveGone(f"S{n}", float(n))(registry, slave_ids)

    assert Prune({"S2", "S4", "S1", "S99"}, {"S6"})(registry, slave_ids) is True
    assert kit.ids(registry.slaves.slaves) == ["S1"]
    assert kit.ids(registry.unreachable.slaves) == ["S3"]
    assert kit.ids(registry.gone.slaves) == ["S5"]

    assert Prune({"S2"}, {"S6"})(registry, slave_ids) is False
    assert Prune()(registry, slave_ids) is False


def test_prune_removes_duplicated_entries(kit: Any) -> None:
    """This test ensures that Prune removes every entry of a listed id, also from a registry
    written by hand with duplicates, and that the index keeps finding the ones left."""
    registry = registry_pb2.Registry()
    for key in ("A", "B", "A", "C"):
        entry = registry.unreachable.slaves.add()
        entry.id.value = key
        entry.timestamp.nanoseconds = 1
    index = RegistryIndex(registry)

    assert Prune({"A"}, ())(registry, index) is True

    assert kit.ids(registry.unreachable.slaves) == ["B", "C"]
    assert index.position("unreachable", "C") == 1
    assert set(index.unreachable()) == {"B", "C"}


def test_index_follows_random_operations(kit: Any) -> None:
    """This test ensures that the `RegistryIndex` gives the same results as Mesos's scans
    over a long random mix of operations, and that its positions stay right."""
    rng = random.Random(7)
    with_set, slave_set = fresh("set")
    with_index, index = fresh("index")
    operations = []
    for step in range(3000):
        n = rng.randrange(60)
        choice = rng.randrange(6)
        if choice == 0:
            operations.append(AdmitSlave(kit.slave_info(n)))
        elif choice == 1:
            operations.append(MarkSlaveUnreachable(kit.slave_info(n), float(step)))
        elif choice == 2:
            operations.append(MarkSlaveReachable(kit.slave_info(n)))
        elif choice == 3:
            operations.append(RemoveSlave(kit.slave_info(n)))
        elif choice == 4:
            operations.append(MarkSlaveGone(f"S{n}", float(step)))
        else:
            operations.append(Prune({f"S{rng.randrange(60)}"}, {f"S{rng.randrange(60)}"}))

    for operation in operations:
        outcomes = []
        for registry, accumulator in ((with_set, slave_set), (with_index, index)):
            try:
                outcomes.append(operation(registry, accumulator))
            except RegistryOperationError as e:
                outcomes.append(str(e))
        assert outcomes[0] == outcomes[1], operation
        assert with_set == with_index

    assert set(index) == slave_set
    for kind in ("slaves", "unreachable", "gone"):
        for position, key in enumerate(kit.ids(getattr(with_index, kind).slaves)):
            assert index.position(kind, key) == position


def test_index_rejects_another_registry(kit: Any) -> None:
    """This test ensures that an index is only used with the registry it describes."""
    index = RegistryIndex(registry_pb2.Registry())
    with pytest.raises(ValueError, match="another Registry"):
        AdmitSlave(kit.slave_info(1))(registry_pb2.Registry(), index)


def test_select_for_gc_by_count_and_age(kit: Any) -> None:
    """This test ensures that registry GC picks the oldest entries beyond
    `registry_max_agent_count`, plus any entry older than `registry_max_agent_age` wherever
    it sits in the list, as `Master::doRegistryGc`."""
    day = 86400.0
    now = 100 * day
    entries = [("S1", now - 1 * day), ("S2", now - 2 * day), ("S3", now - 30 * day),
               ("S4", now - 1 * day), ("S5", time_info(now))]

    assert select_for_gc(entries, now, max_agent_age=14 * day, max_agent_count=10) == {"S3"}
    assert select_for_gc(entries, now, max_agent_age=14 * day, max_agent_count=3) == {
        "S1", "S2", "S3"}
    assert select_for_gc(dict(entries), now, max_agent_age=0.5 * day,
                         max_agent_count=100) == {"S1", "S2", "S3", "S4"}
    assert select_for_gc([], now, 1.0, 0) == set()
