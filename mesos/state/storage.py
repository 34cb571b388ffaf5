"""The state API: versioned compare-and-set variables over a pluggable `Storage`.

Port of Mesos's `include/mesos/state/{storage,state}.hpp`. A `Storage` keeps
`mesos.internal.state.Entry{name, uuid, value}` records and swaps one only when the caller names
the uuid currently stored; `State` wraps it in immutable `Variable`s: `fetch(name)` gives the
stored variable (or an empty one with a fresh uuid), `store(variable)` writes it under a new
uuid if nobody wrote since the fetch (None otherwise: a version conflict), `expunge`, `names`.

Every call returns a `libprocess.Future`. In-memory and LevelDB storages complete it before
returning, on the caller's thread; the ZooKeeper storage completes it later on its own
process's thread. Callers that touch actor state in a callback wrap it with `defer`.
"""

from __future__ import annotations

import abc
import uuid as _uuid

from libprocess import Future
from mesos.protos.mesos.state.state_pb2 import Entry

__all__ = ["Entry", "State", "Storage", "StorageError", "Variable", "random_uuid"]


class StorageError(RuntimeError):
    """A storage that cannot be opened or used (the message says why, for a person)."""


def random_uuid() -> bytes:
    """16 random bytes, as Mesos's `UUID::random().toBytes()`."""
    return _uuid.uuid4().bytes


class Storage(abc.ABC):
    """Versioned entries by name. Thread-safe; every method returns a `Future`.

    Semantics (the same for every backend, as in Mesos):
    - `get(name)`: the stored `Entry`, or None if there is none.
    - `set(entry, uuid)`: stores `entry` (which carries its new uuid) if the stored entry's uuid
      is `uuid`, or if nothing is stored under `entry.name` yet; True if stored, False if the
      stored uuid differs (somebody else wrote first).
    - `expunge(entry)`: deletes the stored entry if its uuid is `entry.uuid`; False if nothing is
      stored or the uuid differs.
    - `names()`: the stored names, sorted.
    A failed future means the storage itself failed (I/O, a corrupt record, a closed storage).
    """

    @abc.abstractmethod
    def get(self, name: str) -> Future[Entry | None]: ...

    @abc.abstractmethod
    def set(self, entry: Entry, uuid: bytes) -> Future[bool]: ...

    @abc.abstractmethod
    def expunge(self, entry: Entry) -> Future[bool]: ...

    @abc.abstractmethod
    def names(self) -> Future[list[str]]: ...

    def close(self) -> None:  # noqa: B027 (a no-op by default, not abstract).
        """Releases the storage (files, locks, sessions); later calls fail."""


class Variable:
    """One immutable named value with the uuid of the version it was read at.

    Made by `State.fetch` / `State.store`; `mutate(value)` gives a new variable with the same
    version, to hand back to `State.store`. A plain value: safe to share between threads.
    """

    __slots__ = ("_name", "_uuid", "_value")

    def __init__(self, name: str, uuid: bytes, value: bytes) -> None:
        self._name = name
        self._uuid = uuid
        self._value = value

    @property
    def name(self) -> str:
        return self._name

    @property
    def value(self) -> bytes:
        return self._value

    @property
    def uuid(self) -> bytes:
        """The version this variable was fetched or stored at."""
        return self._uuid

    def mutate(self, value: bytes) -> Variable:
        """The same variable (same version) holding `value`."""
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"A variable holds bytes, not {type(value).__name__}")
        return Variable(self._name, self._uuid, bytes(value))

    def entry(self) -> Entry:
        return Entry(name=self._name, uuid=self._uuid, value=self._value)

    @staticmethod
    def from_entry(entry: Entry) -> Variable:
        return Variable(entry.name, entry.uuid, entry.value)

    def __repr__(self) -> str:
        return (f"<Variable {self._name!r} {_uuid.UUID(bytes=self._uuid)} "
                f"{len(self._value)} bytes>")


class State:
    """Variables over a `Storage` (port of `mesos::state::State`); holds no state of its own.

    Thread-safe; futures complete on the storage's thread (see the module docstring).
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def fetch(self, name: str) -> Future[Variable]:
        """The stored variable, or a new empty one (random uuid, empty value) if none."""

        def fetched(entry: Entry | None) -> Variable:
            if entry is not None:
                return Variable.from_entry(entry)
            return Variable(name, random_uuid(), b"")

        return self.storage.get(name).then(fetched)

    def store(self, variable: Variable) -> Future[Variable | None]:
        """Writes `variable` under a new uuid if its version is still the stored one.

        The new variable on success; None on a version conflict (somebody stored or expunged
        since `variable` was fetched). As in Mesos, an unchanged value is written too.
        """
        entry = Entry(name=variable.name, uuid=random_uuid(), value=variable.value)

        def swapped(stored: bool) -> Variable | None:
            return Variable.from_entry(entry) if stored else None

        return self.storage.set(entry, variable.uuid).then(swapped)

    def expunge(self, variable: Variable) -> Future[bool]:
        """Deletes the variable if its version is still the stored one; True if deleted."""
        return self.storage.expunge(variable.entry())

    def names(self) -> Future[list[str]]:
        """The names of the stored variables, sorted."""
        return self.storage.names()
