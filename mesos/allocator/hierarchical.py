"""The hierarchical DRF allocator: decides which framework is offered which agent's resources.

Port of `HierarchicalAllocatorProcess` (`src/master/allocator/mesos/hierarchical.{hpp,cpp}`),
instantiated with DRF sorters as Mesos's `HierarchicalDRFAllocator`: one `DRFSorter` over role
paths ranks the roles, and one `DRFSorter` per role ranks that role's frameworks. An allocation
run walks the candidate agents in random order; for each agent it asks the role sorter for the
roles in DRF order, then each role's framework sorter for its frameworks in DRF order, and
offers the agent's available resources (unreserved ones, plus those reserved to the role or an
ancestor) to the first framework that may take them: active, not suppressed, capable of the
agent, not filtered, and getting at least the minimum allocatable resources.

Runs are batched (every `allocation_interval`, a `delay` loop) and event driven (adding a
framework or an agent, activating, reviving, recovering resources): events mark agents as
*allocation candidates* and dispatch one run, so a burst of events costs one run, as Mesos's
`allocationCandidates` do.

Quota, maintenance (inverse offers), the agent whitelist, resource providers and operations
on offered resources (`updateAllocation`, `updateAvailable`) are not ported yet.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import time
from collections.abc import Iterable, Mapping
from typing import Any

from libprocess import ID, Future, Timer, delay, metrics
from mesos.allocator.allocator import (
    AllocatorOptions,
    AllocatorProcess,
    MesosAllocator,
    OfferCallback,
)
from mesos.allocator.sorter import DRFSorter
from mesos.common.framework_info import framework_roles
from mesos.common.resources import Resources, ResourcesError
from mesos.protos.mesos import mesos_pb2

__all__ = [
    "Framework",
    "HierarchicalAllocatorProcess",
    "HierarchicalDRFAllocator",
    "HierarchicalDRFAllocatorProcess",
    "Slave",
]

log = logging.getLogger(__name__)

_FrameworkCapability = mesos_pb2.FrameworkInfo.Capability
_SlaveCapability = mesos_pb2.SlaveInfo.Capability

# What an agent that does not say otherwise is assumed to support: every agent of the
# versions this port talks to has these.
_DEFAULT_SLAVE_CAPABILITIES = frozenset({
    _SlaveCapability.MULTI_ROLE,
    _SlaveCapability.HIERARCHICAL_ROLE,
    _SlaveCapability.RESERVATION_REFINEMENT,
})

# `Filters.refuse_seconds` defaults to 5 seconds; Mesos caps it at 365 days.
_DEFAULT_REFUSE_SECONDS = mesos_pb2.Filters().refuse_seconds
_MAX_REFUSE_SECONDS = 365 * 24 * 3600.0

# The resources Mesos publishes `allocator/mesos/resources/<name>/...` gauges for.
_METRIC_RESOURCES = ("cpus", "mem", "disk")

_EMPTY = Resources()

# `offerable[framework_id][role][slave_id]`: what one allocation run offers.
Offerable = dict[str, dict[str, dict[str, Resources]]]


def _scalar_quantities(resources: Resources) -> dict[str, float]:
    # What the sorters count: scalar resources only (`ResourceQuantities::
    # fromScalarResources`), so ports and sets do not weigh in DRF shares.
    return resources.scalars().scalar_quantities()


def _unallocate(sorter: DRFSorter, client: str, slave_id: str,
                quantities: dict[str, float]) -> None:
    # The master and the allocator agree on what is allocated, so this is the sorter's
    # `unallocated`; should they ever disagree, release what the sorter holds rather than
    # leave an agent or framework half removed.
    try:
        sorter.unallocated(client, slave_id, quantities)
    except ValueError:
        held: Mapping[str, float] = sorter.allocation(client).get(slave_id, {})
        clamped = {name: min(amount, held.get(name, 0.0))
                   for name, amount in quantities.items() if held.get(name, 0.0) > 0}
        log.error("Releasing only %s of %s on agent %s for '%s': that is all it holds",
                  clamped, quantities, slave_id, client)
        sorter.unallocated(client, slave_id, clamped)


def _attributes_key(info: mesos_pb2.SlaveInfo) -> list[bytes]:
    # `Attributes` compare as unordered collections in Mesos.
    return sorted(a.SerializeToString(deterministic=True) for a in info.attributes)


class _RefusedOfferFilter:
    """Resources a framework declined on one agent for one role (port of
    `RefusedOfferFilter`): offers they contain are held back until the filter expires (its
    `timer`) or the framework revives. Owned by the allocator process."""

    __slots__ = ("resources", "timer")

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.timer: Timer | None = None

    def filter(self, resources: Resources) -> bool:
        # Not checked for expiry here: the filter applies until it is removed, as in Mesos.
        return self.resources.contains(resources)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Framework:
    """The allocator's view of one framework (port of `internal::Framework`).

    Owned and touched only by the allocator process's thread.
    """

    __slots__ = (
        "active",
        "framework_id",
        "gpu_resources",
        "min_allocatable_resources",
        "multi_role",
        "offer_filters",
        "region_aware",
        "reservation_refinement",
        "revocable_resources",
        "roles",
        "shared_resources",
        "suppressed_roles",
    )

    def __init__(self, framework_id: str, info: mesos_pb2.FrameworkInfo,
                 suppressed_roles: Iterable[str], active: bool) -> None:
        self.framework_id = framework_id
        self.suppressed_roles: set[str] = set(suppressed_roles)
        self.active = active
        # Offer filters are tied to the role the filtered resources were offered to:
        # role -> slave id -> filters.
        self.offer_filters: dict[str, dict[str, set[_RefusedOfferFilter]]] = {}
        self.roles: frozenset[str] = frozenset()
        self.min_allocatable_resources: dict[str, tuple[dict[str, float], ...]] = {}
        self.update_info(info)

    def update_info(self, info: mesos_pb2.FrameworkInfo) -> None:
        self.roles = framework_roles(info)
        capabilities = {c.type for c in info.capabilities}
        self.multi_role = _FrameworkCapability.MULTI_ROLE in capabilities
        self.gpu_resources = _FrameworkCapability.GPU_RESOURCES in capabilities
        self.shared_resources = _FrameworkCapability.SHARED_RESOURCES in capabilities
        self.revocable_resources = _FrameworkCapability.REVOCABLE_RESOURCES in capabilities
        self.reservation_refinement = (
            _FrameworkCapability.RESERVATION_REFINEMENT in capabilities)
        self.region_aware = _FrameworkCapability.REGION_AWARE in capabilities
        # Port of `unpackFrameworkOfferFilters`: per-role minimum allocatable quantities that
        # override the global ones.
        minimums: dict[str, tuple[dict[str, float], ...]] = {}
        for role, offer_filters in info.offer_filters.items():
            if offer_filters.HasField("min_allocatable_resources"):
                minimums[role] = tuple(
                    {name: scalar.value for name, scalar in q.quantities.items()}
                    for q in offer_filters.min_allocatable_resources.quantities
                )
        self.min_allocatable_resources = minimums

    def clear_offer_filters(self, role: str | None = None) -> None:
        roles = list(self.offer_filters) if role is None else [role]
        for r in roles:
            for filters in self.offer_filters.pop(r, {}).values():
                for f in filters:
                    f.cancel()

    def clear_slave_filters(self, slave_id: str) -> None:
        for role in list(self.offer_filters):
            by_slave = self.offer_filters[role]
            for f in by_slave.pop(slave_id, ()):
                f.cancel()
            if not by_slave:
                del self.offer_filters[role]


class Slave:
    """The allocator's view of one agent (port of `internal::Slave`): its total resources,
    what is offered or allocated on it per framework, and what is available.

    Owned and touched only by the allocator process's thread.
    """

    __slots__ = (
        "_available_quantities",
        "activated",
        "all_quantities",
        "available",
        "capabilities",
        "has_gpu",
        "has_reservations",
        "info",
        "offered_or_allocated",
        "remote",
        "scalar_names",
        "shared",
        "slave_id",
        "special",
        "total",
        "total_offered_or_allocated",
        "total_quantities",
    )

    def __init__(self, slave_id: str, info: mesos_pb2.SlaveInfo,
                 capabilities: frozenset[int], total: Resources,
                 used: Mapping[str, Resources]) -> None:
        self.slave_id = slave_id
        self.info = info
        self.capabilities = capabilities
        self.activated = True
        self.remote = False
        # An entry is dropped when a framework no longer holds anything on the agent.
        self.offered_or_allocated: dict[str, Resources] = {
            fid: r for fid, r in used.items() if r
        }
        self.total_offered_or_allocated = sum(self.offered_or_allocated.values(), _EMPTY)
        self.available = _EMPTY
        self._available_quantities: dict[str, float] | None = None
        self.update_total(total)

    @property
    def multi_role(self) -> bool:
        return _SlaveCapability.MULTI_ROLE in self.capabilities

    @property
    def hierarchical_role(self) -> bool:
        return _SlaveCapability.HIERARCHICAL_ROLE in self.capabilities

    def update_total(self, total: Resources) -> None:
        self.total = total
        self.shared = total.shared()
        self.has_gpu = (total.gpus() or 0.0) > 0
        self.has_reservations = bool(total.reserved())
        # Shared, revocable or refined-reservation resources are not for every framework:
        # only agents with some pay for `stripIncapableResources` in allocation runs.
        self.special = bool(self.shared) or bool(total.revocable()) or bool(
            total.filter(lambda r: len(r.reservations) > 1))
        # What the sorters count (scalars), and every quantity (ports counted) for the
        # minimum allocatable resources check.
        self.total_quantities = _scalar_quantities(total)
        self.all_quantities = total.scalar_quantities()
        self.scalar_names = frozenset(total.scalars().names())
        self._update_available()

    def _update_available(self) -> None:
        if not self.total_offered_or_allocated and not self.shared:
            # Nothing offered: the common case of a run that re-offers declined agents.
            self.available = self.total
            self._available_quantities = self.all_quantities
            return
        offered = self.total_offered_or_allocated.unallocate()
        if not self.shared:
            self.available = self.total - offered
        else:
            # Shared resources are offerable even while in use.
            self.available = (self.total.non_shared() - offered.non_shared()) + self.shared
        self._available_quantities = None

    def available_quantities(self) -> dict[str, float]:
        """`available.scalar_quantities()`, cached until `available` changes."""
        if self._available_quantities is None:
            self._available_quantities = self.available.scalar_quantities()
        return self._available_quantities

    def available_to(self, role: str) -> Resources:
        """Available resources a framework of `role` may get (`allocatableTo`)."""
        if not self.has_reservations:
            return self.available
        return self.available.allocatable_to(role)

    def increase_available(self, framework_id: str, resources: Resources) -> None:
        """`resources` (allocated, with `allocation_info`) went back to the pool."""
        if not resources:
            return
        held = self.offered_or_allocated[framework_id] - resources
        if held:
            self.offered_or_allocated[framework_id] = held
        else:
            del self.offered_or_allocated[framework_id]
        self.total_offered_or_allocated = self.total_offered_or_allocated - resources
        self._update_available()

    def decrease_available(self, framework_id: str, resources: Resources,
                           unallocated: Resources | None = None) -> None:
        """`resources` (allocated) were offered to the framework; `unallocated` is the same
        without `allocation_info`, when the caller has it."""
        if not resources:
            return
        held = self.offered_or_allocated.get(framework_id)
        self.offered_or_allocated[framework_id] = (
            resources if held is None else held + resources)
        self.total_offered_or_allocated = self.total_offered_or_allocated + resources
        if unallocated is not None and not self.shared:
            # Exact without shared resources: (total - offered) - x == total - (offered + x),
            # and much cheaper than recomputing from the total.
            if unallocated is self.available:
                self.available = _EMPTY
                self._available_quantities = {}
            else:
                self.available = self.available - unallocated
                self._available_quantities = None
        else:
            self._update_available()


class HierarchicalAllocatorProcess(AllocatorProcess):
    """The allocator process (port of `HierarchicalAllocatorProcess` with DRF sorters).

    Owns every framework's and agent's allocation state, the role sorter, one framework
    sorter per role, the offer filters, the batch allocation timer and the allocator metrics.
    Everything runs on its own thread: the master reaches it only through the
    `HierarchicalDRFAllocator` facade, and offers leave through `offer_callback`, called on
    this thread (the master passes a `defer` onto itself).
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id or ID.generate("hierarchical-allocator"))
        self.options = AllocatorOptions()
        self.offer_callback: OfferCallback | None = None
        self._min_allocatable: tuple[dict[str, float], ...] = self.options.min_allocatable()
        self._random = random.Random()
        self._initialized = False
        self._finalized = False
        self._paused = False

        self._frameworks: dict[str, Framework] = {}
        self._slaves: dict[str, Slave] = {}
        self._role_sorter = DRFSorter()
        self._framework_sorters: dict[str, DRFSorter] = {}
        # The role tree, reduced to what DRF needs: the frameworks tracked under each role
        # (subscribed to it, or holding resources allocated to it).
        self._role_frameworks: dict[str, set[str]] = {}
        self._weights: dict[str, float] = {}

        # Agents to look at in the next run; `_allocate_all` stands for all of them.
        self._allocation_candidates: set[str] = set()
        self._allocate_all = False
        self._offer_generation: Future[Any] | None = None
        self._generation_requested_at = 0.0
        self._batch_timer: Timer | None = None

        self._allocation_runs = metrics.Counter("allocator/mesos/allocation_runs")
        self._allocation_run = metrics.Timer("allocator/mesos/allocation_run_ms")
        self._allocation_run_latency = metrics.Timer("allocator/mesos/allocation_run_latency_ms")
        self._metrics: list[metrics.Metric] = []
        self._role_metrics: dict[str, metrics.Metric] = {}

    def configure(self, options: AllocatorOptions, offer_callback: OfferCallback) -> None:
        """Sets the options and the offer callback; called by the facade before spawning
        (port of the `initialize(options, offerCallback, ...)` dispatch)."""
        self.options = options
        self.offer_callback = offer_callback
        self._min_allocatable = options.min_allocatable()
        self._random = random.Random(options.seed)
        self._role_sorter = DRFSorter(options.fair_sharing_excluded_resource_names)

    # Lifecycle (on the process's thread).

    def initialize(self) -> None:
        self._initialized = True
        self._metrics = [
            self._allocation_runs,
            self._allocation_run,
            self._allocation_run_latency,
            # Read on the caller's thread: it must answer while the allocator is busy.
            metrics.PullGauge("allocator/mesos/event_queue_dispatches",
                              self.event_queue_dispatches),
        ]
        for name in _METRIC_RESOURCES:
            self._metrics.append(metrics.PullGauge(
                f"allocator/mesos/resources/{name}/total",
                functools.partial(self._resources_total, name), self))
            self._metrics.append(metrics.PullGauge(
                f"allocator/mesos/resources/{name}/offered_or_allocated",
                functools.partial(self._resources_offered_or_allocated, name), self))
        for metric in self._metrics:
            metrics.add(metric)
        log.info("Initialized hierarchical allocator process %s", self.id)
        self._schedule_batch_allocation()

    def finalize(self) -> None:
        self._finalized = True
        if self._batch_timer is not None:
            self._batch_timer.cancel()
            self._batch_timer = None
        for framework in self._frameworks.values():
            framework.clear_offer_filters()
        for metric in self._metrics + list(self._role_metrics.values()):
            if metrics.get(metric.name) is metric:
                metrics.remove(metric)

    def _schedule_batch_allocation(self) -> None:
        # Port of the `loop(after(allocationInterval), generateOffers)` of `initialize`: the
        # next batch run is timed from the end of the previous one.
        if self._finalized:
            return
        self._batch_timer = delay(self.options.allocation_interval, self,
                                  self._batch_allocation)

    def _batch_allocation(self) -> None:
        self._batch_timer = None
        self.generate_offers().on_any(lambda _: self._schedule_batch_allocation())

    # Frameworks.

    def add_framework(self, framework_id: str, framework_info: mesos_pb2.FrameworkInfo,
                      used: Mapping[str, Resources], active: bool,
                      suppressed_roles: Iterable[str] = frozenset()) -> None:
        """Port of `addFramework`: tracks the framework under its roles, records what it
        already uses on known agents, and allocates if it is active."""
        if framework_id in self._frameworks:
            log.warning("Ignoring add_framework of %s because it is already known",
                        framework_id)
            return
        framework = Framework(framework_id, framework_info, suppressed_roles, active)
        self._frameworks[framework_id] = framework

        for role in framework.roles:
            self._track_framework_under_role(framework, role)
            if role not in framework.suppressed_roles:
                self._framework_sorters[role].activate(framework_id)

        for slave_id, resources in used.items():
            # The agent struct already knows these (from `add_slave`); only the sorters do
            # not. Agents not added yet will report them when they are.
            slave = self._slaves.get(slave_id)
            if slave is None:
                continue
            # An agent added before the framework may have reported its resources without
            # an allocation role, which only the framework's roles tell.
            held = slave.offered_or_allocated.get(framework_id)
            if held is not None:
                normalized = self._as_allocated(framework, held)
                if normalized is not None and normalized is not held:
                    slave.offered_or_allocated[framework_id] = normalized
                    slave.total_offered_or_allocated = sum(
                        slave.offered_or_allocated.values(), _EMPTY)
            allocated = self._as_allocated(framework, resources)
            if allocated is None:
                log.warning("Not tracking %s used by framework %s on agent %s because they "
                            "are not allocated to a role", resources, framework_id, slave_id)
                continue
            self._track_allocated_resources(slave_id, framework_id, allocated)

        log.info("Added framework %s", framework_id)
        if active:
            self.generate_offers()
        else:
            self.deactivate_framework(framework_id)

    def remove_framework(self, framework_id: str) -> None:
        """Port of `removeFramework`: frees everything offered to or allocated to the
        framework, on every agent, and forgets it."""
        framework = self._frameworks.get(framework_id)
        if framework is None:
            log.warning("Ignoring remove_framework of %s because it is not known",
                        framework_id)
            return

        for slave in self._slaves.values():
            held = slave.offered_or_allocated.get(framework_id)
            if held:
                slave.increase_available(framework_id, held)

        for role in [r for r, fids in self._role_frameworks.items() if framework_id in fids]:
            sorter = self._framework_sorters[role]
            for slave_id, quantities in sorter.allocation(framework_id).items():
                sorter.unallocated(framework_id, slave_id, quantities)
                self._role_sorter.unallocated(role, slave_id, quantities)
            self._untrack_framework_under_role(framework_id, role)

        framework.clear_offer_filters()
        del self._frameworks[framework_id]
        log.info("Removed framework %s", framework_id)

    def activate_framework(self, framework_id: str) -> None:
        """Port of `activateFramework`: offers resume for every role not suppressed."""
        framework = self._frameworks.get(framework_id)
        if framework is None:
            log.warning("Ignoring activate_framework of %s because it is not known",
                        framework_id)
            return
        framework.active = True
        for role in framework.roles:
            if role not in framework.suppressed_roles:
                self._framework_sorters[role].activate(framework_id)
        log.info("Activated framework %s", framework_id)
        self.generate_offers()

    def deactivate_framework(self, framework_id: str) -> None:
        """Port of `deactivateFramework`: no more offers; the allocation is kept (so a
        failed-over framework finds it) and the offer filters are dropped."""
        framework = self._frameworks.get(framework_id)
        if framework is None:
            log.warning("Ignoring deactivate_framework of %s because it is not known",
                        framework_id)
            return
        for role in framework.roles:
            self._framework_sorters[role].deactivate(framework_id)
        framework.active = False
        framework.clear_offer_filters()
        log.info("Deactivated framework %s", framework_id)

    def update_framework(self, framework_id: str, framework_info: mesos_pb2.FrameworkInfo,
                         suppressed_roles: Iterable[str] = frozenset()) -> None:
        """Port of `updateFramework`: follows a change of roles, capabilities, offer filters
        and suppressed roles."""
        framework = self._frameworks.get(framework_id)
        if framework is None:
            log.warning("Ignoring update_framework of %s because it is not known",
                        framework_id)
            return
        suppressed = set(suppressed_roles)
        old_roles = framework.roles
        new_roles = framework_roles(framework_info)
        old_suppressed = set(framework.suppressed_roles)

        for role in new_roles - old_roles:
            # The framework may still be tracked under a role it left earlier while holding
            # resources allocated to it.
            if framework_id not in self._role_frameworks.get(role, ()):
                self._track_framework_under_role(framework, role)
            if framework.active:
                self._framework_sorters[role].activate(framework_id)

        for role in old_roles - new_roles:
            self._framework_sorters[role].deactivate(framework_id)
            self._try_untrack_framework_under_role(framework_id, role)
            framework.clear_offer_filters(role)
            framework.suppressed_roles.discard(role)

        framework.update_info(framework_info)
        self._suppress_roles(framework, (suppressed - old_suppressed) & new_roles)
        self._revive_roles(framework, (old_suppressed - suppressed) & new_roles)

    # Agents.

    def add_slave(self, slave_id: str, slave_info: mesos_pb2.SlaveInfo, total: Resources,
                  used: Mapping[str, Resources],
                  capabilities: Iterable[int] | None = None) -> None:
        """Port of `addSlave`: adds the agent's resources to the pool, records what running
        tasks already use, and allocates the agent."""
        if slave_id in self._slaves:
            log.warning("Ignoring add_slave of %s because it is already known", slave_id)
            return
        normalized: dict[str, Resources] = {}
        for framework_id, resources in used.items():
            framework = self._frameworks.get(framework_id)
            allocated = (self._as_allocated(framework, resources)
                         if framework is not None else None)
            normalized[framework_id] = resources if allocated is None else allocated

        slave = Slave(slave_id, slave_info,
                      _DEFAULT_SLAVE_CAPABILITIES if capabilities is None
                      else frozenset(capabilities),
                      total, normalized)
        slave.remote = self._is_remote(slave_info)
        self._slaves[slave_id] = slave

        self._role_sorter.add_slave(slave_id, slave.total_quantities)
        for sorter in self._framework_sorters.values():
            sorter.add_slave(slave_id, slave.total_quantities)

        for framework_id, allocation in normalized.items():
            # A framework not added yet is tracked when the master adds it (with `used`).
            if framework_id in self._frameworks and allocation:
                self._track_allocated_resources(slave_id, framework_id, allocation)

        log.info("Added agent %s (%s) with %s (offered or allocated: %s)", slave_id,
                 slave_info.hostname, total, slave.total_offered_or_allocated)
        self.generate_offers((slave_id,))

    def remove_slave(self, slave_id: str) -> None:
        """Port of `removeSlave`: takes the agent and everything on it out of the pool."""
        slave = self._slaves.get(slave_id)
        if slave is None:
            log.warning("Ignoring remove_slave of %s because it is not known", slave_id)
            return
        for framework_id, resources in list(slave.offered_or_allocated.items()):
            framework = self._frameworks.get(framework_id)
            if framework is None:
                continue
            allocated = self._as_allocated(framework, resources)
            if allocated is not None:
                self._untrack_allocated_resources(slave_id, framework_id, allocated)

        self._role_sorter.remove_slave(slave_id)
        for sorter in self._framework_sorters.values():
            sorter.remove_slave(slave_id)

        del self._slaves[slave_id]
        self._allocation_candidates.discard(slave_id)
        self._remove_filters(slave_id)
        log.info("Removed agent %s", slave_id)

    def update_slave(self, slave_id: str, slave_info: mesos_pb2.SlaveInfo,
                     total: Resources | None = None,
                     capabilities: Iterable[int] | None = None) -> None:
        """Port of `updateSlave`: new info (changed attributes drop the agent's offer
        filters), capabilities or total resources; allocates the agent if anything changed."""
        slave = self._slaves.get(slave_id)
        if slave is None:
            log.warning("Ignoring update_slave of %s because it is not known", slave_id)
            return
        updated = False

        # Frameworks may have declined the agent for lacking some attribute; they can only
        # learn about new attributes through new offers.
        if _attributes_key(slave_info) != _attributes_key(slave.info):
            updated = True
            self._remove_filters(slave_id)

        if slave_info != slave.info:
            updated = True
            slave.info = slave_info
            slave.remote = self._is_remote(slave_info)

        if capabilities is not None:
            new = frozenset(capabilities)
            if new != slave.capabilities:
                slave.capabilities = new
                updated = True

        if total is not None and self._update_slave_total(slave_id, total):
            updated = True
            log.info("Agent %s (%s) updated with total resources %s", slave_id,
                     slave.info.hostname, total)

        if updated:
            self.generate_offers((slave_id,))

    def activate_slave(self, slave_id: str) -> None:
        """Port of `activateSlave`: the agent's resources are offered again (from the next
        allocation run)."""
        slave = self._slaves.get(slave_id)
        if slave is None:
            log.warning("Ignoring activate_slave of %s because it is not known", slave_id)
            return
        slave.activated = True
        log.info("Agent %s reactivated", slave_id)

    def deactivate_slave(self, slave_id: str) -> None:
        """Port of `deactivateSlave`: the agent's resources are not offered any more."""
        slave = self._slaves.get(slave_id)
        if slave is None:
            log.warning("Ignoring deactivate_slave of %s because it is not known", slave_id)
            return
        slave.activated = False
        log.info("Agent %s deactivated", slave_id)

    # Resources, filters, suppression.

    def recover_resources(self, framework_id: str, slave_id: str, resources: Resources,
                          filters: mesos_pb2.Filters | None = None) -> None:
        """Port of `recoverResources`: offered or allocated resources go back to the pool
        (a declined or rescinded offer, a finished task); with `filters`, the framework
        refuses them on this agent for `refuse_seconds`."""
        if not resources:
            return
        framework = self._frameworks.get(framework_id)
        slave = self._slaves.get(slave_id)
        # The framework or the agent may be gone already (with everything it held), when
        # the master recovers an offer it made before learning so.
        if framework is None or slave is None:
            return

        allocated = self._as_allocated(framework, resources)
        if allocated is None:
            log.warning("Ignoring recovery of %s on agent %s from framework %s because they "
                        "are not allocated to a role", resources, slave_id, framework_id)
            return
        held = slave.offered_or_allocated.get(framework_id, _EMPTY)
        if not held.contains(allocated):
            log.warning("Ignoring recovery of %s on agent %s from framework %s because the "
                        "framework holds only %s there", allocated, slave_id, framework_id,
                        held)
            return

        slave.increase_available(framework_id, allocated)
        allocations = allocated.allocations()
        for role, allocation in allocations.items():
            sorter = self._framework_sorters.get(role)
            if sorter is not None and sorter.contains(framework_id):
                self._untrack_role_allocation(slave_id, framework, role, allocation)

        if filters is not None:
            for role, allocation in allocations.items():
                self._add_offer_filter(framework, role, slave_id, allocation, filters)

        if self.options.allocate_on_recover:
            self.generate_offers((slave_id,))

    def _add_offer_filter(self, framework: Framework, role: str, slave_id: str,
                          allocation: Resources, filters: mesos_pb2.Filters) -> None:
        refuse = filters.refuse_seconds
        if not math.isfinite(refuse) and refuse > 0:
            refuse = _MAX_REFUSE_SECONDS
        if refuse > _MAX_REFUSE_SECONDS:
            log.warning("Using 365 days to create the refused resources offer filter "
                        "because the input value is too big")
            refuse = _MAX_REFUSE_SECONDS
        elif refuse < 0 or math.isnan(refuse):
            log.warning("Using the default value of 'refuse_seconds' to create the refused "
                        "resources offer filter because the input value is negative")
            refuse = _DEFAULT_REFUSE_SECONDS
        if refuse == 0:
            return
        # The filter must outlive the next batch run for this agent (MESOS-4302): expire it
        # after at least one allocation interval.
        timeout = max(self.options.allocation_interval, refuse)
        offer_filter = _RefusedOfferFilter(allocation.unallocate())
        framework.offer_filters.setdefault(role, {}).setdefault(slave_id, set()).add(
            offer_filter)
        offer_filter.timer = delay(timeout, self, self._expire, framework.framework_id,
                                   role, slave_id, offer_filter)
        log.debug("Framework %s filtered agent %s for %s s", framework.framework_id,
                  slave_id, timeout)

    def _expire(self, framework_id: str, role: str, slave_id: str,
                offer_filter: _RefusedOfferFilter) -> None:
        # The filter may be gone already (revive, deactivation, removal) if its timer could
        # not be cancelled in time.
        framework = self._frameworks.get(framework_id)
        if framework is None:
            return
        by_slave = framework.offer_filters.get(role)
        if by_slave is None:
            return
        filters = by_slave.get(slave_id)
        if filters is None or offer_filter not in filters:
            return
        filters.discard(offer_filter)
        offer_filter.timer = None
        if not filters:
            del by_slave[slave_id]
        if not by_slave:
            del framework.offer_filters[role]

    def _remove_filters(self, slave_id: str) -> None:
        for framework in self._frameworks.values():
            framework.clear_slave_filters(slave_id)
        log.info("Removed all filters for agent %s", slave_id)

    def suppress_offers(self, framework_id: str, roles: Iterable[str] = frozenset()) -> None:
        """Port of `suppressOffers`: no offers for `roles` (all the framework's roles when
        empty) until revived."""
        framework = self._frameworks.get(framework_id)
        if framework is None:
            log.warning("Ignoring suppress_offers of %s because it is not known", framework_id)
            return
        self._suppress_roles(framework, self._known_roles(framework, roles, "suppress_offers"))

    def revive_offers(self, framework_id: str, roles: Iterable[str] = frozenset()) -> None:
        """Port of `reviveOffers`: unsuppresses `roles` (all when empty), drops their offer
        filters, and allocates."""
        framework = self._frameworks.get(framework_id)
        if framework is None:
            log.warning("Ignoring revive_offers of %s because it is not known", framework_id)
            return
        self._revive_roles(framework, self._known_roles(framework, roles, "revive_offers"))
        self.generate_offers()

    def _known_roles(self, framework: Framework, roles: Iterable[str], call: str) -> set[str]:
        wanted = set(roles) or set(framework.roles)
        unknown = wanted - framework.roles
        if unknown:
            log.warning("Ignoring roles %s in %s of framework %s because it is not "
                        "subscribed to them", sorted(unknown), call, framework.framework_id)
        return wanted & framework.roles

    def _suppress_roles(self, framework: Framework, roles: Iterable[str]) -> None:
        roles = set(roles)
        for role in roles:
            self._framework_sorters[role].deactivate(framework.framework_id)
            framework.suppressed_roles.add(role)
        if roles:
            log.info("Suppressed offers for roles %s of framework %s", sorted(roles),
                     framework.framework_id)

    def _revive_roles(self, framework: Framework, roles: Iterable[str]) -> None:
        roles = set(roles)
        for role in roles:
            framework.clear_offer_filters(role)
            if framework.active:
                self._framework_sorters[role].activate(framework.framework_id)
            framework.suppressed_roles.discard(role)
        if roles:
            log.info("Unsuppressed offers and cleared filters for roles %s of framework %s",
                     sorted(roles), framework.framework_id)

    def update_weights(self, weights: Mapping[str, float]) -> None:
        """Port of `updateWeights`. Weights take effect from the next allocation run; a
        change does not itself trigger one (nothing is rebalanced), as in Mesos."""
        for role, weight in weights.items():
            try:
                self._role_sorter.update_weight(role, weight)
            except ValueError as e:
                log.warning("Ignoring weight %r of role '%s' because it is invalid: %s",
                            weight, role, e)
                continue
            self._weights[role] = float(weight)
            log.info("Updated weight of role '%s' to %s", role, weight)

    def pause(self) -> None:
        if not self._paused:
            log.debug("Allocation paused")
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            log.debug("Allocation resumed")
            self._paused = False

    # Allocation runs.

    def generate_offers(self, slave_ids: Iterable[str] | None = None) -> Future[None]:
        """Marks `slave_ids` (all agents when None) as allocation candidates and makes sure
        one allocation run is queued (port of `generateOffers`).

        Runs are coalesced: while one is queued, further calls only add candidates and share
        its future, which resolves when the run has finished.
        """
        if self._paused:
            return Future.ready(None)
        if slave_ids is None:
            self._allocate_all = True
        else:
            self._allocation_candidates.update(slave_ids)
        if self._offer_generation is None or not self._offer_generation.is_pending():
            self._generation_requested_at = time.perf_counter()
            self._offer_generation = self._enqueue_dispatch("_generate_offers")
        return self._offer_generation

    def _generate_offers(self) -> None:
        """One allocation run over the candidates (port of `_generateOffers`)."""
        self._allocation_run_latency.record(
            (time.perf_counter() - self._generation_requested_at) * 1000.0)
        if self._paused:
            return
        self._allocation_runs.inc()
        started = time.perf_counter()

        slaves = self._slaves
        if self._allocate_all:
            candidates: Iterable[str] = slaves
        else:
            candidates = self._allocation_candidates
        # Removed agents left the candidates already; deactivated ones get no offers.
        slave_ids = [sid for sid in candidates if sid in slaves and slaves[sid].activated]
        self._allocate_all = False
        self._allocation_candidates = set()

        self._random.shuffle(slave_ids)
        self._generate_offers_for(slave_ids)

        elapsed = time.perf_counter() - started
        self._allocation_run.record(elapsed * 1000.0)
        log.debug("Performed allocation for %d agents in %.3f ms", len(slave_ids),
                  elapsed * 1000.0)

    def _generate_offers_for(self, slave_ids: list[str]) -> Offerable:
        """Allocates the available resources of `slave_ids`, in that order, and hands the
        offers to `offer_callback`, one call per framework (port of `__generateOffers`,
        without the quota stage). Returns what was offered.

        This is the hot path: per agent, one `sort()` per role and the framework sorter's
        order, then usually one allocation (the first eligible framework takes all the
        agent's available resources) and a `break` on the next framework. The available
        resources and their quantities are computed once per agent and role and reused until
        something is allocated.
        """
        offerable: Offerable = {}
        # A shared resource is offered at most once per run.
        offered_shared: dict[str, Resources] = {}
        slaves = self._slaves
        frameworks = self._frameworks
        framework_sorters = self._framework_sorters
        role_sorter = self._role_sorter
        allocatable = self._allocatable
        is_filtered = self._is_filtered
        is_capable = self._is_capable_of_receiving_agent
        quantities: dict[str, float] = {}

        for slave_id in slave_ids:
            slave = slaves[slave_id]
            for role in role_sorter.sort():
                if not slave.available:
                    break  # Nothing left on this agent.
                framework_sorter = framework_sorters[role]
                available: Resources | None = None
                # Suppressed and inactive frameworks are not in the sort.
                for framework_id in framework_sorter.sort():
                    if available is None:
                        available = slave.available_to(role)
                        if slave.shared:
                            available = available - offered_shared.get(slave_id, _EMPTY)
                        if not available:
                            break  # Nothing left for the role.
                        quantities = (slave.available_quantities()
                                      if available is slave.available
                                      else available.scalar_quantities())

                    framework = frameworks[framework_id]

                    # An early `continue`.
                    if not allocatable(quantities, role, framework):
                        continue
                    if not is_capable(framework, slave):
                        continue

                    to_offer = available
                    if slave.special:
                        to_offer = self._strip_incapable_resources(available, framework)
                        if not allocatable(to_offer.scalar_quantities(), role, framework):
                            continue

                    if is_filtered(framework, role, slave, to_offer):
                        continue

                    allocation = to_offer.allocate(role)
                    by_role = offerable.get(framework_id)
                    if by_role is None:
                        by_role = offerable[framework_id] = {}
                    by_slave = by_role.get(role)
                    if by_slave is None:
                        by_slave = by_role[role] = {}
                    previous = by_slave.get(slave_id)
                    by_slave[slave_id] = (allocation if previous is None
                                          else previous + allocation)
                    if slave.shared:
                        offered_shared[slave_id] = (offered_shared.get(slave_id, _EMPTY)
                                                    + to_offer.shared())

                    slave.decrease_available(framework_id, allocation, to_offer)

                    # `trackAllocatedResources`, knowing the one role and the framework
                    # tracked under it already.
                    if to_offer is available:
                        scalar_names = slave.scalar_names
                        scalars = {name: amount for name, amount in quantities.items()
                                   if name in scalar_names}
                    else:
                        scalars = _scalar_quantities(to_offer)
                    role_sorter.allocated(role, slave_id, scalars)
                    framework_sorter.allocated(framework_id, slave_id, scalars)

                    available = None

        callback = self.offer_callback
        if callback is not None:
            for framework_id, offers in offerable.items():
                try:
                    callback(framework_id, offers)
                except Exception:
                    log.exception("Offer callback for framework %s raised", framework_id)
        return offerable

    def _allocatable(self, quantities: Mapping[str, float], role: str,
                     framework: Framework) -> bool:
        """Port of `allocatable`: non-empty and containing one of the minimum allocatable
        alternatives (the framework's own for the role, else the global ones)."""
        if not quantities:
            return False
        minimum = framework.min_allocatable_resources.get(role, self._min_allocatable)
        if not minimum:
            return True
        for alternative in minimum:
            for name, amount in alternative.items():
                if quantities.get(name, 0.0) < amount:
                    break
            else:
                return True
        return False

    def _is_capable_of_receiving_agent(self, framework: Framework, slave: Slave) -> bool:
        # Only frameworks that can use GPUs get agents with GPUs (MESOS-5634), and only
        # region-aware frameworks get agents in another region.
        if self.options.filter_gpu_resources and slave.has_gpu and not framework.gpu_resources:
            return False
        return not (slave.remote and not framework.region_aware)

    @staticmethod
    def _strip_incapable_resources(resources: Resources, framework: Framework) -> Resources:
        if not framework.shared_resources:
            resources = resources.non_shared()
        if not framework.revocable_resources:
            resources = resources.non_revocable()
        if not framework.reservation_refinement:
            # Old frameworks cannot read refined reservations.
            resources = resources.filter(lambda r: len(r.reservations) <= 1)
        return resources

    @staticmethod
    def _is_filtered(framework: Framework, role: str, slave: Slave,
                     resources: Resources) -> bool:
        """Port of `isFiltered`: implicit filters (capabilities the agent lacks) and the
        framework's refused-offer filters for this role and agent."""
        if framework.multi_role and not slave.multi_role:
            log.warning("Implicitly filtering agent %s from framework %s because the "
                        "framework is MULTI_ROLE capable but the agent is not",
                        slave.slave_id, framework.framework_id)
            return True
        if "/" in role and not slave.hierarchical_role:
            log.warning("Implicitly filtering agent %s from role %s because the role is "
                        "hierarchical but the agent is not HIERARCHICAL_ROLE capable",
                        slave.slave_id, role)
            return True
        if not framework.offer_filters:
            return False
        by_slave = framework.offer_filters.get(role)
        if by_slave is None:
            return False
        for offer_filter in by_slave.get(slave.slave_id, ()):
            if offer_filter.filter(resources):
                log.debug("Filtered offer with %s on agent %s for role %s of framework %s",
                          resources, slave.slave_id, role, framework.framework_id)
                return True
        return False

    def _is_remote(self, info: mesos_pb2.SlaveInfo) -> bool:
        # Port of `isRemoteSlave`: an agent with a fault domain in another region than the
        # master's.
        domain = self.options.domain
        if not info.HasField("domain") or not info.domain.HasField("fault_domain"):
            return False
        if domain is None or not domain.HasField("fault_domain"):
            return False
        return domain.fault_domain.region != info.domain.fault_domain.region

    # Tracking in the sorters and the role tree.

    def _as_allocated(self, framework: Framework, resources: Resources) -> Resources | None:
        """`resources` with every resource allocated to a role: the master sends allocated
        resources; unallocated ones (from an old agent) are given the framework's role if it
        has exactly one. None if that is impossible."""
        try:
            resources.allocations()
            return resources
        except ResourcesError:
            pass
        if len(framework.roles) != 1:
            return None
        (role,) = framework.roles
        allocated = resources.filter(lambda r: r.HasField("allocation_info"))
        return allocated + (resources - allocated).allocate(role)

    def _track_framework_under_role(self, framework: Framework, role: str) -> None:
        """Port of `trackFrameworkUnderRole`: the first framework of a role brings the role
        into the role sorter and creates its framework sorter."""
        tracked = self._role_frameworks.get(role)
        if not tracked:
            self._role_sorter.add(role)
            self._role_sorter.activate(role)
            sorter = DRFSorter(self.options.fair_sharing_excluded_resource_names)
            for slave_id, slave in self._slaves.items():
                sorter.add_slave(slave_id, slave.total_quantities)
            self._framework_sorters[role] = sorter
            tracked = self._role_frameworks[role] = set()
            self._add_role_metrics(role)
        tracked.add(framework.framework_id)
        self._framework_sorters[role].add(framework.framework_id)

    def _try_untrack_framework_under_role(self, framework_id: str, role: str) -> bool:
        """Port of `tryUntrackFrameworkUnderRole`: only a framework holding nothing under the
        role stops being tracked there."""
        sorter = self._framework_sorters[role]
        if sorter.allocation_scalar_quantities(framework_id):
            return False
        self._untrack_framework_under_role(framework_id, role)
        return True

    def _untrack_framework_under_role(self, framework_id: str, role: str) -> None:
        tracked = self._role_frameworks[role]
        tracked.discard(framework_id)
        self._framework_sorters[role].remove(framework_id)
        if not tracked:
            # The last framework of the role: the role leaves the role sorter.
            self._role_sorter.remove(role)
            del self._framework_sorters[role]
            del self._role_frameworks[role]
            self._remove_role_metrics(role)

    def _track_allocated_resources(self, slave_id: str, framework_id: str,
                                   allocated: Resources) -> None:
        """Port of `trackAllocatedResources` (`allocated` must be allocated to roles)."""
        framework = self._frameworks[framework_id]
        for role, allocation in allocated.allocations().items():
            # The framework may hold resources of a role it is not subscribed to.
            if framework_id not in self._role_frameworks.get(role, ()):
                self._track_framework_under_role(framework, role)
            scalars = _scalar_quantities(allocation)
            self._role_sorter.allocated(role, slave_id, scalars)
            self._framework_sorters[role].allocated(framework_id, slave_id, scalars)

    def _untrack_allocated_resources(self, slave_id: str, framework_id: str,
                                     allocated: Resources) -> None:
        """Port of `untrackAllocatedResources`."""
        framework = self._frameworks[framework_id]
        for role, allocation in allocated.allocations().items():
            self._untrack_role_allocation(slave_id, framework, role, allocation)

    def _untrack_role_allocation(self, slave_id: str, framework: Framework, role: str,
                                 allocation: Resources) -> None:
        scalars = _scalar_quantities(allocation)
        _unallocate(self._framework_sorters[role], framework.framework_id, slave_id, scalars)
        _unallocate(self._role_sorter, role, slave_id, scalars)
        # A role the framework left is dropped once it holds nothing there.
        if role not in framework.roles:
            self._try_untrack_framework_under_role(framework.framework_id, role)

    def _update_slave_total(self, slave_id: str, total: Resources) -> bool:
        """Port of `updateSlaveTotal`; True if the total changed."""
        slave = self._slaves[slave_id]
        if slave.total == total:
            return False
        slave.update_total(total)
        self._role_sorter.remove_slave(slave_id)
        self._role_sorter.add_slave(slave_id, slave.total_quantities)
        for sorter in self._framework_sorters.values():
            sorter.remove_slave(slave_id)
            sorter.add_slave(slave_id, slave.total_quantities)
        return True

    # Metrics (evaluated on this thread, through `PullGauge`).

    def _resources_total(self, name: str) -> float:
        return float(self._role_sorter.total_scalar_quantities().get(name, 0.0))

    def _resources_offered_or_allocated(self, name: str) -> float:
        total = 0.0
        for slave in self._slaves.values():
            value = slave.total_offered_or_allocated.get_scalar(name)
            if value is not None:
                total += value
        return total

    def _offer_filters_active(self, role: str) -> float:
        count = 0
        for framework in self._frameworks.values():
            for filters in framework.offer_filters.get(role, {}).values():
                count += len(filters)
        return float(count)

    def _add_role_metrics(self, role: str) -> None:
        if not self._initialized or self._finalized:
            return
        gauge = metrics.PullGauge(f"allocator/mesos/offer_filters/roles/{role}/active",
                                  functools.partial(self._offer_filters_active, role), self)
        self._role_metrics[role] = gauge
        metrics.add(gauge)

    def _remove_role_metrics(self, role: str) -> None:
        gauge = self._role_metrics.pop(role, None)
        if gauge is not None and metrics.get(gauge.name) is gauge:
            metrics.remove(gauge)

    # Introspection for tests and endpoints (on this thread).

    def framework_sorter_order(self, role: str) -> list[str]:
        sorter = self._framework_sorters.get(role)
        return [] if sorter is None else sorter.sort()

    def role_sorter_order(self) -> list[str]:
        return self._role_sorter.sort()

    def offer_filter_count(self, framework_id: str) -> int:
        framework = self._frameworks.get(framework_id)
        if framework is None:
            return 0
        return sum(len(f) for by_slave in framework.offer_filters.values()
                   for f in by_slave.values())

    def available(self, slave_id: str) -> Resources | None:
        slave = self._slaves.get(slave_id)
        return None if slave is None else slave.available


# Mesos's name for the DRF instantiation of the process.
HierarchicalDRFAllocatorProcess = HierarchicalAllocatorProcess


class HierarchicalDRFAllocator(MesosAllocator):
    """The hierarchical DRF allocator the master uses (port of `HierarchicalDRFAllocator`,
    `MesosAllocator<HierarchicalDRFAllocatorProcess>`).

    Owns a `HierarchicalAllocatorProcess` (`.process`); each method dispatches onto it and
    returns the call's future. Safe to call from any thread.
    """

    process: HierarchicalAllocatorProcess

    def __init__(self) -> None:
        super().__init__(HierarchicalAllocatorProcess())
