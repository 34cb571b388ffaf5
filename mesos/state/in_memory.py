"""`InMemoryStorage`: the state API in a dict (port of `mesos::state::InMemoryStorage`).

For tests and `--registry=in_memory`: nothing survives the OS process.
"""

from __future__ import annotations

import threading

from libprocess import Future
from mesos.state.storage import Entry, Storage

__all__ = ["InMemoryStorage"]


class InMemoryStorage(Storage):
    """Entries in a dict guarded by a lock; any thread may call it.

    Each call runs on the caller's thread and returns a completed future, so the
    compare-and-set is atomic under the lock (Mesos gets the same from its one process).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # name -> (uuid, value): plain bytes, so callers never share a mutable message.
        self._entries: dict[str, tuple[bytes, bytes]] = {}

    def get(self, name: str) -> Future[Entry | None]:
        with self._lock:
            stored = self._entries.get(name)
        if stored is None:
            return Future.ready(None)
        return Future.ready(Entry(name=name, uuid=stored[0], value=stored[1]))

    def set(self, entry: Entry, uuid: bytes) -> Future[bool]:
        with self._lock:
            stored = self._entries.get(entry.name)
            if stored is not None and stored[0] != uuid:
                return Future.ready(False)
            self._entries[entry.name] = (entry.uuid, entry.value)
        return Future.ready(True)

    def expunge(self, entry: Entry) -> Future[bool]:
        with self._lock:
            stored = self._entries.get(entry.name)
            if stored is None or stored[0] != entry.uuid:
                return Future.ready(False)
            del self._entries[entry.name]
        return Future.ready(True)

    def names(self) -> Future[list[str]]:
        with self._lock:
            return Future.ready(sorted(self._entries))
