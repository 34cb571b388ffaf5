"""The registry operations: pure changes to a `mesos.internal.Registry`.

Port of `src/master/registry_operations.{hpp,cpp}`. Each operation is a callable
`operation(registry, slave_ids) -> bool` that edits `registry` in place and says whether it
changed it ("mutation"), exactly as Mesos's `RegistryOperation::perform(Registry*,
hashset<SlaveID>*)`; an operation Mesos refuses raises `RegistryOperationError` with Mesos's
message (the Registrar then resolves that operation's future with `False`).

`slave_ids` is the accumulator of admitted agent ids that the operations of one batch share.
It may be a plain `set[str]` (as in Mesos: finding an agent in the lists is then a linear scan)
or a `RegistryIndex` built over the same registry, which also knows where every agent sits in
the `slaves`, `unreachable` and `gone` lists, so that finding one takes O(log n) instead of a
scan of 10,000 protobuf messages. The Registrar keeps one `RegistryIndex` for its whole life.

No threads, no clock and no I/O here: times are arguments (`TimeInfo` or seconds).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Set
from typing import Any

from mesos.common.resources import (
    ResourceFormat,
    Resources,
    ResourcesError,
    convert_resource_format,
)
from mesos.protos.master import registry_pb2
from mesos.protos.mesos import mesos_pb2

__all__ = [
    "AdmitSlave",
    "MarkSlaveGone",
    "MarkSlaveReachable",
    "MarkSlaveUnreachable",
    "Prune",
    "RegistryIndex",
    "RegistryOperation",
    "RegistryOperationError",
    "RemoveSlave",
    "UpdateSlave",
    "same_slave_info",
    "select_for_gc",
    "time_info",
]

log = logging.getLogger(__name__)

# The three agent lists of the registry.
SLAVES = "slaves"
UNREACHABLE = "unreachable"
GONE = "gone"
_KINDS = (SLAVES, UNREACHABLE, GONE)


class RegistryOperationError(Exception):
    """An operation Mesos refuses (`Try<bool>` holding an `Error`); the message is Mesos's."""


# ---------------------------------------------------------------------------------------
# Small conversions.


def time_info(when: Any) -> Any:
    """A `mesos.TimeInfo` from a `TimeInfo` (copied) or from seconds since the epoch."""
    if isinstance(when, mesos_pb2.TimeInfo):
        copy = mesos_pb2.TimeInfo()
        copy.CopyFrom(when)
        return copy
    return mesos_pb2.TimeInfo(nanoseconds=round(float(when) * 1e9))


def _slave_id(value: Any) -> str:
    """The id string of a `SlaveID`, or the string itself."""
    if isinstance(value, str):
        return value
    return str(value.value)


def _check_info(info: Any) -> Any:
    """A private copy of a `SlaveInfo` that must carry an id (Mesos CHECKs it)."""
    if not info.HasField("id") or not info.id.value:
        raise ValueError("SlaveInfo is missing the 'id' field")
    copy = mesos_pb2.SlaveInfo()
    copy.CopyFrom(info)
    return copy


def _converted(info: Any, fmt: ResourceFormat) -> Any:
    """A copy of `info` whose resources are in `fmt`, where they can be.

    The registry keeps resources in the pre-reservation-refinement format so that older
    masters can read it (Mesos's `downgradeResources`); a resource with refined reservations
    has no such form and is kept as it is.
    """
    copy = mesos_pb2.SlaveInfo()
    copy.CopyFrom(info)
    pre = fmt is ResourceFormat.PRE_RESERVATION_REFINEMENT
    for resource in copy.resources:
        if pre and not resource.reservations and not resource.HasField("role"):
            # The common case, an unreserved resource: spare the general conversion.
            resource.role = "*"
            continue
        try:
            if pre and (resource.HasField("role") or resource.HasField("reservation")):
                # Already (partly) in the old format: normalise first, as Mesos's
                # conversion expects resources in the format it computes with.
                convert_resource_format(resource, ResourceFormat.POST_RESERVATION_REFINEMENT)
            convert_resource_format(resource, fmt)
        except ResourcesError:
            pass
    return copy


def _attributes_key(attributes: Iterable[Any]) -> list[bytes]:
    return sorted(a.SerializeToString(deterministic=True) for a in attributes)


