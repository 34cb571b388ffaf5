"""`LevelDBStorage`: the state API in a LevelDB directory (port of Mesos's LevelDBStorage).

The embedded default registry of a master without ZooKeeper: `registry_path(work_dir)` is
`<work_dir>/registry`. Each entry is stored under its name as a serialized
`mesos.internal.state.Entry` (Mesos's record format), written with `sync=True` so a stored
variable survives a machine crash. LevelDB lets one opener at a time hold a directory; a
second one (another master on the same `--work_dir`) is refused with `LevelDBLockedError`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import plyvel
from google.protobuf.message import DecodeError

from libprocess import Future
from mesos.state.storage import Entry, Storage, StorageError

__all__ = ["REGISTRY_DIRNAME", "LevelDBLockedError", "LevelDBStorage", "registry_path"]

# The registry's folder under the master's `--work_dir`.
REGISTRY_DIRNAME = "registry"


def registry_path(work_dir: str | os.PathLike[str]) -> Path:
    """Where a master keeps its LevelDB registry: `<work_dir>/registry`."""
    return Path(work_dir) / REGISTRY_DIRNAME


class LevelDBLockedError(StorageError):
    """The directory is held by another opener (another master, or this one twice)."""


class LevelDBStorage(Storage):
    """Entries in a LevelDB database at `path` (created if missing); any thread may call it.

    Calls run synchronously on the caller's thread under a lock and return completed
    futures: the read-compare-write of `set`/`expunge` is atomic because this object is the
    only writer (LevelDB's lock guarantees no other process writes). Opening raises
    `LevelDBLockedError` when the directory is locked, `StorageError` for other failures.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db: plyvel.DB | None = plyvel.DB(str(self.path), create_if_missing=True)
        except plyvel.IOError as e:
            reason = _reason(e)
            if "lock" in reason.lower():
                raise LevelDBLockedError(
                    f"LevelDB at {self.path} is locked by another process (is another master "
                    f"running?): {reason}") from e
            raise StorageError(f"Failed to open LevelDB at {self.path}: {reason}") from e
        except (plyvel.Error, OSError) as e:
            raise StorageError(f"Failed to open LevelDB at {self.path}: {_reason(e)}") from e
        # As Mesos does, compact on open so recovery does not replay a long log next time.
        self._db.compact_range()

    def _read(self, db: plyvel.DB, name: str) -> Entry | None:
        data = db.get(name.encode("utf-8"))
        if data is None:
            return None
        entry = Entry()
        try:
            entry.ParseFromString(data)
        except DecodeError as e:
            raise StorageError(f"Failed to deserialize Entry '{name}' in LevelDB at "
                               f"{self.path}: {e}") from e
        return entry

    def _opened(self) -> plyvel.DB:
        if self._db is None:
            raise StorageError(f"LevelDB storage at {self.path} is closed")
        return self._db

    def get(self, name: str) -> Future[Entry | None]:
        try:
            with self._lock:
                return Future.ready(self._read(self._opened(), name))
        except (StorageError, plyvel.Error) as e:
            return Future.failed(_reason(e), e)

    def set(self, entry: Entry, uuid: bytes) -> Future[bool]:
        try:
            with self._lock:
                db = self._opened()
                current = self._read(db, entry.name)
                if current is not None and current.uuid != uuid:
                    return Future.ready(False)
                db.put(entry.name.encode("utf-8"), entry.SerializeToString(), sync=True)
                return Future.ready(True)
        except (StorageError, plyvel.Error) as e:
            return Future.failed(_reason(e), e)

    def expunge(self, entry: Entry) -> Future[bool]:
        try:
            with self._lock:
                db = self._opened()
                current = self._read(db, entry.name)
                if current is None or current.uuid != entry.uuid:
                    return Future.ready(False)
                db.delete(entry.name.encode("utf-8"), sync=True)
                return Future.ready(True)
        except (StorageError, plyvel.Error) as e:
            return Future.failed(_reason(e), e)

    def names(self) -> Future[list[str]]:
        try:
            with self._lock:
                db = self._opened()
                return Future.ready(sorted(key.decode("utf-8", "replace")
                                           for key in db.iterator(include_value=False)))
        except (StorageError, plyvel.Error) as e:
            return Future.failed(_reason(e), e)

    def close(self) -> None:
        """Closes the database and releases its lock; later calls fail."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"<LevelDBStorage {self.path}{' closed' if self._db is None else ''}>"


def _reason(error: BaseException) -> str:
    # plyvel's errors carry LevelDB's status as bytes.
    if error.args and isinstance(error.args[0], bytes):
        return error.args[0].decode("utf-8", "replace")
    return str(error)
