"""The scheduler driver: `SchedulerProcess` and its facade `MesosSchedulerDriver`.

Port of `src/sched/sched.cpp`. `MesosSchedulerDriver` is the drop-in for the official
`mesos.native.MesosSchedulerDriver`: same constructor, same methods (each returns a
`mesos_pb2.Status`), same callbacks. Every method is safe from any thread, including from a
scheduler callback: it checks the driver's status under a lock and `dispatch`es the work to
the `SchedulerProcess`, which owns the conversation with the master and calls the scheduler's
callbacks on its own thread, one at a time.

The protocol is Mesos's "PID framework" protocol (mesos-behaviour.md §1.2, §2.11): the driver
sends `mesos.scheduler.Call`s (SUBSCRIBE, TEARDOWN, ACCEPT, ...) and, on abort, a
`DeactivateFrameworkMessage`; the master answers with the legacy `mesos.internal` messages
(`FrameworkRegisteredMessage`, `ResourceOffersMessage`, `StatusUpdateMessage`, ...). The
driver also understands `mesos.scheduler.Event`s, as the C++ driver does.
"""

from __future__ import annotations

import getpass
import logging
import math
import os
import random
import socket
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from google.protobuf.message import Message

from libprocess import UPID, Future, Process, UPIDError, clock, defer, delay, dispatch, spawn
from libprocess import terminate as _terminate
from libprocess.clock import Timer
from mesos.common.durations import parse_duration
from mesos.common.framework_info import framework_roles
from mesos.interface import SchedulerDriver
from mesos.protos.mesos import mesos_pb2
from mesos.protos.mesos.scheduler import scheduler_pb2
from mesos.protos.messages import messages_pb2
from mesos.sched.constants import (
    DEFAULT_REGISTRATION_BACKOFF_FACTOR,
    MESOS_VERSION,
    REGISTRATION_RETRY_INTERVAL_MAX,
)
from mesos.sched.detector import DetectorError, create_detector

__all__ = ["MesosSchedulerDriver", "SchedulerProcess"]

log = logging.getLogger(__name__)

Call = scheduler_pb2.Call
Event = scheduler_pb2.Event

DRIVER_NOT_STARTED = mesos_pb2.DRIVER_NOT_STARTED
DRIVER_RUNNING = mesos_pb2.DRIVER_RUNNING
DRIVER_ABORTED = mesos_pb2.DRIVER_ABORTED
DRIVER_STOPPED = mesos_pb2.DRIVER_STOPPED


def _copy(message: Any) -> Any:
    out = type(message)()
    out.CopyFrom(message)
    return out


def _pid(text: str) -> UPID:
    """A UPID from a message field; the empty UPID when it does not parse."""
    if not text:
        return UPID()
    try:
        return UPID(text)
    except UPIDError:
        return UPID()