def same_slave_info(left: Any, right: Any) -> bool:
    """`SlaveInfo` equality as Mesos defines it (`operator==` in `type_utils.cpp`).

    Hostname, resources (compared as `Resources`, so order and format do not matter),
    attributes (as a multiset), id, checkpoint, port and domain.
    """
    return (left.hostname == right.hostname
            and left.id.value == right.id.value
            and left.checkpoint == right.checkpoint
            and left.port == right.port
            and left.HasField("domain") == right.HasField("domain")
            and left.domain == right.domain
            and _attributes_key(left.attributes) == _attributes_key(right.attributes)
            and Resources(left.resources) == Resources(right.resources))


# ---------------------------------------------------------------------------------------
# Where each agent sits in the lists.


class _Positions:
    """The current position of every entry of one repeated field, by agent id.

    Every appended entry gets the next slot number; a Fenwick tree over the slots counts the
    live ones, so the position of an entry is the number of live slots before its own:
    O(log n) to find, append or delete, where a scan of the protobuf list is O(n) (and slow
    in Python). Slots of deleted entries are reclaimed by a rebuild once the slot space is
    used up, which keeps the cost amortised O(1) per append. An id listed twice (a registry
    written by hand) keeps its later slots in `_extra`, so deletions find them in turn, as
    Mesos's scans would.
    """

    __slots__ = ("_capacity", "_count", "_extra", "_next", "_owner", "_slot", "_tree")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._build(list(ids))

    def _build(self, ids: list[str]) -> None:
        count = len(ids)
        capacity = max(16, 2 * count)
        self._capacity = capacity
        self._count = count
        self._next = count
        self._owner: list[str | None] = [None] * capacity
        self._slot: dict[str, int] = {}
        self._extra: dict[str, list[int]] = {}
        tree = [0] * (capacity + 1)
        for slot, key in enumerate(ids):
            self._owner[slot] = key
            if key in self._slot:
                self._extra.setdefault(key, []).append(slot)
            else:
                self._slot[key] = slot
            tree[slot + 1] = 1
        # Linear-time Fenwick construction: push each node's sum to its parent.
        for i in range(1, capacity + 1):
            parent = i + (i & -i)
            if parent <= capacity:
                tree[parent] += tree[i]
        self._tree = tree

    def _add(self, slot: int, delta: int) -> None:
        tree = self._tree
        capacity = self._capacity
        i = slot + 1
        while i <= capacity:
            tree[i] += delta
            i += i & -i

    def _live_up_to(self, slot: int) -> int:
        """How many live slots there are in `[0, slot]`."""
        tree = self._tree
        total = 0
        i = slot + 1
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    def __contains__(self, key: object) -> bool:
        return key in self._slot

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        return iter(self._slot)

    def position(self, key: str) -> int | None:
        slot = self._slot.get(key)
        if slot is None:
            return None
        return self._live_up_to(slot) - 1

    def append(self, key: str) -> None:
        if self._next == self._capacity:
            live = [k for k in self._owner[:self._next] if k is not None]
            self._build(live)
        slot = self._next
        self._next += 1
        self._owner[slot] = key
        if key in self._slot:
            self._extra.setdefault(key, []).append(slot)
        else:
            self._slot[key] = slot
        self._count += 1
        self._add(slot, 1)

    def remove(self, key: str) -> int | None:
        """Forgets the first entry of `key`; its position before the removal, or None."""
        slot = self._slot.get(key)
        if slot is None:
            return None
        position = self._live_up_to(slot) - 1
        self._add(slot, -1)
        self._owner[slot] = None
        self._count -= 1
        extra = self._extra.get(key)
        if extra:
            self._slot[key] = extra.pop(0)
            if not extra:
                del self._extra[key]
        else:
            del self._slot[key]
        return position


def _entry_id(kind: str, entry: Any) -> str:
    return str(entry.info.id.value) if kind == SLAVES else str(entry.id.value)


def _field(registry: Any, kind: str) -> Any:
    """The repeated field of one agent list (`registry.slaves.slaves`, ...)."""
    return getattr(registry, kind).slaves


