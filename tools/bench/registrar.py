"""Throughput of the Registrar's `apply` on each state storage backend.

Usage: `.venv/bin/python tools/bench/registrar.py [--agents N] [--sequential-agents N]
[--backends in_memory,leveldb,zookeeper] [--seed N]`

As Mesos's `Registrar_BENCHMARK_Test.Performance`: a registrar recovers an empty registry,
then AdmitSlave of `--agents` agents (each `cpus:1;mem:512;disk:2048` plus 2 attributes),
then MarkSlaveReachable of all of them in a random order (the re-registrations after a
failover, which find the agents already admitted). Two ways of applying:

- `batched`: every operation applied at once, then all the futures awaited, so the registrar
  writes the operations queued behind each store in one store (what the master does when
  many agents register at once);
- `one at a time`: each operation awaited before the next is applied, one store each (for
  `--sequential-agents` agents, since every store writes the whole registry).

For each backend and way, prints operations/s of each phase, the number of stores, and the
size of the final registry. The ZooKeeper backend needs `mesos/state/zookeeper.py` and a
ZooKeeper server from `mesos/zookeeper/server.py`; it is skipped with a message otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import libprocess
from mesos.common.attributes import parse_attributes
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2
from mesos.registrar import AdmitSlave, MarkSlaveReachable, Registrar, RegistrarOptions
from mesos.state.storage import State, Storage

TIMEOUT = 600.0


def agent_infos(count: int) -> list[Any]:
    resources = list(Resources.parse("cpus:1;mem:512;disk:2048"))
    infos = []
    for n in range(count):
        info = mesos_pb2.SlaveInfo(hostname=f"agent-{n:05d}.example.com", port=5051)
        info.id.value = f"20240101-000000-16777343-5050-1234-S{n}"
        info.resources.extend(resources)
        info.attributes.extend(parse_attributes(f"rack:r{n % 40};zone:z{n % 3}"))
        infos.append(info)
    return infos


def master_info() -> Any:
    return mesos_pb2.MasterInfo(id="bench-master", ip=0x0100007F, port=5050,
                                hostname="localhost", pid="master@127.0.0.1:5050")


def stores_of(registrar: Registrar) -> int:
    values = registrar.process.metrics_state_store.values()
    return int(values.get("registrar/state_store_ms/count", 0))


def run_phase(registrar: Registrar, operations: list[Any], batched: bool) -> tuple[float, int]:
    """Applies `operations`; (operations per second, stores written)."""
    before = stores_of(registrar)
    started = time.perf_counter()
    if batched:
        futures = [registrar.apply(op) for op in operations]
        results = libprocess.collect(futures).get(TIMEOUT)
    else:
        results = [registrar.apply(op).get(TIMEOUT) for op in operations]
    elapsed = time.perf_counter() - started
    if not all(isinstance(r, bool) for r in results):
        raise RuntimeError("An operation did not resolve to a bool")
    return len(operations) / elapsed, stores_of(registrar) - before


def bench(name: str, storage: Storage, count: int, batched: bool, seed: int) -> None:
    infos = agent_infos(count)
    registrar = Registrar(RegistrarOptions(registry_store_timeout=TIMEOUT,
                                           registry_fetch_timeout=TIMEOUT), State(storage))
    try:
        registrar.recover(master_info()).get(TIMEOUT)
        admit_rate, admit_stores = run_phase(registrar, [AdmitSlave(i) for i in infos],
                                             batched)
        order = list(infos)
        random.Random(seed).shuffle(order)
        reach_rate, reach_stores = run_phase(
            registrar, [MarkSlaveReachable(i) for i in order], batched)
        registry = registrar.registry().get(TIMEOUT)
        if len(registry.slaves.slaves) != count:
            raise RuntimeError(f"{name}: expected {count} agents, the registry has "
                               f"{len(registry.slaves.slaves)}")
        size = registry.ByteSize()
    finally:
        registrar.close()
    mode = "batched" if batched else "one at a time"
    print(f"{name:<10} {mode:<14} {count:>7,d} agents  "
          f"AdmitSlave {admit_rate:>9,.0f} ops/s ({admit_stores:>5d} stores)  "
          f"MarkSlaveReachable {reach_rate:>9,.0f} ops/s ({reach_stores:>5d} stores)  "
          f"registry {size / 1e6:.2f} MB", flush=True)


@contextlib.contextmanager
def in_memory_storage() -> Iterator[Storage]:
    from mesos.state.in_memory import InMemoryStorage

    yield InMemoryStorage()


@contextlib.contextmanager
def leveldb_storage() -> Iterator[Storage]:
    from mesos.state.leveldb import LevelDBStorage

    with tempfile.TemporaryDirectory(prefix="bench-registrar-") as work_dir:
        storage = LevelDBStorage(Path(work_dir) / "registry")
        try:
            yield storage
        finally:
            storage.close()


class Skip(Exception):
    """A backend that cannot run here; the message says why."""


@contextlib.contextmanager
def zookeeper_storage() -> Iterator[Storage]:
    try:
        from mesos.state.zookeeper import ZooKeeperStorage
        from mesos.zookeeper.server import ZooKeeperError, ZooKeeperServer, is_installed
    except ImportError as e:
        raise Skip(f"the ZooKeeper storage is not available ({e})") from e
    if not is_installed():
        raise Skip("no ZooKeeper server installed (`tools/zk` installs one)")
    with tempfile.TemporaryDirectory(prefix="bench-registrar-zk-") as base:
        server = ZooKeeperServer(base)
        try:
            server.start()
        except ZooKeeperError as e:
            server.close()
            raise Skip(f"the ZooKeeper server did not start ({e})") from e
        try:
            storage = ZooKeeperStorage(server.connect_string, 10.0, "/mesos/state")
            try:
                yield storage
            finally:
                storage.close()
        finally:
            server.close()


BACKENDS: dict[str, Callable[[], contextlib.AbstractContextManager[Storage]]] = {
    "in_memory": in_memory_storage,
    "leveldb": leveldb_storage,
    "zookeeper": zookeeper_storage,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000,
                        help="agents of the batched runs (default 10,000)")
    parser.add_argument("--sequential-agents", type=int, default=1_000,
                        help="agents of the one-at-a-time runs (default 1,000; 0 to skip)")
    parser.add_argument("--backends", default="in_memory,leveldb,zookeeper",
                        help="comma-separated backends (default all three)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    libprocess.initialize()
    try:
        for name in args.backends.split(","):
            if name not in BACKENDS:
                parser.error(f"unknown backend '{name}' (expected one of "
                             f"{', '.join(BACKENDS)})")
            runs = [(args.agents, True)]
            if args.sequential_agents > 0:
                runs.append((args.sequential_agents, False))
            for count, batched in runs:
                try:
                    with BACKENDS[name]() as storage:
                        bench(name, storage, count, batched, args.seed)
                except Skip as e:
                    print(f"{name:<10} skipped: {e}", flush=True)
                    break
    finally:
        libprocess.finalize()
    return 0


if __name__ == "__main__":
    sys.exit(main())