class SchedulerProcess(Process):
    """The driver's actor (`scheduler-<uuid>`): registration, the master's messages, callbacks.

    Everything here runs on this process's thread, including every call into the framework's
    `Scheduler`. The detector is any object with `detect(previous) -> Future[MasterInfo |
    None]` (and optionally `lost(master)` and, when the driver owns it, `terminate()`), such
    as `StandaloneMasterDetector`.

    Two values are shared with the facade, as in the C++ driver: `running` (a
    `threading.Event` the facade clears on `stop()`/`abort()`, so that events already queued
    are not handled any more) and `latch` (set when the driver stops or aborts; `join()`
    waits on it).
    """

    def __init__(self, driver: MesosSchedulerDriver, scheduler: Any, framework: Any,
                 suppressed_roles: Iterable[str], offer_constraints: Any,
                 credential: Any, implicit_acknowledgements: bool, scheduler_id: str,
                 detector: Any, owns_detector: bool, registration_backoff_factor: float,
                 running: threading.Event, latch: threading.Event) -> None:
        super().__init__(scheduler_id)
        self.driver = driver
        self.scheduler = scheduler
        self.framework = _copy(framework)
        self.suppressed_roles: set[str] = set(suppressed_roles)
        self.offer_constraints = offer_constraints
        self.credential = credential
        self.implicit_acknowledgements = implicit_acknowledgements
        self.detector = detector
        self.owns_detector = owns_detector
        self.registration_backoff_factor = registration_backoff_factor
        self.running = running
        self.latch = latch

        # True until the first successful (re)registration of a framework that was started
        # with an id: its first SUBSCRIBE carries `force` and it sees `registered()`.
        self.failover = self._has_framework_id()

        # The leading master, as detected (`MasterInfo` and its UPID), or None.
        self.master: Any = None
        self.master_pid: UPID | None = None

        # True while registered with `master`.
        self.connected = False

        # Set when an UPDATE_FRAMEWORK must follow the next (re)registration.
        self.send_update_framework_on_connect = False

        self.registration_timer: Timer | None = None

        # Offer id -> agent id -> agent UPID, learned from offers; and agent id -> UPID for
        # agents that run our tasks, so framework messages can go straight to them.
        self.saved_offers: dict[str, dict[str, UPID]] = {}
        self.saved_slave_pids: dict[str, UPID] = {}

        # Messages ignored because of their sender or the driver's state.
        self.ignored_messages = 0

    # Lifecycle.

    def initialize(self) -> None:
        log.info("Version: %s", MESOS_VERSION)

        self.install(Event, self.receive)
        self.install(messages_pb2.FrameworkRegisteredMessage, self.registered,
                     "framework_id", "master_info")
        self.install(messages_pb2.FrameworkReregisteredMessage, self.reregistered,
                     "framework_id", "master_info")
        self.install(messages_pb2.ResourceOffersMessage, self.resource_offers,
                     "offers", "pids")
        self.install(messages_pb2.RescindResourceOfferMessage, self.rescind_offer,
                     "offer_id")
        self.install(messages_pb2.StatusUpdateMessage, self.status_update, "update", "pid")
        self.install(messages_pb2.LostSlaveMessage, self.lost_slave, "slave_id")
        self.install(messages_pb2.ExitedExecutorMessage, self.lost_executor,
                     "executor_id", "slave_id", "status")
        self.install(messages_pb2.ExecutorToFrameworkMessage, self.framework_message,
                     "slave_id", "executor_id", "data")
        self.install(messages_pb2.FrameworkErrorMessage, self.framework_error, "message")

        # Start detecting masters.
        self.detector.detect(None).on_any(defer(self, self.detected))

    def finalize(self) -> None:
        self._cancel_registration_timer()
        if self.owns_detector:
            self.detector.terminate()

    def exited(self, upid: UPID) -> None:
        """The link to the master broke: disconnected, and the detector looks again.

        The C++ driver leaves this to its detector (ZooKeeper notices a dead master); a
        standalone master that restarts comes back at a new transport port, so here the
        driver tells the detector (`lost`), which re-resolves the master's HTTP address. A
        detector without `lost` watches the masters itself: then, as in Mesos, nothing
        happens until it reports a change.
        """
        if not self.running.is_set():
            return
        if self.master_pid is None or upid != self.master_pid:
            log.debug("Ignoring the exit of %s because it is not the leading master", upid)
            return
        report = getattr(self.detector, "lost", None)
        if report is None:
            log.warning("Master %s exited; waiting for the detector to notice", upid)
            return
        log.warning("Master %s exited; waiting for a master to be detected", upid)
        if self.connected:
            self._call("disconnected")
        self.connected = False
        self._cancel_registration_timer()
        lost, self.master, self.master_pid = self.master, None, None
        report(lost)

    # Detection and registration.

    def detected(self, future: Future[Any]) -> None:
        """The detector has an answer: the new leading master (`MasterInfo`) or None."""
        if not self.running.is_set():
            log.debug("Ignoring the master change because the driver is not running")
            return
        if future.is_discarded():
            log.warning("The master detector went away; no more masters will be detected")
            return
        if future.is_failed():
            self.error(f"Failed to detect a master: {future.failure}")
            return

        detected = master = future.value
        pid = _pid(master.pid) if master is not None else UPID()
        if master is not None and not pid:
            log.error("Ignoring the detected master %s because it has no valid pid",
                      master.id)
            master = None

        if self.connected:
            # The master failed, or failed over (to another master or to the same one): in
            # every case the driver registers again, so the scheduler learns of the gap.
            self._call("disconnected")
        self.connected = False

        self.master = master
        self.master_pid = pid if master is not None else None

        if master is not None:
            log.info("New master detected at %s", pid)
            self.link(pid)
            # No spurious retry for the previous master.
            self._cancel_registration_timer()
            self.do_reliable_registration(self.registration_backoff_factor)
        else:
            log.info("No master detected")

        # Keep detecting masters (changes from what the detector said, usable or not).
        self.detector.detect(detected).on_any(defer(self, self.detected))

    def do_reliable_registration(self, max_backoff: float) -> None:
        """Sends SUBSCRIBE, and retries after a random delay in [0, `max_backoff`] (which
        doubles each time, capped at 1 minute and at a tenth of the failover timeout) until
        the master answers."""
        self.registration_timer = None
        if not self.running.is_set() or self.connected or self.master_pid is None:
            return

        call = Call()
        call.type = Call.SUBSCRIBE
        subscribe = call.subscribe
        subscribe.framework_info.CopyFrom(self.framework)
        if self.offer_constraints is not None:
            subscribe.offer_constraints.CopyFrom(self.offer_constraints)
        subscribe.suppressed_roles.extend(sorted(self.suppressed_roles))
        if self._has_framework_id():
            subscribe.force = self.failover
            call.framework_id.CopyFrom(self.framework.id)

        log.debug("Sending SUBSCRIBE call to %s", self.master_pid)
        self.send(self.master_pid, call)

        max_backoff = min(max_backoff, REGISTRATION_RETRY_INTERVAL_MAX)
        if self.framework.HasField("failover_timeout"):
            timeout = self.framework.failover_timeout
            if math.isfinite(timeout) and timeout > 0:
                max_backoff = min(max_backoff, timeout / 10)

        seconds = max_backoff * random.random()
        log.debug("Will retry registration in %.3f secs if necessary", seconds)
        self.registration_timer = delay(seconds, self, self.do_reliable_registration,
                                        max_backoff * 2)

    def registered(self, from_: UPID, framework_id: Any, master_info: Any) -> None:
        if not self._check_running("framework registered message", from_):
            return
        if self.connected:
            log.debug("Ignoring framework registered message from %s because the driver "
                      "is already connected", from_)
            return
        if not self._from_master("framework registered message", from_):
            return

        log.info("Framework registered with %s", framework_id.value)
        self.framework.id.CopyFrom(framework_id)
        self.connected = True
        self.failover = False
        self._cancel_registration_timer()
        self._connected()
        self._call("registered", _copy(framework_id), _copy(master_info))

    def reregistered(self, from_: UPID, framework_id: Any, master_info: Any) -> None:
        if not self._check_running("framework reregistered message", from_):
            return
        if self.connected:
            log.debug("Ignoring framework reregistered message from %s because the driver "
                      "is already connected", from_)
            return
        if not self._from_master("framework reregistered message", from_):
            return
        if framework_id != self.framework.id:
            self._ignore("framework reregistered message", from_,
                         f"it is for framework {framework_id.value}, not "
                         f"{self.framework.id.value}")
            return

        log.info("Framework reregistered with %s", framework_id.value)
        self.connected = True
        self.failover = False
        self._cancel_registration_timer()
        self._connected()
        self._call("reregistered", _copy(master_info))

    def _connected(self) -> None:
        if self.send_update_framework_on_connect:
            self.send_update_framework()
        self.send_update_framework_on_connect = False

    # The master's messages.

    def receive(self, from_: UPID, event: Any) -> None:
        """A `mesos.scheduler.Event`, translated to the legacy handlers (as sched.cpp does)."""
        kind = event.type
        if kind == Event.SUBSCRIBED:
            if not event.HasField("subscribed"):
                self._drop_event(from_, event, "'subscribed' is missing")
            elif self.master is None:
                self._drop_event(from_, event, "no master is detected")
            else:
                # The registration timer is cancelled by `registered`/`reregistered`, once
                # they know the event is the leader's: an impostor's SUBSCRIBED must not
                # stop the driver's retries.
                framework_id = event.subscribed.framework_id
                if not self._has_framework_id() or self.failover:
                    self.registered(from_, framework_id, self.master)
                else:
                    self.reregistered(from_, framework_id, self.master)
        elif kind == Event.OFFERS:
            if not event.HasField("offers"):
                self._drop_event(from_, event, "'offers' is missing")
                return
            pids = []
            for offer in event.offers.offers:
                url = offer.url
                if not url.HasField("path") or not url.address.ip:
                    self._drop_event(from_, event, "an offer has no agent 'url'")
                    return
                pids.append(f"{url.path.strip('/')}@{url.address.ip}:{url.address.port}")
            self.resource_offers(from_, event.offers.offers, pids)
        elif kind == Event.RESCIND:
            if not event.HasField("rescind"):
                self._drop_event(from_, event, "'rescind' is missing")
                return
            self.rescind_offer(from_, event.rescind.offer_id)
        elif kind == Event.UPDATE:
            if not event.HasField("update"):
                self._drop_event(from_, event, "'update' is missing")
                return
            status = event.update.status
            update = messages_pb2.StatusUpdate()
            update.framework_id.CopyFrom(self.framework.id)
            update.status.CopyFrom(status)
            update.timestamp = status.timestamp
            if status.HasField("executor_id"):
                update.executor_id.CopyFrom(status.executor_id)
            if status.HasField("slave_id"):
                update.slave_id.CopyFrom(status.slave_id)
            if status.HasField("uuid"):
                update.uuid = status.uuid
            self.status_update(from_, update, "")
        elif kind == Event.MESSAGE:
            if not event.HasField("message"):
                self._drop_event(from_, event, "'message' is missing")
                return
            message = event.message
            self.framework_message(from_, message.slave_id, message.executor_id, message.data)
        elif kind == Event.FAILURE:
            if not event.HasField("failure"):
                self._drop_event(from_, event, "'failure' is missing")
                return
            failure = event.failure
            if failure.HasField("slave_id") and failure.HasField("executor_id"):
                self.lost_executor(from_, failure.executor_id, failure.slave_id,
                                   failure.status)
            elif failure.HasField("slave_id"):
                self.lost_slave(from_, failure.slave_id)
            else:
                self._drop_event(from_, event, "'slave_id' is missing")
        elif kind == Event.ERROR:
            if not event.HasField("error"):
                self._drop_event(from_, event, "'error' is missing")
                return
            self.framework_error(from_, event.error.message)
        elif kind in (Event.HEARTBEAT, Event.INVERSE_OFFERS, Event.RESCIND_INVERSE_OFFER,
                      Event.UPDATE_OPERATION_STATUS):
            pass
        else:
            self._drop_event(from_, event, "it is of an unknown type")

    def resource_offers(self, from_: UPID, offers: Any, pids: Any) -> None:
        what = "resource offers message"
        if not (self._check_running(what, from_) and self._check_connected(what, from_)
                and self._from_master(what, from_)):
            return
        # Without inverse offers in this API, an offer-less message has nothing to deliver.
        if len(offers) == 0:
            return
        if len(offers) != len(pids):
            self._ignore(what, from_, f"it has {len(offers)} offers but {len(pids)} pids")
            return

        log.debug("Received %d offers", len(offers))
        # Remember the agent of each offer, to send framework messages straight to it.
        for offer, text in zip(offers, pids, strict=True):
            pid = _pid(text)
            if pid:
                self.saved_offers.setdefault(offer.id.value, {})[offer.slave_id.value] = pid
            else:
                log.debug("Failed to parse agent pid '%s'", text)

        self._call("resourceOffers", [_copy(offer) for offer in offers])

    def rescind_offer(self, from_: UPID, offer_id: Any) -> None:
        what = "rescind offer message"
        if not (self._check_running(what, from_) and self._check_connected(what, from_)
                and self._from_master(what, from_)):
            return
        log.debug("Rescinded offer %s", offer_id.value)
        self.saved_offers.pop(offer_id.value, None)
        self._call("offerRescinded", _copy(offer_id))

    def status_update(self, from_: UPID | None, update: Any, pid: str | None) -> None:
        """An update from the master, or (with `from_` None) one the driver made itself."""
        what = "status update message"
        if not self._check_running(what, from_):
            return
        # Updates made by the driver itself pass whatever the connection state.
        if from_:
            if not (self._check_connected(what, from_) and self._from_master(what, from_)):
                return
        if update.framework_id != self.framework.id:
            self._ignore(what, from_, f"it is for framework {update.framework_id.value}, "
                                      f"not {self.framework.id.value}")
            return

        status = mesos_pb2.TaskStatus()
        status.CopyFrom(update.status)
        # The scheduler sees a uuid only on an update it has to acknowledge; updates made by
        # the master or by the driver carry none.
        has_uuid = update.HasField("uuid") and update.uuid != b""
        if has_uuid and from_ and _pid(pid or ""):
            status.uuid = update.uuid
        else:
            status.ClearField("uuid")

        log.debug("Received status update for task %s: %s", status.task_id.value,
                  mesos_pb2.TaskState.Name(status.state))
        self._call("statusUpdate", status)

        if not self.implicit_acknowledgements:
            return
        # `running` is looked at again: the callback may have stopped or aborted the driver,
        # and then the update must stay unacknowledged (it will be sent again).
        if not self.running.is_set():
            log.debug("Not sending status update acknowledgement because the driver is "
                      "not running")
            return
        # Only updates with a uuid are acknowledged, and those come from the master.
        master = self.master_pid
        if not has_uuid or master is None:
            return
        if not update.HasField("slave_id"):
            log.warning("Not acknowledging the status update for task %s because it has no "
                        "agent id", update.status.task_id.value)
            return

        call = Call()
        call.framework_id.CopyFrom(self.framework.id)
        call.type = Call.ACKNOWLEDGE
        call.acknowledge.slave_id.CopyFrom(update.slave_id)
        call.acknowledge.task_id.CopyFrom(update.status.task_id)
        call.acknowledge.uuid = update.uuid
        log.debug("Sending acknowledgement for the status update of task %s to %s",
                  update.status.task_id.value, master)
        self.send(master, call)

    def lost_slave(self, from_: UPID, slave_id: Any) -> None:
        what = "lost agent message"
        if not (self._check_running(what, from_) and self._check_connected(what, from_)
                and self._from_master(what, from_)):
            return
        log.debug("Lost agent %s", slave_id.value)
        self.saved_slave_pids.pop(slave_id.value, None)
        self._call("slaveLost", _copy(slave_id))

    def lost_executor(self, from_: UPID, executor_id: Any, slave_id: Any, status: int) -> None:
        what = "lost executor message"
        if not (self._check_running(what, from_) and self._check_connected(what, from_)
                and self._from_master(what, from_)):
            return
        log.debug("Executor %s on agent %s exited with status %d", executor_id.value,
                  slave_id.value, status)
        self._call("executorLost", _copy(executor_id), _copy(slave_id), int(status))

    def framework_message(self, from_: UPID, slave_id: Any, executor_id: Any,
                          data: bytes) -> None:
        # Executors' messages may come straight from their agent: any sender is accepted.
        if not self._check_running("framework message", from_):
            return
        self._call("frameworkMessage", _copy(executor_id), _copy(slave_id), bytes(data))

    def framework_error(self, from_: UPID, message: str) -> None:
        """FrameworkErrorMessage (or an ERROR event): the driver aborts, but only for its
        leading master. The C++ driver takes an error from any sender; here one from a
        deposed master (split brain) or any other process must not kill a healthy
        framework, as for every other message of the master (mesos-behaviour.md §2.11)."""
        what = f"framework error message '{message}'"
        if not (self._check_running(what, from_) and self._from_master(what, from_)):
            return
        self.error(message)

    def error(self, message: str) -> None:
        """Aborts the driver, then tells the scheduler (the order Mesos promises)."""
        if not self.running.is_set():
            log.debug("Ignoring error '%s' because the driver is not running", message)
            return
        log.info("Got error '%s'", message)
        self.driver.abort()
        self._call("error", message)

    # The facade's calls (dispatched from `MesosSchedulerDriver`).

    def stop(self, failover: bool) -> None:
        log.info("Stopping framework %s", self.framework.id.value)
        # Whether or not TEARDOWN goes out, this process is done.
        _terminate(self)
        if self.connected and not failover and self.master_pid is not None:
            call = Call()
            call.framework_id.CopyFrom(self.framework.id)
            call.type = Call.TEARDOWN
            self.send(self.master_pid, call)
        self.latch.set()

    def abort(self) -> None:
        """Tells the master to stop sending to this scheduler.

        The process is not terminated: a later `stop()` still comes here.
        """
        log.info("Aborting framework %s", self.framework.id.value)
        if not self.connected or self.master_pid is None:
            log.debug("Not sending a deactivate message as master is disconnected")
        else:
            message = messages_pb2.DeactivateFrameworkMessage()
            message.framework_id.CopyFrom(self.framework.id)
            self.send(self.master_pid, message)
        self.latch.set()

    def kill_task(self, task_id: Any) -> None:
        master = self._connected_master("kill task")
        if master is None:
            return
        call = self._call_for(Call.KILL)
        call.kill.task_id.CopyFrom(task_id)
        self.send(master, call)

    def request_resources(self, requests: list[Any]) -> None:
        master = self._connected_master("request resources")
        if master is None:
            return
        call = self._call_for(Call.REQUEST)
        call.request.SetInParent()
        for request in requests:
            call.request.requests.add().CopyFrom(request)
        self.send(master, call)

    def launch_tasks(self, offer_ids: list[Any], tasks: list[Any], filters: Any) -> None:
        operation = mesos_pb2.Offer.Operation()
        operation.type = mesos_pb2.Offer.Operation.LAUNCH
        operation.launch.SetInParent()
        for task in tasks:
            operation.launch.task_infos.add().CopyFrom(task)
        self.accept_offers(offer_ids, [operation], filters)

    def accept_offers(self, offer_ids: list[Any], operations: list[Any], filters: Any) -> None:
        if not self.connected or self.master_pid is None:
            log.debug("Ignoring accept offers message as master is disconnected")
            self._tasks_lost_while_disconnected(operations)
            return

        call = self._call_for(Call.ACCEPT)
        accept = call.accept
        for operation in operations:
            accept.operations.add().CopyFrom(operation)
        for offer_id in offer_ids:
            accept.offer_ids.add().CopyFrom(offer_id)
            agents = self.saved_offers.pop(offer_id.value, None)
            if agents is None:
                log.warning("Attempting to accept an unknown offer %s", offer_id.value)
                continue
            # Keep the agents that will run our tasks, for direct framework messages.
            for operation in operations:
                if operation.type != mesos_pb2.Offer.Operation.LAUNCH:
                    continue
                for task in operation.launch.task_infos:
                    pid = agents.get(task.slave_id.value)
                    if pid is not None:
                        self.saved_slave_pids[task.slave_id.value] = pid
                    else:
                        log.warning("Attempting to launch task %s with the wrong agent id %s",
                                    task.task_id.value, task.slave_id.value)
        accept.filters.SetInParent()
        accept.filters.CopyFrom(filters)
        self.send(self.master_pid, call)

    def _tasks_lost_while_disconnected(self, operations: list[Any]) -> None:
        # The master never hears of these tasks: tell the scheduler they are gone rather than
        # let it believe they are pending forever.
        partition_aware = any(
            capability.type == mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE
            for capability in self.framework.capabilities)
        state = mesos_pb2.TASK_DROPPED if partition_aware else mesos_pb2.TASK_LOST
        for operation in operations:
            if operation.type != mesos_pb2.Offer.Operation.LAUNCH:
                continue
            for task in operation.launch.task_infos:
                now = clock.now()
                update = messages_pb2.StatusUpdate()
                update.framework_id.CopyFrom(self.framework.id)
                update.timestamp = now
                status = update.status
                status.task_id.CopyFrom(task.task_id)
                status.state = state
                status.source = mesos_pb2.TaskStatus.SOURCE_MASTER
                status.reason = mesos_pb2.TaskStatus.REASON_MASTER_DISCONNECTED
                status.message = "Master disconnected"
                status.timestamp = now
                self.status_update(None, update, None)

    def decline_offer(self, offer_id: Any, filters: Any) -> None:
        master = self._connected_master("decline offer")
        if master is None:
            return
        if self.saved_offers.pop(offer_id.value, None) is None:
            log.warning("Attempting to decline an unknown offer %s", offer_id.value)
        call = self._call_for(Call.DECLINE)
        call.decline.offer_ids.add().CopyFrom(offer_id)
        call.decline.filters.SetInParent()
        call.decline.filters.CopyFrom(filters)
        self.send(master, call)

    def revive_offers(self, roles: list[str]) -> None:
        """Revives offers for `roles` (all roles when empty)."""
        if roles:
            self.suppressed_roles.difference_update(roles)
        else:
            self.suppressed_roles.clear()
        if not self.connected or self.master_pid is None:
            log.debug("Ignoring REVIVE as master is disconnected; the suppressed roles will "
                      "be sent to the master when the driver registers again")
            self.send_update_framework_on_connect = True
            return
        call = self._call_for(Call.REVIVE)
        if roles:
            call.revive.roles.extend(roles)
        self.send(self.master_pid, call)

    def suppress_offers(self, roles: list[str]) -> None:
        """Suppresses offers for `roles` (all of the framework's roles when empty)."""
        if roles:
            self.suppressed_roles.update(roles)
        else:
            self.suppressed_roles = set(framework_roles(self.framework))
        if not self.connected or self.master_pid is None:
            log.debug("Ignoring SUPPRESS as master is disconnected; the suppressed roles "
                      "will be sent to the master when the driver registers again")
            self.send_update_framework_on_connect = True
            return
        call = self._call_for(Call.SUPPRESS)
        if roles:
            call.suppress.roles.extend(roles)
        self.send(self.master_pid, call)

    def acknowledge_status_update(self, status: Any) -> None:
        if not self.connected or self.master_pid is None:
            log.debug("Ignoring explicit status update acknowledgement because the driver "
                      "is disconnected")
            return
        # Updates made by the master or by the driver carry no uuid: nothing to send.
        if not (status.HasField("uuid") and status.HasField("slave_id")):
            log.debug("Received acknowledgement of a status update of task %s that needs "
                      "none", status.task_id.value)
            return
        call = self._call_for(Call.ACKNOWLEDGE)
        call.acknowledge.slave_id.CopyFrom(status.slave_id)
        call.acknowledge.task_id.CopyFrom(status.task_id)
        call.acknowledge.uuid = status.uuid
        self.send(self.master_pid, call)

    def send_framework_message(self, executor_id: Any, slave_id: Any, data: bytes) -> None:
        master = self._connected_master("send framework message")
        if master is None:
            return
        agent = self.saved_slave_pids.get(slave_id.value)
        if agent is not None:
            message = messages_pb2.FrameworkToExecutorMessage()
            message.slave_id.CopyFrom(slave_id)
            message.framework_id.CopyFrom(self.framework.id)
            message.executor_id.CopyFrom(executor_id)
            message.data = data
            self.send(agent, message)
            return
        log.debug("Cannot send directly to agent %s; sending through master", slave_id.value)
        call = self._call_for(Call.MESSAGE)
        call.message.slave_id.CopyFrom(slave_id)
        call.message.executor_id.CopyFrom(executor_id)
        call.message.data = data
        self.send(master, call)

    def reconcile_tasks(self, statuses: list[Any]) -> None:
        master = self._connected_master("task reconciliation")
        if master is None:
            return
        call = self._call_for(Call.RECONCILE)
        call.reconcile.SetInParent()
        for status in statuses:
            task = call.reconcile.tasks.add()
            task.task_id.CopyFrom(status.task_id)
            if status.HasField("slave_id"):
                task.slave_id.CopyFrom(status.slave_id)
        self.send(master, call)

    def update_framework(self, framework: Any, suppressed_roles: list[str],
                         offer_constraints: Any) -> None:
        if not self._has_framework_id():
            self.error("MesosSchedulerDriver.updateFramework() must not be called prior to "
                       "registration with the master")
            return
        if framework.id != self.framework.id:
            self.error(f"The 'FrameworkInfo.id' provided to "
                       f"MesosSchedulerDriver.updateFramework() ({framework.id.value}) must be "
                       f"equal to the value known to the MesosSchedulerDriver "
                       f"({self.framework.id.value})")
            return
        self.framework = framework
        self.suppressed_roles = set(suppressed_roles)
        self.offer_constraints = offer_constraints
        if self.connected:
            self.send_update_framework()
        else:
            log.debug("Postponing UPDATE_FRAMEWORK call: not registered with master")
            self.send_update_framework_on_connect = True

    def send_update_framework(self) -> None:
        if self.master_pid is None:
            return
        call = self._call_for(Call.UPDATE_FRAMEWORK)
        update = call.update_framework
        update.framework_info.CopyFrom(self.framework)
        if self.offer_constraints is not None:
            update.offer_constraints.CopyFrom(self.offer_constraints)
        update.suppressed_roles.extend(sorted(self.suppressed_roles))
        log.debug("Sending UPDATE_FRAMEWORK call")
        self.send(self.master_pid, call)

    # Helpers.

    def _has_framework_id(self) -> bool:
        return self.framework.HasField("id") and self.framework.id.value != ""

    def _call_for(self, kind: Any) -> Any:
        call = Call()
        call.framework_id.CopyFrom(self.framework.id)
        call.type = kind
        return call

    def _call(self, name: str, *args: Any) -> None:
        """Calls `scheduler.<name>(driver, *args)`.

        An exception escaping the callback is logged and aborts the driver, as the official
        Python bindings do (except from `error`, after which the driver is aborted already).
        """
        try:
            getattr(self.scheduler, name)(self.driver, *args)
        except Exception:
            log.exception("The scheduler's %s callback raised; aborting the driver", name)
            if name != "error":
                self.driver.abort()

    def _cancel_registration_timer(self) -> None:
        if self.registration_timer is not None:
            self.registration_timer.cancel()
            self.registration_timer = None

    def _ignore(self, what: str, from_: UPID | None, reason: str) -> None:
        self.ignored_messages += 1
        log.warning("Ignoring %s from %s because %s", what, from_ or "the driver", reason)

    def _check_running(self, what: str, from_: UPID | None) -> bool:
        if self.running.is_set():
            return True
        self.ignored_messages += 1
        log.debug("Ignoring %s from %s because the driver is not running", what,
                  from_ or "the driver")
        return False

    def _check_connected(self, what: str, from_: UPID | None) -> bool:
        if self.connected:
            return True
        self.ignored_messages += 1
        log.debug("Ignoring %s from %s because the driver is disconnected", what, from_)
        return False

    def _from_master(self, what: str, from_: UPID | None) -> bool:
        if self.master_pid is not None and from_ == self.master_pid:
            return True
        self._ignore(what, from_, f"it was not sent from the current leading master "
                                  f"({self.master_pid or 'none'})")
        return False

    def _connected_master(self, what: str) -> UPID | None:
        """The master to send a call to, or None (and a log line) while disconnected."""
        if self.connected and self.master_pid is not None:
            return self.master_pid
        log.debug("Ignoring %s call as master is disconnected", what)
        return None

    def _drop_event(self, from_: UPID, event: Any, reason: str) -> None:
        self._ignore(f"{Event.Type.Name(event.type)} event", from_, reason)


