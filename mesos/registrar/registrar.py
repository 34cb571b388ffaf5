"""The Registrar: the master's durable record of which agents exist.

Port of `src/master/registrar.{hpp,cpp}`. `Registrar(options, state)` is the facade the master
holds; it spawns a `RegistrarProcess` (`registrar(N)`) that owns the `mesos.internal.Registry`,
stored as the one state variable `registry`, and every public method is one `dispatch` to it.

- `recover(master_info)` fetches the registry (within `registry_fetch_timeout`), then stores
  it with the new leader's `MasterInfo` (within `registry_store_timeout`); its future is the
  recovered `Registry`. Operations applied earlier wait for it.
- `apply(operation)` queues a registry operation (see `operations.py`). Operations queued
  while a store is in flight are applied together and written in ONE store; one store is in
  flight at a time. Each operation's future is set once its batch is stored: True, or False
  if the operation was refused (admitting an agent twice, ...), as Mesos's
  `RegistryOperation::set()`.
- A store that fails, times out or meets a version conflict aborts the registrar: that batch,
  every queued operation and every later one fail. The master treats that as fatal.

Metrics: `registrar/state_fetch_ms`, `registrar/state_store_ms` (timers, milliseconds of clock
time), `registrar/queued_operations`, `registrar/registry_size_bytes` (pull gauges). Endpoint:
`/registrar(N)/registry`, the stored registry as Mesos JSON.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, EncodeError

from libprocess import (
    ID,
    OK,
    Future,
    Process,
    Promise,
    Request,
    Response,
    clock,
    defer,
    dispatch,
    metrics,
    spawn,
    terminate,
    wait,
)
from mesos.common.durations import format_duration
from mesos.common.json_model import to_mesos_json
from mesos.protos.master import registry_pb2
from mesos.protos.mesos import mesos_pb2
from mesos.registrar.operations import RegistryIndex, RegistryOperation, RegistryOperationError

__all__ = ["REGISTRY_VARIABLE", "Recover", "Registrar", "RegistrarOptions", "RegistrarProcess"]

log = logging.getLogger(__name__)

# The name of the one state variable that holds the registry.
REGISTRY_VARIABLE = "registry"

_DAY = 24 * 60 * 60.0


@dataclass(frozen=True)
class RegistrarOptions:
    """The master flags the registrar (and the master's registry GC) reads, with Mesos's
    defaults: `--registry_fetch_timeout`, `--registry_store_timeout` (seconds),
    `--registry_max_agent_age` (seconds) and `--registry_max_agent_count`."""

    registry_fetch_timeout: float = 60.0
    registry_store_timeout: float = 20.0
    registry_max_agent_age: float = 14 * _DAY
    registry_max_agent_count: int = 100 * 1024

    @classmethod
    def from_flags(cls, flags: Any) -> RegistrarOptions:
        """The options of a flags object carrying those Mesos flags (missing ones default)."""
        defaults = cls()
        return cls(**{name: getattr(flags, name, getattr(defaults, name))
                      for name in cls.__dataclass_fields__})


class Recover(RegistryOperation):
    """Records the new leader's `MasterInfo` in the registry (the registrar's private
    `Recover` operation); always a mutation."""

    def __init__(self, info: Any) -> None:
        self.info = mesos_pb2.MasterInfo()
        self.info.CopyFrom(info)

    def perform(self, registry: Any, slave_ids: Any) -> bool:
        registry.master.info.CopyFrom(self.info)
        return True

    def __repr__(self) -> str:
        return f"Recover({self.info.id})"


def _describe(future: Future[Any]) -> str:
    return future.failure if future.is_failed() else "discarded"


def _fail_all(pending: deque[Any] | list[Any], message: str) -> None:
    """Fails (and forgets) every `(operation, promise)` of `pending`, in order."""
    entries = list(pending)
    pending.clear()
    for _, promise in entries:
        promise.fail(message)


class RegistrarProcess(Process):
    """The process `registrar(N)`: owns the registry, its index and the operation queue.

    Everything here runs on this process's thread. The live registry (`_registry`) already
    holds the operations of the batch being stored; `_variable` is the last stored version
    (what the endpoint and `registry_size_bytes` show). After a failed store the live
    registry is never used again: the registrar is aborted for good.
    """

    def __init__(self, options: RegistrarOptions, state: Any) -> None:
        super().__init__(ID.generate("registrar"))
        self.options = options
        self.state = state
        self._variable: Any = None
        self._registry: Any = None
        self._index: RegistryIndex | None = None
        # Operations waiting for the next store, and those waiting for recovery.
        self._operations: deque[tuple[RegistryOperation, Promise[bool]]] = deque()
        self._gated: list[tuple[RegistryOperation, Promise[bool]]] = []
        self._in_flight: list[tuple[RegistryOperation, Promise[bool]]] = []
        # True while fetching (recovering) or storing.
        self._updating = False
        self._recovered: Promise[Any] | None = None
        self._error: str | None = None
        self._fetch_started = 0.0
        self._store_started = 0.0

        self.metrics_state_fetch = metrics.Timer("registrar/state_fetch_ms")
        self.metrics_state_store = metrics.Timer("registrar/state_store_ms",
                                                 window=10_000)
        self.metrics_queued_operations = metrics.PullGauge(
            "registrar/queued_operations", self._queued_operations, self)
        self.metrics_registry_size_bytes = metrics.PullGauge(
            "registrar/registry_size_bytes", self._registry_size_bytes, self)
        self._metrics = (self.metrics_state_fetch, self.metrics_state_store,
                         self.metrics_queued_operations, self.metrics_registry_size_bytes)

    # Hooks.

    def initialize(self) -> None:
        self.route("/registry", self.get_registry,
                   "Returns the current contents of the Registry in JSON.")
        for metric in self._metrics:
            metrics.add(metric)

    def finalize(self) -> None:
        for metric in self._metrics:
            # Another registrar of this OS process may have registered the same names since.
            if metrics.get(metric.name) is metric:
                metrics.remove(metric)
        # Nobody waits forever on a registrar that is gone.
        message = "Registrar terminated"
        if self._recovered is not None:
            self._recovered.fail(message)
        _fail_all(self._in_flight, message)
        _fail_all(self._operations, message)
        _fail_all(self._gated, message)

    # Pull gauges.

    def _queued_operations(self) -> float:
        return float(len(self._operations))

    def _registry_size_bytes(self) -> float:
        if self._variable is None:
            raise RuntimeError("Not recovered yet")
        return float(len(self._variable.value))

    # HTTP: `/registrar(N)/registry`.

    def get_registry(self, request: Request) -> Response:
        result = to_mesos_json(self.registry()) if self._variable is not None else {}
        callback = request.query.get("jsonp")
        if callback:
            return OK(f"{callback}({json.dumps(result)});", "text/javascript")
        return OK(result)

    def registry(self) -> Any:
        """The last stored registry (a copy); an empty one before it was fetched."""
        registry = registry_pb2.Registry()
        if self._variable is not None:
            registry.ParseFromString(self._variable.value)
        return registry

    # Recovery.

    def recover(self, info: Any) -> Future[Any]:
        """Fetches the registry, then stores it with `info` as the leader; a future of it."""
        if self._recovered is None:
            log.info("Recovering registrar")
            self._recovered = Promise()
            self._updating = True
            self._fetch_started = clock.now()
            timeout = self.options.registry_fetch_timeout
            self.state.fetch(REGISTRY_VARIABLE) \
                .after(timeout, lambda f: Future.failed(
                    f"Failed to perform fetch within {format_duration(timeout)}")) \
                .on_any(defer(self, self._recover, info))
        return self._recovered.future

    def _recover(self, info: Any, recovery: Future[Any]) -> None:
        assert self._recovered is not None
        self._updating = False
        if not recovery.is_ready():
            self._fail_recovery(f"Failed to recover registrar: {_describe(recovery)}")
            return

        variable = recovery.value
        registry = registry_pb2.Registry()
        try:
            registry.ParseFromString(variable.value)
            missing = registry.FindInitializationErrors()
            if missing:
                raise DecodeError(f"missing required fields: {', '.join(missing)}")
        except DecodeError as e:
            # The stored value is left as it is: an operator (or a newer master) may need it.
            self._fail_recovery(
                f"Failed to recover registrar: the stored '{REGISTRY_VARIABLE}' "
                f"({len(variable.value)} bytes) is not a valid mesos.internal.Registry: {e}")
            return

        elapsed = clock.now() - self._fetch_started
        self.metrics_state_fetch.record(elapsed * 1000.0)
        log.info("Successfully fetched the registry (%d bytes) in %s", len(variable.value),
                 format_duration(elapsed))

        self._variable = variable
        self._registry = registry
        self._index = RegistryIndex(registry)

        # Persist the new leader before anything else.
        promise: Promise[bool] = Promise()
        promise.future.on_any(defer(self, self._recovered_master_info))
        self._operations.append((Recover(info), promise))
        self._update()

    def _recovered_master_info(self, recover: Future[bool]) -> None:
        assert self._recovered is not None
        if not recover.is_ready():
            self._fail_recovery("Failed to recover registrar: Failed to persist MasterInfo: "
                                f"{_describe(recover)}")
            return
        if not recover.value:
            self._fail_recovery("Failed to recover registrar: Failed to persist MasterInfo: "
                                "version mismatch")
            return
        log.info("Successfully recovered registrar")
        self._recovered.set(self.registry())
        # Operations applied during recovery go next, in the order they came.
        gated, self._gated = self._gated, []
        for operation, promise in gated:
            self._apply(operation, promise)

    def _fail_recovery(self, message: str) -> None:
        assert self._recovered is not None
        log.error("%s", message)
        self._recovered.fail(message)
        _fail_all(self._gated, message)

    # Operations.

    def apply(self, operation: RegistryOperation) -> Future[bool]:
        """Queues `operation`; a future of True (applied) or False (refused) once stored."""
        if self._recovered is None:
            return Future.failed("Attempted to apply the operation before recovering")
        recovered = self._recovered.future
        if recovered.is_failed():
            return Future.failed(recovered.failure)
        promise: Promise[bool] = Promise()
        if recovered.is_pending():
            self._gated.append((operation, promise))
        else:
            self._apply(operation, promise)
        return promise.future

    def _apply(self, operation: RegistryOperation, promise: Promise[bool]) -> None:
        if self._error is not None:
            promise.fail(self._error)
            return
        self._operations.append((operation, promise))
        if not self._updating:
            self._update()

    def _update(self) -> None:
        """Applies every queued operation to the registry and stores it once."""
        if not self._operations:
            return
        assert not self._updating and self._error is None
        assert self._registry is not None and self._index is not None
        self._updating = True

        started = clock.now()
        applied = list(self._operations)
        self._operations.clear()
        results: list[bool] = []
        for operation, _ in applied:
            try:
                operation(self._registry, self._index)
                results.append(True)
            except RegistryOperationError as e:
                log.warning("Registry operation %r refused: %s", operation, e)
                results.append(False)
            except Exception:
                # A broken operation is refused rather than taking the registrar down.
                log.exception("Registry operation %r raised", operation)
                results.append(False)
        log.info("Applied %d operations in %s; attempting to update the registry",
                 len(applied), format_duration(clock.now() - started))

        self._in_flight = applied
        self._store_started = clock.now()
        try:
            serialized = self._registry.SerializeToString()
        except EncodeError as e:
            message = f"Failed to update registry: {e}"
            self._in_flight = []
            _fail_all(applied, message)
            self._abort(message)
            return

        timeout = self.options.registry_store_timeout
        self.state.store(self._variable.mutate(serialized)) \
            .after(timeout, lambda f: Future.failed(
                f"Failed to perform store within {format_duration(timeout)}")) \
            .on_any(defer(self, self._updated, applied, results))

    def _updated(self, applied: list[tuple[RegistryOperation, Promise[bool]]],
                 results: list[bool], store: Future[Any]) -> None:
        self._updating = False
        self._in_flight = []
        if not store.is_ready() or store.value is None:
            reason = "version mismatch" if store.is_ready() else _describe(store)
            message = f"Failed to update registry: {reason}"
            _fail_all(applied, message)
            self._abort(message)
            return

        elapsed = clock.now() - self._store_started
        self.metrics_state_store.record(elapsed * 1000.0)
        log.info("Successfully updated the registry in %s", format_duration(elapsed))

        self._variable = store.value
        for (_, promise), result in zip(applied, results, strict=True):
            promise.set(result)

        if self._operations:
            self._update()

    def _abort(self, message: str) -> None:
        """Fails every queued operation and every later one: no more storage writes."""
        self._error = message
        log.error("Registrar aborting: %s", message)
        _fail_all(self._operations, message)


class Registrar:
    """The master's handle on the registrar (port of `Registrar`).

    Spawns `RegistrarProcess` on construction; each method dispatches to it and returns a
    future, so any thread may call it. `close()` terminates the process (pending futures
    fail).
    """

    def __init__(self, options: RegistrarOptions | None, state: Any) -> None:
        self.process = RegistrarProcess(options or RegistrarOptions(), state)
        spawn(self.process)

    @property
    def pid(self) -> Any:
        return self.process.upid

    def recover(self, info: Any) -> Future[Any]:
        """Recovers the registry, persisting `info` (the new leader); a future of it."""
        return dispatch(self.process, self.process.recover, info)

    def apply(self, operation: RegistryOperation) -> Future[bool]:
        """Applies `operation`: True if done, False if refused; fails if the registrar
        is not recovered or was aborted by a storage failure."""
        return dispatch(self.process, self.process.apply, operation)

    def registry(self) -> Future[Any]:
        """A future of the last stored `Registry` (empty before recovery fetched it)."""
        return dispatch(self.process, self.process.registry)

    def close(self, timeout: float | None = 10.0) -> None:
        """Terminates the registrar process and waits for it (real time)."""
        terminate(self.process)
        wait(self.process, timeout)