class RegistryIndex(Set[str]):
    """The admitted agent ids of one `Registry`, plus where every agent sits in its lists.

    As a set it is Mesos's `slaveIDs` accumulator (the ids in `registry.slaves`); it also
    keeps the positions of the entries of `slaves`, `unreachable` and `gone`, so operations
    find an agent in O(log n). Bound to the registry it was built from: every change to that
    registry's agent lists must go through the operations, which keep both in step. Not
    thread-safe: the Registrar uses it on its own thread only.
    """

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._lists = {kind: _Positions(_entry_id(kind, e) for e in _field(registry, kind))
                       for kind in _KINDS}

    def __contains__(self, key: object) -> bool:
        return key in self._lists[SLAVES]

    def __len__(self) -> int:
        return len(self._lists[SLAVES])

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists[SLAVES])

    def unreachable(self) -> Set[str]:
        """The ids in `registry.unreachable` (a live view)."""
        return _KeysView(self._lists[UNREACHABLE])

    def gone(self) -> Set[str]:
        """The ids in `registry.gone` (a live view)."""
        return _KeysView(self._lists[GONE])

    # The `_Lists` protocol the operations use.

    def contains(self, kind: str, key: str) -> bool:
        return key in self._lists[kind]

    def position(self, kind: str, key: str) -> int | None:
        return self._lists[kind].position(key)

    def appended(self, kind: str, key: str) -> None:
        self._lists[kind].append(key)

    def remove(self, kind: str, key: str) -> int | None:
        return self._lists[kind].remove(key)


class _KeysView(Set[str]):
    def __init__(self, positions: _Positions) -> None:
        self._positions = positions

    def __contains__(self, key: object) -> bool:
        return key in self._positions

    def __len__(self) -> int:
        return len(self._positions)

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)


class _ScanLists:
    """The `_Lists` protocol over a plain `set[str]` of admitted ids: linear scans, as Mesos."""

    def __init__(self, registry: Any, slave_ids: set[str]) -> None:
        self.registry = registry
        self.slave_ids = slave_ids

    def contains(self, kind: str, key: str) -> bool:
        if kind == SLAVES:
            return key in self.slave_ids
        return self.position(kind, key) is not None

    def position(self, kind: str, key: str) -> int | None:
        for i, entry in enumerate(_field(self.registry, kind)):
            if _entry_id(kind, entry) == key:
                return i
        return None

    def appended(self, kind: str, key: str) -> None:
        if kind == SLAVES:
            self.slave_ids.add(key)

    def remove(self, kind: str, key: str) -> int | None:
        position = self.position(kind, key)
        if kind == SLAVES and position is not None:
            self.slave_ids.discard(key)
        return position


def _lists(registry: Any, slave_ids: Any) -> RegistryIndex | _ScanLists:
    if isinstance(slave_ids, RegistryIndex):
        if slave_ids.registry is not registry:
            raise ValueError("The RegistryIndex was built over another Registry")
        return slave_ids
    return _ScanLists(registry, slave_ids)


def _delete(registry: Any, lists: RegistryIndex | _ScanLists, kind: str, key: str) -> Any:
    """Deletes the first entry of `key` from one list; the deleted entry (a copy) or None."""
    position = lists.remove(kind, key)
    if position is None:
        return None
    field = _field(registry, kind)
    entry = type(field[position])()
    entry.CopyFrom(field[position])
    del field[position]
    return entry


# ---------------------------------------------------------------------------------------
# The operations.


class RegistryOperation:
    """One change to the registry (port of `RegistryOperation`).

    `operation(registry, slave_ids)` edits `registry` in place and returns True if it changed
    it, False if there was nothing to change; it raises `RegistryOperationError` where Mesos
    returns an `Error`. Operations hold only their arguments, so one can be applied to
    several registries (tests do). Pure: runs on the caller's thread.
    """

    def __call__(self, registry: Any, slave_ids: set[str] | RegistryIndex) -> bool:
        return self.perform(registry, slave_ids)

    def perform(self, registry: Any, slave_ids: set[str] | RegistryIndex) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _SlaveInfoOperation(RegistryOperation):
    def __init__(self, info: Any) -> None:
        self.info = _check_info(info)
        self._slave_id = str(self.info.id.value)

    @property
    def slave_id(self) -> str:
        return self._slave_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.slave_id})"


class _StoringSlaveInfoOperation(_SlaveInfoOperation):
    """An operation that writes its `SlaveInfo` into the registry: the stored form (old
    resource format) is made once, by whoever builds the operation, not by the registrar."""

    def __init__(self, info: Any) -> None:
        super().__init__(info)
        self.stored_info = _converted(self.info, ResourceFormat.PRE_RESERVATION_REFINEMENT)


