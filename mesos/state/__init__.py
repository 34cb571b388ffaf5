"""Versioned compare-and-set state storage (port of Mesos's `mesos::state`).

`State(storage)` gives immutable `Variable`s: `fetch(name)`, `store(variable)` (None on a
version conflict), `expunge(variable)`, `names()`, all returning `libprocess.Future`s. Three
storages behind one interface: `InMemoryStorage`, `LevelDBStorage` (a directory; one opener at
a time) and `ZooKeeperStorage` (kazoo; values of any size, written atomically). The backends
are imported lazily so that importing `mesos.state` loads neither plyvel nor kazoo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mesos.state.in_memory import InMemoryStorage
from mesos.state.storage import Entry, State, Storage, StorageError, Variable, random_uuid

if TYPE_CHECKING:
    from mesos.state.leveldb import LevelDBLockedError, LevelDBStorage
    from mesos.state.zookeeper import ZooKeeperStorage

__all__ = [
    "Entry",
    "InMemoryStorage",
    "LevelDBLockedError",
    "LevelDBStorage",
    "State",
    "Storage",
    "StorageError",
    "Variable",
    "ZooKeeperStorage",
    "random_uuid",
]

_LAZY = {
    "LevelDBStorage": "mesos.state.leveldb",
    "LevelDBLockedError": "mesos.state.leveldb",
    "ZooKeeperStorage": "mesos.state.zookeeper",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mesos.state' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
