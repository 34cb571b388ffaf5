"""The master's metrics, with Mesos's names (port of `src/master/metrics.cpp`).

Counters are bumped on the master's thread by the handlers (thread-safe values anyway);
gauges are `PullGauge`s evaluated on the master's thread when `/metrics/snapshot` is read,
as Mesos defers its gauges to the master process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from libprocess import clock, metrics
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2

if TYPE_CHECKING:
    from mesos.master.master import Master

__all__ = ["Metrics"]

# Counters, named `master/<name>` (Mesos's `Metrics` members of type `Counter`).
COUNTERS = (
    "dropped_messages",
    # Messages received, per type.
    "messages_register_framework",
    "messages_reregister_framework",
    "messages_unregister_framework",
    "messages_deactivate_framework",
    "messages_kill_task",
    "messages_status_update_acknowledgement",
    "messages_resource_request",
    "messages_launch_tasks",
    "messages_decline_offers",
    "messages_revive_offers",
    "messages_suppress_offers",
    "messages_reconcile_tasks",
    "messages_framework_to_executor",
    "messages_executor_to_framework",
    "messages_register_slave",
    "messages_reregister_slave",
    "messages_unregister_slave",
    "messages_status_update",
    "messages_exited_executor",
    "messages_update_slave",
    "messages_authenticate",
    "valid_framework_to_executor_messages",
    "invalid_framework_to_executor_messages",
    "valid_executor_to_framework_messages",
    "invalid_executor_to_framework_messages",
    "valid_status_updates",
    "invalid_status_updates",
    "valid_status_update_acknowledgements",
    "invalid_status_update_acknowledgements",
    # Terminal task states reached (non-terminal states are gauges).
    "tasks_finished",
    "tasks_failed",
    "tasks_killed",
    "tasks_lost",
    "tasks_error",
    "tasks_dropped",
    "tasks_gone",
    "tasks_gone_by_operator",
    # Agents.
    "slave_registrations",
    "slave_reregistrations",
    "slave_removals",
    "slave_removals/reason_registered",
    "slave_removals/reason_unhealthy",
    "slave_removals/reason_unregistered",
    "recovery_slave_removals",
    "slave_unreachable_scheduled",
    "slave_unreachable_completed",
    "slave_unreachable_canceled",
    "slave_shutdowns_scheduled",
    "slave_shutdowns_completed",
    "slave_shutdowns_canceled",
)

_NON_TERMINAL_TASK_GAUGES = {
    "tasks_staging": mesos_pb2.TASK_STAGING,
    "tasks_starting": mesos_pb2.TASK_STARTING,
    "tasks_running": mesos_pb2.TASK_RUNNING,
    "tasks_killing": mesos_pb2.TASK_KILLING,
}

_RESOURCES = ("cpus", "gpus", "mem", "disk")


class Metrics:
    """Every `master/...` metric of one master; `add()` registers them, `remove()` drops them.

    Built and used on the master's thread; the gauges it registers are evaluated there too
    (snapshots dispatch them onto the master).

    Counters read as attributes: `metrics.messages_register_slave.inc()` (a `/` in a Mesos
    name becomes `_`: `metrics.slave_removals_reason_unhealthy`).
    """

    def __init__(self, master: Master) -> None:
        self._master = master
        self._counters: dict[str, metrics.Counter] = {}
        for name in COUNTERS:
            self._counters[name.replace("/", "_")] = metrics.Counter(f"master/{name}")
        # `master/task_lost/source_master/reason_invalid_offers` and friends, made on first use.
        self._state_counters: dict[tuple[int, int, int], metrics.Counter] = {}
        self._gauges: list[metrics.Metric] = []
        self._make_gauges()

    def __getattr__(self, name: str) -> metrics.Counter:
        counters = self.__dict__.get("_counters", {})
        if name in counters:
            return counters[name]
        raise AttributeError(f"No master metric {name!r}")

    def add(self) -> None:
        for counter in self._counters.values():
            metrics.add(counter)
        for gauge in self._gauges:
            metrics.add(gauge)

    def remove(self) -> None:
        for metric in [*self._counters.values(), *self._gauges,
                       *self._state_counters.values()]:
            metrics.remove(metric)

    def increment_tasks_states(self, state: int, source: int, reason: int) -> None:
        """Counts a terminal transition by source and reason, as Mesos's
        `incrementTasksStates` (`master/task_lost/source_master/reason_invalid_offers`)."""
        key = (state, source, reason)
        counter = self._state_counters.get(key)
        if counter is None:
            name = "/".join((
                "master",
                mesos_pb2.TaskState.Name(state).lower(),
                mesos_pb2.TaskStatus.Source.Name(source).lower(),
                mesos_pb2.TaskStatus.Reason.Name(reason).lower(),
            ))
            counter = metrics.Counter(name)
            self._state_counters[key] = counter
            metrics.add(counter)
        counter.inc()

    # -- gauges ----------------------------------------------------------------------------

    def _gauge(self, name: str, fn: Any) -> None:
        self._gauges.append(metrics.PullGauge(f"master/{name}", fn, self._master))

    def _make_gauges(self) -> None:
        master = self._master
        self._gauge("elected", lambda: 1.0 if master.elected() else 0.0)
        self._gauge("uptime_secs", lambda: clock.now() - master.start_time)

        slaves = master.slaves
        self._gauge("slaves_connected", lambda: sum(1 for s in slaves.values() if s.connected))
        self._gauge("slaves_disconnected",
                    lambda: sum(1 for s in slaves.values() if not s.connected))
        self._gauge("slaves_active", lambda: sum(1 for s in slaves.values() if s.active))
        self._gauge("slaves_inactive", lambda: sum(1 for s in slaves.values() if not s.active))
        self._gauge("slaves_unreachable", lambda: len(master.slaves_unreachable))

        frameworks = master.frameworks
        self._gauge("frameworks_connected",
                    lambda: sum(1 for f in frameworks.values() if f.connected()))
        self._gauge("frameworks_disconnected",
                    lambda: sum(1 for f in frameworks.values() if not f.connected()))
        self._gauge("frameworks_active",
                    lambda: sum(1 for f in frameworks.values() if f.active()))
        self._gauge("frameworks_inactive",
                    lambda: sum(1 for f in frameworks.values() if not f.active()))

        self._gauge("outstanding_offers", lambda: len(master.offers))

        for name, state in _NON_TERMINAL_TASK_GAUGES.items():
            self._gauge(name, lambda state=state: sum(
                1 for s in slaves.values() for t in s.all_tasks() if t.state == state))
        self._gauge("tasks_unreachable", lambda: sum(
            1 for f in frameworks.values() for t in f.unreachable_tasks.values()
            if t.state == mesos_pb2.TASK_UNREACHABLE))

        self._gauge("event_queue_messages", lambda: _queued(master))

        for resource in _RESOURCES:
            self._gauge(f"{resource}_total", lambda r=resource: _total(master, r, False))
            self._gauge(f"{resource}_used", lambda r=resource: _used(master, r, False))
            self._gauge(f"{resource}_percent", lambda r=resource: _percent(
                _used(master, r, False), _total(master, r, False)))
            self._gauge(f"{resource}_revocable_total",
                        lambda r=resource: _total(master, r, True))
            self._gauge(f"{resource}_revocable_used", lambda r=resource: _used(master, r, True))
            self._gauge(f"{resource}_revocable_percent", lambda r=resource: _percent(
                _used(master, r, True), _total(master, r, True)))


def _queued(master: Master) -> float:
    """Events waiting in the master's queue (read on the master's thread).

    The runtime does not tell queued messages from dispatches and HTTP requests (pykka's
    inbox is an opaque queue), so this counts them all: an upper bound of Mesos's
    `event_queue_messages`.
    """
    inbox = getattr(getattr(master, "_actor", None), "actor_inbox", None)
    if inbox is None:
        return 0.0
    try:
        return float(inbox.qsize())
    except (AttributeError, NotImplementedError):
        return 0.0


def _total(master: Master, name: str, revocable: bool) -> float:
    total = 0.0
    for slave in master.slaves.values():
        resources = slave.total_resources
        part = resources.revocable() if revocable else Resources(slave.info.resources)
        total += part.get_scalar(name) or 0.0
    return total


def _used(master: Master, name: str, revocable: bool) -> float:
    used = 0.0
    for slave in master.slaves.values():
        resources = slave.total_used_resources()
        part = resources.revocable() if revocable else resources.non_revocable()
        used += part.get_scalar(name) or 0.0
    return used


def _percent(used: float, total: float) -> float:
    return used / total if total > 0 else 0.0