class AdmitSlave(_StoringSlaveInfoOperation):
    """Appends a new agent to `slaves` (port of `AdmitSlave`).

    Raises "Agent already admitted" for an id already in `slaves`.
    """

    def perform(self, registry: Any, slave_ids: set[str] | RegistryIndex) -> bool:
        lists = _lists(registry, slave_ids)
        key = self.slave_id
        # Only an id collision gets here: agent ids start with the master's random id.
        if lists.contains(SLAVES, key):
            raise RegistryOperationError("Agent already admitted")
        entry = _field(registry, SLAVES).add()
        entry.info.CopyFrom(self.stored_info)
        lists.appended(SLAVES, key)
        return True


class UpdateSlave(_StoringSlaveInfoOperation):
    """Replaces an admitted agent's `SlaveInfo` (port of `UpdateSlave`).

    Returns False (no mutation) when the stored info is equal to the new one in Mesos's
    sense; raises "Agent not yet admitted." for an agent not in `slaves`.
    """

    def perform(self, registry: Any, slave_ids: set[str] | RegistryIndex) -> bool:
        lists = _lists(registry, slave_ids)
        key = self.slave_id
        if not lists.contains(SLAVES, key):
            raise RegistryOperationError("Agent not yet admitted.")
        position = lists.position(SLAVES, key)
        if position is None:
            raise RegistryOperationError(f"Failed to find agent {key}")
        entry = _field(registry, SLAVES)[position]
        # The registry holds the old resource format; compare in the one Mesos computes with.
        previous = _converted(entry.info, ResourceFormat.POST_RESERVATION_REFINEMENT)
        wanted = _converted(self.info, ResourceFormat.POST_RESERVATION_REFINEMENT)
        if same_slave_info(wanted, previous):
            return False
        entry.info.CopyFrom(self.stored_info)
        return True


class MarkSlaveUnreachable(_SlaveInfoOperation):
    """Moves an admitted agent from `slaves` to the end of `unreachable` with a timestamp,
    keeping its drain info and deactivation (port of `MarkSlaveUnreachable`).

    Raises "Agent not yet admitted" for an agent not in `slaves` (also one already
    unreachable).
    """

    def __init__(self, info: Any, unreachable_time: Any) -> None:
        super().__init__(info)
        self.unreachable_time = time_info(unreachable_time)

    def perform(self, registry: Any, slave_ids: set[str] | RegistryIndex) -> bool:
        lists = _lists(registry, slave_ids)
        key = self.slave_id
        if not lists.contains(SLAVES, key):
            raise RegistryOperationError("Agent not yet admitted")
        removed = _delete(registry, lists, SLAVES, key)
        if removed is None:
            raise RegistryOperationError(f"Failed to find agent {key}")
        unreachable = _field(registry, UNREACHABLE).add()
        unreachable.id.CopyFrom(self.info.id)
        unreachable.timestamp.CopyFrom(self.unreachable_time)
        if removed.HasField("drain_info"):
            unreachable.drain_info.CopyFrom(removed.drain_info)
        unreachable.deactivated = removed.deactivated
        lists.appended(UNREACHABLE, key)
        return True


class MarkSlaveReachable(_StoringSlaveInfoOperation):
    """Puts an agent back in `slaves` (port of `MarkSlaveReachable`).

    An agent already admitted (it reregistered with a new leader before being marked
    unreachable) needs nothing: False. One in `unreachable` moves back, keeping its drain
    info and deactivation. One in neither list (its entry was garbage collected) is admitted
    all the same, with a warning. Never refuses.
    """

    def perform(self, registry: Any, slave_ids: set[str] | RegistryIndex) -> bool:
        lists = _lists(registry, slave_ids)
        key = self.slave_id
        if lists.contains(SLAVES, key):
            return False
        reachable = registry_pb2.Registry.Slave()
        reachable.info.CopyFrom(self.stored_info)
        removed = _delete(registry, lists, UNREACHABLE, key)
        if removed is None:
            log.warning("Allowing UNKNOWN agent %s (%s) to reregister", key,
                        self.info.hostname)
        else:
            if removed.HasField("drain_info"):
                reachable.drain_info.CopyFrom(removed.drain_info)
            reachable.deactivated = removed.deactivated
        _field(registry, SLAVES).add().CopyFrom(reachable)
        lists.appended(SLAVES, key)
        return True


class RemoveSlave(_SlaveInfoOperation):
    """Deletes an admitted agent from `slaves` (port of `RemoveSlave`).

    Raises "Agent not yet admitted" for an agent not in `slaves`.
    """

    def perform(self, registry: Any, slave_ids: set[str] | RegistryIndex) -> bool:
        lists = _lists(registry, slave_ids)
        if _delete(registry, lists, SLAVES, self.slave_id) is None:
            raise RegistryOperationError("Agent not yet admitted")
        return True