# The facade.


def _check_type(value: Any, cls: type[Message], what: str) -> None:
    name = cls.DESCRIPTOR.full_name
    if getattr(getattr(value, "DESCRIPTOR", None), "full_name", None) != name:
        raise TypeError(f"Expected a {name} for {what}, got {type(value).__name__}")


def _message(value: Any, cls: type[Message], what: str) -> Any:
    """A private copy of a protobuf argument (raises if it is not `cls` or not initialized).

    The copy goes through the wire format, as the official bindings' does, so a message of
    another module with the same type (another `mesos_pb2`) is accepted too.
    """
    _check_type(value, cls, what)
    out = cls()
    out.ParseFromString(value.SerializeToString())
    return out


def _messages(values: Any, cls: type[Message], what: str) -> list[Any]:
    if isinstance(values, Message) or isinstance(values, str | bytes):
        raise TypeError(f"Expected a list of {cls.DESCRIPTOR.full_name} for {what}, "
                        f"got {type(values).__name__}")
    return [_message(value, cls, what) for value in values]


def _one_or_many(values: Any, cls: type[Message], what: str) -> list[Any]:
    if isinstance(values, Message):
        return [_message(values, cls, what)]
    return _messages(values, cls, what)


def _roles(roles: Any, what: str) -> list[str]:
    if isinstance(roles, str):
        return [roles]
    out = list(roles)
    for role in out:
        if not isinstance(role, str):
            raise TypeError(f"Expected role names (str) for {what}, got {type(role).__name__}")
    return out


