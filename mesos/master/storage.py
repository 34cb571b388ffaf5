"""What a master is made of besides itself: its registry storage and registrar, its
contender and its detector, built from its flags (port of the wiring in
`src/master/main.cpp`).

- `create_storage(flags)`: the state storage `--registry` names (`registry_backend`):
  `InMemoryStorage`, `LevelDBStorage` at `<work_dir>/registry` (raising `LevelDBLockedError`
  when another master holds it) or `ZooKeeperStorage` under `<zk path>/state`.
- `create_registrar(flags, storage)`: the `Registrar` over that storage, with the
  `--registry_*` timeouts.
- `create_contender(flags)` / `create_detector(flags)`: ZooKeeper ones with `--zk`, else the
  standalone ones (the master then appoints itself, as Mesos's `main.cpp` does).

Plain functions run on the caller's thread; the objects they return spawn their own
processes.
"""

from __future__ import annotations

from typing import Any

from mesos.detector import create_master_contender, create_master_detector
from mesos.master.flags import check_registry, registry_backend
from mesos.registrar import Registrar, RegistrarOptions
from mesos.state import InMemoryStorage, State, StorageError

__all__ = ["create_contender", "create_detector", "create_registrar", "create_storage"]


def create_storage(flags: Any) -> Any:
    """The registry storage of `flags`; raises `StorageError` (`LevelDBLockedError` for a
    LevelDB directory another master holds) or `ValueError` for flags that cannot work."""
    error = check_registry(flags)
    if error is not None:
        raise ValueError(error)
    backend = registry_backend(flags)
    if backend == "in_memory":
        return InMemoryStorage()
    if backend == "leveldb":
        from mesos.state.leveldb import LevelDBStorage, registry_path

        return LevelDBStorage(registry_path(flags.work_dir))
    if backend == "zookeeper":
        from mesos.state.zookeeper import ZooKeeperStorage
        from mesos.zookeeper.url import URLError, parse_flag

        try:
            url = parse_flag(flags.zk)
        except URLError as e:
            raise ValueError(str(e)) from None
        return ZooKeeperStorage.from_url(url, flags.zk_session_timeout)
    raise StorageError(f"Unsupported registry '{backend}'")


def create_registrar(flags: Any, storage: Any) -> Registrar:
    """The registrar (a spawned `registrar(N)` process) over `storage`."""
    return Registrar(RegistrarOptions.from_flags(flags), State(storage))


def create_contender(flags: Any) -> Any:
    """The master's contender: ZooKeeper with `--zk`, standalone otherwise."""
    return create_master_contender(flags.zk, flags.zk_session_timeout)


def create_detector(flags: Any) -> Any:
    """The master's detector: ZooKeeper with `--zk`, standalone (nobody appointed yet)
    otherwise."""
    return create_master_detector(flags.zk, flags.zk_session_timeout)