class MarkSlaveGone(RegistryOperation):
    """Moves an agent from `slaves` or `unreachable` to the end of `gone` with a timestamp
    (port of `MarkSlaveGone`).

    Raises "Agent <id> already marked as gone" for an agent in `gone`, and "Failed to find
    agent <id>" for one in neither list.
    """

    def __init__(self, slave_id: Any, gone_time: Any) -> None:
        self.slave_id = _slave_id(slave_id)
        if not self.slave_id:
            raise ValueError("MarkSlaveGone needs an agent id")
        self.gone_time = time_info(gone_time)

    def perform(self, registry: Any, slave_ids: set[str] | RegistryIndex) -> bool:
        lists = _lists(registry, slave_ids)
        key = self.slave_id
        if lists.contains(GONE, key):
            raise RegistryOperationError(f"Agent {key} already marked as gone")
        found = False
        if lists.contains(SLAVES, key):
            found = _delete(registry, lists, SLAVES, key) is not None
        if not found:
            found = _delete(registry, lists, UNREACHABLE, key) is not None
        if not found:
            raise RegistryOperationError(f"Failed to find agent {key}")
        gone = _field(registry, GONE).add()
        gone.id.value = key
        gone.timestamp.CopyFrom(self.gone_time)
        lists.appended(GONE, key)
        return True

    def __repr__(self) -> str:
        return f"MarkSlaveGone({self.slave_id})"


class Prune(RegistryOperation):
    """Garbage collects entries of `unreachable` and `gone` (port of `Prune`).

    Ids no longer listed are skipped (a concurrent operation may have moved them); True if
    anything was removed. Never refuses.
    """

    def __init__(self, to_remove_unreachable: Iterable[Any] = (),
                 to_remove_gone: Iterable[Any] = ()) -> None:
        self.to_remove_unreachable = frozenset(_slave_id(s) for s in to_remove_unreachable)
        self.to_remove_gone = frozenset(_slave_id(s) for s in to_remove_gone)

    def perform(self, registry: Any, slave_ids: set[str] | RegistryIndex) -> bool:
        lists = _lists(registry, slave_ids)
        if isinstance(lists, _ScanLists):
            # One pass per list, as Mesos; per-id scans would be quadratic.
            return (_filter_out(registry, UNREACHABLE, self.to_remove_unreachable)
                    | _filter_out(registry, GONE, self.to_remove_gone))
        mutated = False
        for kind, keys in ((UNREACHABLE, self.to_remove_unreachable),
                           (GONE, self.to_remove_gone)):
            field = _field(registry, kind)
            for key in keys:
                while (position := lists.remove(kind, key)) is not None:
                    del field[position]
                    mutated = True
        return mutated

    def __repr__(self) -> str:
        return (f"Prune({len(self.to_remove_unreachable)} unreachable, "
                f"{len(self.to_remove_gone)} gone)")


def _filter_out(registry: Any, kind: str, keys: frozenset[str]) -> bool:
    if not keys:
        return False
    field = _field(registry, kind)
    doomed = [i for i, e in enumerate(field) if _entry_id(kind, e) in keys]
    for position in reversed(doomed):
        del field[position]
    return bool(doomed)


# ---------------------------------------------------------------------------------------
# Registry garbage collection (the choice half of `Master::doRegistryGc`).


def select_for_gc(entries: Mapping[str, Any] | Iterable[tuple[str, Any]], now: Any,
                  max_agent_age: float, max_agent_count: int) -> set[str]:
    """The ids to prune from one list (unreachable or gone), as `Master::doRegistryGc`.

    `entries` are `(id, time)` pairs (or a mapping) in the list's order, oldest first; times
    and `now` are `TimeInfo`s or seconds. Walking the list, an entry goes while more than
    `max_agent_count` would be left, and any entry older than `max_agent_age` seconds goes
    too (the whole list is checked, so it need not be sorted).
    """
    items = list(entries.items()) if isinstance(entries, Mapping) else list(entries)
    now_ns = time_info(now).nanoseconds
    max_age_ns = round(max_agent_age * 1e9)
    count = len(items)
    chosen: set[str] = set()
    for key, when in items:
        key = _slave_id(key)
        if count - len(chosen) > max_agent_count:
            chosen.add(key)
            continue
        if now_ns - time_info(when).nanoseconds > max_age_ns:
            chosen.add(key)
    return chosen