def _current_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return getpass.getuser()


def _framework_info(value: Any) -> Any:
    """A copy of a `FrameworkInfo` with `user` and `hostname` filled in when empty (port of
    `fillMissingFrameworkInfoFields`); raises if it still lacks a required field."""
    _check_type(value, mesos_pb2.FrameworkInfo, "the framework")
    framework = mesos_pb2.FrameworkInfo()
    framework.ParseFromString(value.SerializePartialToString())
    if not framework.user:
        framework.user = _current_user()
    if not framework.hostname:
        try:
            framework.hostname = socket.gethostname()
        except OSError:
            pass
    if not framework.IsInitialized():
        missing = ", ".join(framework.FindInitializationErrors())
        raise ValueError(f"The FrameworkInfo is missing required fields: {missing}")
    return framework


def _registration_backoff_factor() -> float:
    """The scheduler flag `registration_backoff_factor` (`MESOS_REGISTRATION_BACKOFF_FACTOR`)."""
    text = os.environ.get("MESOS_REGISTRATION_BACKOFF_FACTOR")
    if text is None:
        return DEFAULT_REGISTRATION_BACKOFF_FACTOR
    try:
        return parse_duration(text)
    except ValueError as e:
        raise ValueError(f"Failed to load flag 'registration_backoff_factor': {e}") from None


