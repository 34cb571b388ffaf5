"""The allocator interface: options, the offer callback and the actor facade.

Port of `include/mesos/allocator/allocator.hpp` (`Allocator`, `Options`) and
`src/master/allocator/mesos/allocator.hpp` (`MesosAllocator<Process>`): the master holds a
facade whose every method is one `dispatch` onto a hidden allocator process, so the master
never touches the allocator's state and the allocator never blocks the master.

Identifiers are plain strings (the `.value` of `FrameworkID` / `SlaveID`); resources are
`mesos.common.resources.Resources`. The concrete allocator is
`mesos.allocator.hierarchical.HierarchicalDRFAllocator` (also importable from here).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import libprocess
from libprocess import Future, Process

if TYPE_CHECKING:
    from mesos.common.resources import Resources
    from mesos.protos.mesos import mesos_pb2

__all__ = [
    "DEFAULT_MIN_ALLOCATABLE_RESOURCES",
    "AllocatorOptions",
    "AllocatorProcess",
    "MesosAllocator",
    "OfferCallback",
    "parse_min_allocatable_resources",
]

# `offer_callback(framework_id, {role: {slave_id: Resources}})`: resources offered to one
# framework in one allocation run, each `Resource` carrying `allocation_info.role`.
OfferCallback = Callable[[str, dict[str, dict[str, "Resources"]]], Any]

# Mesos's default `--min_allocatable_resources` is `cpus:0.01|mem:32`: an offer must hold at
# least 0.01 cpus or at least 32 MB of memory.
DEFAULT_MIN_ALLOCATABLE_RESOURCES: tuple[Mapping[str, float], ...] = (
    {"cpus": 0.01},
    {"mem": 32.0},
)


def parse_min_allocatable_resources(text: str) -> tuple[dict[str, float], ...]:
    """Parses the `--min_allocatable_resources` flag form `cpus:0.01|mem:32;disk:64`.

    Alternatives are separated by `|`, the quantities of one alternative by `;`. Raises
    `ValueError` saying what was wrong and what is expected.
    """
    alternatives: list[dict[str, float]] = []
    for alternative in text.split("|"):
        quantities: dict[str, float] = {}
        for token in alternative.split(";"):
            token = token.strip()
            if not token:
                continue
            name, sep, amount = token.partition(":")
            name = name.strip()
            try:
                value = float(amount)
            except ValueError:
                value = -1.0
            if not sep or not name or not value >= 0 or value == float("inf"):
                raise ValueError(
                    f"Bad min allocatable resources '{token}' in '{text}': expected "
                    "name:quantity pairs separated by ';', alternatives by '|' "
                    "(e.g. 'cpus:0.01|mem:32')"
                )
            quantities[name] = quantities.get(name, 0.0) + value
        if not quantities:
            raise ValueError(
                f"Bad min allocatable resources '{text}': an alternative is empty "
                "(expected e.g. 'cpus:0.01|mem:32')"
            )
        alternatives.append(quantities)
    return tuple(alternatives)


@dataclass
class AllocatorOptions:
    """What the master configures the allocator with (port of `allocator::Options`).

    `min_allocatable_resources`: `None` is Mesos's default (`cpus:0.01|mem:32`); an empty
    sequence means that any non-empty resources are allocatable; a string is parsed as the
    `--min_allocatable_resources` flag. `domain` is the master's `DomainInfo`: agents in another
    region are offered only to `REGION_AWARE` frameworks. `allocate_on_recover` runs an
    event-driven allocation for an agent as soon as resources on it are recovered (Mesos 1.12
    waits for the next batch run instead, MESOS-3078); with it off, only the batch loop
    re-offers recovered resources.
    """

    allocation_interval: float = 1.0
    fair_sharing_excluded_resource_names: Iterable[str] = ()
    min_allocatable_resources: Sequence[Mapping[str, float]] | str | None = None
    filter_gpu_resources: bool = True
    domain: mesos_pb2.DomainInfo | None = None
    allocate_on_recover: bool = True
    # The agent order of each run is shuffled, as in Mesos; a seed makes it repeatable.
    seed: int | None = None

    def min_allocatable(self) -> tuple[dict[str, float], ...]:
        """The minimum allocatable quantities as a tuple of alternatives."""
        value = self.min_allocatable_resources
        if value is None:
            return tuple(dict(q) for q in DEFAULT_MIN_ALLOCATABLE_RESOURCES)
        if isinstance(value, str):
            return parse_min_allocatable_resources(value)
        return tuple(dict(q) for q in value)


class AllocatorProcess(Process):
    """Base of allocator processes driven by a `MesosAllocator` facade.

    Keeps the count of facade dispatches queued on the process (the
    `allocator/mesos/event_queue_dispatches` gauge); the counter is thread-safe because the
    facade increments it on the caller's thread and the process decrements it on its own.
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id)
        self._queue_lock = threading.Lock()
        self._queued_dispatches = 0

    def _enqueue_dispatch(self, name: str, *args: Any) -> Future[Any]:
        """Dispatches method `name` onto this process, counting it while it is queued."""
        method = getattr(self, name)

        def run(*call_args: Any) -> Any:
            with self._queue_lock:
                self._queued_dispatches -= 1
            return method(*call_args)

        # Keep the method's name so that `future_dispatch(process, "add_slave")` matches.
        run.__name__ = name
        with self._queue_lock:
            self._queued_dispatches += 1
        future = libprocess.dispatch(self, run, *args)
        if not future.is_pending() and not future.is_ready():
            # Never queued (not spawned, or already gone).
            with self._queue_lock:
                self._queued_dispatches -= 1
        return future

    def event_queue_dispatches(self) -> float:
        with self._queue_lock:
            return float(max(0, self._queued_dispatches))