class MesosSchedulerDriver(SchedulerDriver):
    """The scheduler driver of the official Python bindings (`mesos.native`), on this port.

    `MesosSchedulerDriver(scheduler, framework, master, implicitAcknowledgements=True,
    credential=None)`: `master` is `host:port` (the master's HTTP address), `master@ip:port`
    or `file:///path`. Owns the driver's status (guarded by a lock, so every method is safe
    from any thread) and the `SchedulerProcess` it spawns on `start()`; the scheduler's
    callbacks run on that process's thread.

    Keyword-only extras, not in the official bindings: `suppressedRoles` (the roles to
    subscribe suppressed, as the C++ constructor allows) and `detector` (a detector such as
    `StandaloneMasterDetector`, which tests use to appoint the master, as Mesos's tests do).
    """

    def __init__(self, scheduler: Any, framework: Any, master: Any,
                 implicitAcknowledgements: Any = True, credential: Any = None, *,
                 suppressedRoles: Any = None, detector: Any = None) -> None:
        if detector is None and not isinstance(master, str):
            raise TypeError(f"Expected the master as a string, got {type(master).__name__}")
        self._lock = threading.RLock()
        self._scheduler = scheduler
        self._framework = _framework_info(framework)
        self._master = master
        self._implicit_acknowledgements = bool(implicitAcknowledgements)
        self._credential = (None if credential is None else
                            _message(credential, mesos_pb2.Credential, "the credential"))
        roles = [] if suppressedRoles is None else _roles(suppressedRoles, "suppressedRoles")
        if len(set(roles)) != len(roles):
            raise ValueError(f"Invalid suppressed role list: contains duplicates {roles}")
        self._suppressed_roles = roles
        self._detector = detector
        self._process: SchedulerProcess | None = None
        self._running = threading.Event()
        self._latch = threading.Event()
        self._status = DRIVER_NOT_STARTED
        # A UUID, so the master can tell this run of the scheduler from earlier ones.
        self._scheduler_id = f"scheduler-{uuid.uuid4()}"

    @property
    def process(self) -> SchedulerProcess | None:
        """The driver's process once started (for tests and debugging)."""
        return self._process

    def _error(self, message: str) -> None:
        try:
            self._scheduler.error(self, message)
        except Exception:
            log.exception("The scheduler's error callback raised")

    def start(self) -> int:
        with self._lock:
            if self._status != DRIVER_NOT_STARTED:
                return self._status

            detector = self._detector
            owns_detector = False
            if detector is None:
                try:
                    detector = create_detector(self._master)
                except DetectorError as e:
                    self._status = DRIVER_ABORTED
                    self._error(f"Failed to create a master detector for '{self._master}': "
                                f"{e}")
                    return self._status
                owns_detector = True

            try:
                backoff_factor = _registration_backoff_factor()
            except ValueError as e:
                if owns_detector:
                    detector.terminate()
                self._status = DRIVER_ABORTED
                self._error(str(e))
                return self._status

            if self._credential is not None:
                log.warning("Authentication is not supported by this port yet; the framework "
                            "registers without authenticating")
            self._process = SchedulerProcess(
                self, self._scheduler, self._framework, self._suppressed_roles, None,
                self._credential, self._implicit_acknowledgements, self._scheduler_id,
                detector, owns_detector, backoff_factor, self._running, self._latch)
            self._running.set()
            spawn(self._process)
            self._status = DRIVER_RUNNING
            return self._status

    def stop(self, failover: Any = False) -> int:
        with self._lock:
            log.info("Asked to stop the driver")
            if self._status not in (DRIVER_RUNNING, DRIVER_ABORTED):
                log.debug("Ignoring stop because the status of the driver is %s",
                          mesos_pb2.Status.Name(self._status))
                return self._status
            if self._process is not None:
                self._running.clear()
                dispatch(self._process, self._process.stop, bool(failover))
            aborted = self._status == DRIVER_ABORTED
            self._status = DRIVER_STOPPED
            return DRIVER_ABORTED if aborted else DRIVER_STOPPED

    def abort(self) -> int:
        with self._lock:
            log.info("Asked to abort the driver")
            if self._status != DRIVER_RUNNING:
                log.debug("Ignoring abort because the status of the driver is %s",
                          mesos_pb2.Status.Name(self._status))
                return self._status
            assert self._process is not None
            self._running.clear()
            # Queued behind the calls the scheduler made before, which still go out.
            dispatch(self._process, self._process.abort)
            self._status = DRIVER_ABORTED
            return self._status

    def join(self) -> int:
        with self._lock:
            if self._process is None:
                return self._status
        self._latch.wait()
        with self._lock:
            return self._status

    def run(self) -> int:
        status = self.start()
        return status if status != DRIVER_RUNNING else self.join()

    def _dispatch(self, method: str, *args: Any) -> int:
        with self._lock:
            if self._status != DRIVER_RUNNING:
                return self._status
            assert self._process is not None
            dispatch(self._process, getattr(self._process, method), *args)
            return self._status

    def requestResources(self, requests: Any) -> int:
        return self._dispatch("request_resources",
                              _messages(requests, mesos_pb2.Request, "requests"))

    def launchTasks(self, offerIds: Any, tasks: Any, filters: Any = None) -> int:
        offer_ids = _one_or_many(offerIds, mesos_pb2.OfferID, "offerIds")
        task_infos = _messages(tasks, mesos_pb2.TaskInfo, "tasks")
        return self._dispatch("launch_tasks", offer_ids, task_infos, self._filters(filters))

    def acceptOffers(self, offerIds: Any, operations: Any, filters: Any = None) -> int:
        offer_ids = _one_or_many(offerIds, mesos_pb2.OfferID, "offerIds")
        ops = _messages(operations, mesos_pb2.Offer.Operation, "operations")
        for operation in ops:
            if operation.HasField("id"):
                raise ValueError("An offer operation's 'id' field was set, which is "
                                 "disallowed because the SchedulerDriver cannot handle offer "
                                 "operation status updates")
        return self._dispatch("accept_offers", offer_ids, ops, self._filters(filters))

    def declineOffer(self, offerId: Any, filters: Any = None) -> int:
        offer_id = _message(offerId, mesos_pb2.OfferID, "offerId")
        return self._dispatch("decline_offer", offer_id, self._filters(filters))

    def reviveOffers(self, roles: Any = None) -> int:
        """Revives offers for every role, or for `roles` (an empty list changes nothing)."""
        if roles is None:
            return self._dispatch("revive_offers", [])
        names = _roles(roles, "roles")
        if not names:
            return self._status
        return self._dispatch("revive_offers", names)

    def suppressOffers(self, roles: Any = None) -> int:
        """Suppresses offers for every role, or for `roles` (an empty list changes nothing)."""
        if roles is None:
            return self._dispatch("suppress_offers", [])
        names = _roles(roles, "roles")
        if not names:
            return self._status
        return self._dispatch("suppress_offers", names)

    def killTask(self, taskId: Any) -> int:
        return self._dispatch("kill_task", _message(taskId, mesos_pb2.TaskID, "taskId"))

    def acknowledgeStatusUpdate(self, status: Any) -> int:
        task_status = _message(status, mesos_pb2.TaskStatus, "status")
        with self._lock:
            if self._status != DRIVER_RUNNING:
                return self._status
            if self._implicit_acknowledgements:
                raise RuntimeError("Cannot call acknowledgeStatusUpdate: implicit "
                                   "acknowledgements are enabled")
            assert self._process is not None
            dispatch(self._process, self._process.acknowledge_status_update, task_status)
            return self._status

    def sendFrameworkMessage(self, executorId: Any, slaveId: Any, data: Any) -> int:
        executor_id = _message(executorId, mesos_pb2.ExecutorID, "executorId")
        slave_id = _message(slaveId, mesos_pb2.SlaveID, "slaveId")
        if isinstance(data, str):
            data = data.encode()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"Expected bytes for data, got {type(data).__name__}")
        return self._dispatch("send_framework_message", executor_id, slave_id, bytes(data))

    def reconcileTasks(self, tasks: Any) -> int:
        return self._dispatch("reconcile_tasks",
                              _messages(tasks, mesos_pb2.TaskStatus, "tasks"))

    def updateFramework(self, frameworkInfo: Any, suppressedRoles: Any = None,
                        offerConstraints: Any = None) -> int:
        """Updates the framework's `FrameworkInfo` (and its suppressed roles and offer
        constraints) with the master; only after it has registered."""
        framework = _framework_info(frameworkInfo)
        roles = [] if suppressedRoles is None else _roles(suppressedRoles, "suppressedRoles")
        if len(set(roles)) != len(roles):
            raise ValueError(f"Invalid suppressed role list: contains duplicates {roles}")
        constraints = (None if offerConstraints is None else
                       _message(offerConstraints, scheduler_pb2.OfferConstraints,
                                "offerConstraints"))
        with self._lock:
            if self._status != DRIVER_RUNNING:
                return self._status
            self._framework = framework
            assert self._process is not None
            dispatch(self._process, self._process.update_framework, _copy(framework), roles,
                     constraints)
            return self._status

    @staticmethod
    def _filters(filters: Any) -> Any:
        if filters is None:
            return mesos_pb2.Filters()
        return _message(filters, mesos_pb2.Filters, "filters")