class MesosAllocator:
    """The facade the master holds (port of `MesosAllocator<AllocatorProcess>`).

    Owns the allocator process; every method is one `dispatch` onto it and returns the future
    of the call, so it may be called from any thread (normally the master's). Callbacks given
    to `initialize` run on the allocator's thread.
    """

    process: AllocatorProcess

    def __init__(self, process: AllocatorProcess) -> None:
        self.process = process

    # Lifecycle.

    def initialize(self, options: AllocatorOptions, offer_callback: OfferCallback) -> None:
        """Configures the process and spawns it; the batch allocation loop starts with it."""
        self.process.configure(options, offer_callback)  # type: ignore[attr-defined]
        libprocess.spawn(self.process)

    def finalize(self, timeout: float = 10.0) -> None:
        """Terminates the process and waits (real time) for it to finish."""
        libprocess.terminate(self.process)
        libprocess.wait(self.process, timeout)

    def _dispatch(self, name: str, *args: Any) -> Future[Any]:
        return self.process._enqueue_dispatch(name, *args)

    # Frameworks.

    def add_framework(self, framework_id: str, framework_info: mesos_pb2.FrameworkInfo,
                      used: Mapping[str, Resources], active: bool,
                      suppressed_roles: Iterable[str] = frozenset()) -> Future[Any]:
        return self._dispatch("add_framework", framework_id, framework_info, dict(used),
                              bool(active), frozenset(suppressed_roles))

    def remove_framework(self, framework_id: str) -> Future[Any]:
        return self._dispatch("remove_framework", framework_id)

    def activate_framework(self, framework_id: str) -> Future[Any]:
        return self._dispatch("activate_framework", framework_id)

    def deactivate_framework(self, framework_id: str) -> Future[Any]:
        return self._dispatch("deactivate_framework", framework_id)

    def update_framework(self, framework_id: str, framework_info: mesos_pb2.FrameworkInfo,
                         suppressed_roles: Iterable[str] = frozenset()) -> Future[Any]:
        return self._dispatch("update_framework", framework_id, framework_info,
                              frozenset(suppressed_roles))

    # Agents.

    def add_slave(self, slave_id: str, slave_info: mesos_pb2.SlaveInfo, total: Resources,
                  used: Mapping[str, Resources],
                  capabilities: Iterable[int] | None = None) -> Future[Any]:
        """`capabilities`: the agent's `SlaveInfo.Capability.Type` values; `None` means a
        current agent (MULTI_ROLE, HIERARCHICAL_ROLE, RESERVATION_REFINEMENT)."""
        return self._dispatch("add_slave", slave_id, slave_info, total, dict(used),
                              None if capabilities is None else frozenset(capabilities))

    def remove_slave(self, slave_id: str) -> Future[Any]:
        return self._dispatch("remove_slave", slave_id)

    def update_slave(self, slave_id: str, slave_info: mesos_pb2.SlaveInfo,
                     total: Resources | None = None,
                     capabilities: Iterable[int] | None = None) -> Future[Any]:
        return self._dispatch("update_slave", slave_id, slave_info, total,
                              None if capabilities is None else frozenset(capabilities))

    def activate_slave(self, slave_id: str) -> Future[Any]:
        return self._dispatch("activate_slave", slave_id)

    def deactivate_slave(self, slave_id: str) -> Future[Any]:
        return self._dispatch("deactivate_slave", slave_id)

    # Resources and offers.

    def recover_resources(self, framework_id: str, slave_id: str, resources: Resources,
                          filters: mesos_pb2.Filters | None = None) -> Future[Any]:
        return self._dispatch("recover_resources", framework_id, slave_id, resources, filters)

    def suppress_offers(self, framework_id: str,
                        roles: Iterable[str] = frozenset()) -> Future[Any]:
        return self._dispatch("suppress_offers", framework_id, frozenset(roles))

    def revive_offers(self, framework_id: str,
                      roles: Iterable[str] = frozenset()) -> Future[Any]:
        return self._dispatch("revive_offers", framework_id, frozenset(roles))

    def update_weights(self, weights: Mapping[str, float]) -> Future[Any]:
        return self._dispatch("update_weights", dict(weights))

    # Allocation runs.

    def allocate(self) -> Future[Any]:
        """Triggers an allocation run over every agent; resolves when it has finished."""
        return self._dispatch("generate_offers")

    def pause(self) -> Future[Any]:
        """Stops allocation runs (batch and event-driven) until `resume()`."""
        return self._dispatch("pause")

    def resume(self) -> Future[Any]:
        return self._dispatch("resume")


def __getattr__(name: str) -> Any:
    # `HierarchicalDRFAllocator` lives beside its process; importing it lazily here keeps
    # `from mesos.allocator.allocator import HierarchicalDRFAllocator` working without an
    # import cycle.
    if name == "HierarchicalDRFAllocator":
        from mesos.allocator.hierarchical import HierarchicalDRFAllocator

        return HierarchicalDRFAllocator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
