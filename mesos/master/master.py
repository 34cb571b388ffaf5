"""The Mesos master process (port of `src/master/master.cpp`).

`Master` is the process `master`: it admits agents, subscribes frameworks, turns the
allocator's decisions into offers, validates and launches tasks, forwards status updates and
routes their acknowledgements, and keeps the books every endpoint reads. Its `initialize()`
holds the one install block: the protocol table. HTTP schedulers (the v1 API,
`scheduler_api.py`) subscribe through `subscribe_http`; whatever a framework is sent goes
through `_send_framework`, to a driver's pid or as a v1 event on an HTTP scheduler's stream.

High availability (`initialize`, `contended`, `lost_candidacy`, `detected`, `recover`,
`_recover`, `recovered_slaves_timeout` in Mesos): the master contends through its contender
and follows its detector. While another master leads (or nobody does) it drops every message
(`master/dropped_messages`) and its endpoints redirect to the leader. Once elected it recovers
the registry through the Registrar: the admitted agents become *recovered* agents that have
`--agent_reregister_timeout` to come back before they are marked unreachable. A leader that
loses its candidacy, sees another leader, or whose registrar fails, exits at once
(`libprocess.exit`, "committing suicide"): its supervisor restarts it as a follower.

Everything here runs on the master's thread. The allocator, the per-agent health checkers
(`SlaveObserver`), the registrar, the contender and the detector answer through futures whose
callbacks are deferred back onto this thread.
"""

from __future__ import annotations

import logging
import socket
import struct
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import libprocess
from libprocess import ID, UPID, Future, Process, Promise, Timer, clock, defer, delay
from libprocess.rate_limiter import RateLimiter
from mesos.allocator.allocator import AllocatorOptions, HierarchicalDRFAllocator
from mesos.common.durations import format_duration
from mesos.common.resources import (
    ResourceFormat,
    Resources,
    ResourcesError,
    convert_resource_format,
    validate_role,
)
from mesos.detector import StandaloneMasterDetector
from mesos.master import storage as _storage
from mesos.master.flags import MasterFlags, parse_percentage, parse_rate_limit, parse_weights
from mesos.master.framework import (
    Framework,
    framework_roles,
    holds_resources,
    is_terminal_state,
    task_resources,
)
from mesos.master.http import MasterHttp
from mesos.master.metrics import Metrics
from mesos.master.operator_api import Subscribers
from mesos.master.scheduler_api import HttpConnection
from mesos.master.slave import Slave, SlaveState
from mesos.master.validation import (
    MINIMUM_AGENT_VERSION,
    parse_version,
    preserve_immutable_fields,
    validate_framework_info,
    validate_framework_update,
    validate_offers,
    validate_register_slave,
    validate_reregister_slave,
    validate_scheduler_call,
    validate_suppressed_roles,
    validate_task,
    validate_task_group,
    validate_uuid,
)
from mesos.protos.mesos import mesos_pb2
from mesos.protos.mesos.scheduler import scheduler_pb2
from mesos.protos.messages import messages_pb2
from mesos.registrar import (
    AdmitSlave,
    MarkSlaveGone,
    MarkSlaveReachable,
    MarkSlaveUnreachable,
    Prune,
    RemoveSlave,
    UpdateSlave,
    select_for_gc,
)
from mesos.registrar.operations import same_slave_info

__all__ = ["MASTER_CAPABILITIES", "MESOS_VERSION", "Master", "SlaveObserver"]

log = logging.getLogger("mesos.master")

MESOS_VERSION = "1.12.0"

# The capabilities of this master (Mesos's `MASTER_CAPABILITIES()`): a registry whose
# `minimum_capabilities` names another one was written for a newer master, which this one
# must not run against.
MASTER_CAPABILITIES: frozenset[str] = frozenset()

Call = scheduler_pb2.Call
TaskStatus = mesos_pb2.TaskStatus
Capability = mesos_pb2.FrameworkInfo.Capability

# Remembered removed agents, to drop their late messages (Mesos bounds its cache alike).
MAX_REMOVED_SLAVES = 100000

# Framework errors with Mesos's texts.
FRAMEWORK_FAILED_OVER = "Framework failed over"
FRAMEWORK_DISCONNECTED = "Framework disconnected"
FRAMEWORK_REMOVED = "Framework has been removed"


def _now_time_info() -> mesos_pb2.TimeInfo:
    return mesos_pb2.TimeInfo(nanoseconds=int(clock.now() * 1e9))


def create_status_update(
    framework_id: str,
    slave_id: str | None,
    task_id: str,
    state: int,
    message: str,
    reason: int,
    *,
    source: int = TaskStatus.SOURCE_MASTER,
    executor_id: str | None = None,
    healthy: bool | None = None,
    unreachable_time: mesos_pb2.TimeInfo | None = None,
) -> messages_pb2.StatusUpdate:
    """A master-generated update: no uuid, so it needs no acknowledgement
    (port of `protobuf::createStatusUpdate`)."""
    now = clock.now()
    update = messages_pb2.StatusUpdate()
    update.framework_id.value = framework_id
    update.timestamp = now
    status = update.status
    status.task_id.value = task_id
    status.state = state  # type: ignore[assignment]
    status.source = source  # type: ignore[assignment]
    status.message = message
    status.reason = reason  # type: ignore[assignment]
    status.timestamp = now
    if slave_id:
        update.slave_id.value = slave_id
        status.slave_id.value = slave_id
    if executor_id:
        update.executor_id.value = executor_id
        status.executor_id.value = executor_id
    if healthy is not None:
        status.healthy = healthy
    if unreachable_time is not None:
        status.unreachable_time.CopyFrom(unreachable_time)
    return update


def _task_health(task: Any) -> bool | None:
    """The latest `healthy` reported for a task (`protobuf::getTaskHealth`)."""
    if len(task.statuses) > 0 and task.statuses[-1].HasField("healthy"):
        return bool(task.statuses[-1].healthy)
    return None


def _allocate(resources: Any, role: str) -> None:
    """Gives resources without an allocation role the offer's role (schedulers unaware of
    roles send none), in the format the master computes with."""
    for resource in resources:
        if not resource.HasField("allocation_info"):
            resource.allocation_info.role = role
        try:
            convert_resource_format(resource, ResourceFormat.POST_RESERVATION_REFINEMENT)
        except ValueError:
            pass


def _for_agent(slave: Slave, *resource_lists: Any) -> None:
    """Converts resources to the format of an agent predating reservation refinement (the
    master never makes refined reservations on such agents, so this cannot fail)."""
    refinement = mesos_pb2.SlaveInfo.Capability.RESERVATION_REFINEMENT
    if refinement in [c.type for c in slave.capabilities]:
        return
    for resources in resource_lists:
        for resource in resources:
            try:
                convert_resource_format(resource, ResourceFormat.PRE_RESERVATION_REFINEMENT)
            except ValueError:
                log.warning("Cannot send resource %s with refined reservations to agent %s",
                            resource.name, slave)


def _launched_tasks(operation: Any) -> Iterable[Any]:
    """The tasks a LAUNCH or LAUNCH_GROUP operation asks for (none for other operations)."""
    kind = operation.type
    if kind == mesos_pb2.Offer.Operation.LAUNCH:
        return operation.launch.task_infos
    if kind == mesos_pb2.Offer.Operation.LAUNCH_GROUP:
        return operation.launch_group.task_group.tasks
    return ()


def _executor_id(task: Any) -> str | None:
    return task.executor_id.value if task.HasField("executor_id") else None


def _ip_as_uint32(ip: str) -> int:
    """The IPv4 address as Mesos stores it in `MasterInfo.ip` (network order bytes read as a
    little-endian integer, MESOS-1201)."""
    try:
        return int(struct.unpack("<I", socket.inet_aton(ip))[0])
    except OSError:
        return 0


def _upgraded(info: Any) -> Any:
    """A copy of a `SlaveInfo` read from the registry with its resources in the format the
    master computes with (the registry keeps the pre-reservation-refinement one)."""
    copy = mesos_pb2.SlaveInfo()
    copy.CopyFrom(info)
    for resource in copy.resources:
        try:
            convert_resource_format(resource, ResourceFormat.POST_RESERVATION_REFINEMENT)
        except (ResourcesError, ValueError):
            pass
    return copy


def _same_master(left: Any, right: Any) -> bool:
    """Whether two `MasterInfo`s name the same master (its random id and its pid)."""
    return (left is not None and right is not None and left.id == right.id
            and left.pid == right.pid)


class SlaveObserver(Process):
    """The health checker of one agent (port of `SlaveObserver`), the process
    `slave-observer(N)`: agents answer its pings with `PongSlaveMessage` to it.

    Sends `PingSlaveMessage{connected}` every `--agent_ping_timeout`; a ping without a pong
    before the next one is a miss, a pong resets the count, and after
    `--max_agent_ping_timeouts` misses in a row it asks the master to mark the agent
    unreachable. With `--agent_removal_rate_limit` it first waits for a permit of the
    master's shared `RateLimiter`; a pong meanwhile discards the wait and cancels the
    transition. It keeps pinging throughout, and asks only once however many more pings are
    missed. Runs on its own thread; talks to the master only by dispatch.
    """

    def __init__(self, slave: UPID, slave_id: str, master: Master, ping_timeout: float,
                 max_ping_timeouts: int, limiter: RateLimiter | None = None) -> None:
        super().__init__(ID.generate("slave-observer"))
        self.slave = slave
        self.slave_id = slave_id
        self.master = master
        self.ping_timeout = ping_timeout
        self.max_ping_timeouts = max_ping_timeouts
        self.limiter = limiter
        self.timeouts = 0
        self.pinged = False
        self.connected = True
        # The pending permit to mark the agent unreachable (None: not marking).
        self.marking: Future[None] | None = None
        self._timer: Timer | None = None

    def initialize(self) -> None:
        self.install(messages_pb2.PongSlaveMessage, self.pong)
        self.ping()

    def finalize(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.marking is not None:
            self.marking.discard()

    def reconnect(self, slave: UPID) -> None:
        self.slave = slave
        self.connected = True

    def disconnect(self) -> None:
        self.connected = False

    def ping(self) -> None:
        self.send(self.slave, messages_pb2.PingSlaveMessage(connected=self.connected))
        self.pinged = True
        self._timer = delay(self.ping_timeout, self, self.timeout)

    def pong(self, from_: UPID, message: Any) -> None:
        self.timeouts = 0
        self.pinged = False
        if self.marking is not None:
            # Cancels a transition still waiting for its permit (a granted one has gone).
            self.marking.discard()

    def timeout(self) -> None:
        if self.pinged:
            self.timeouts += 1
            if self.timeouts >= self.max_ping_timeouts:
                self.mark_unreachable()
        # Keep pinging: a pong arriving before the agent is marked unreachable still helps.
        self.ping()

    def mark_unreachable(self) -> None:
        if self.marking is not None:
            return
        log.info("Agent %s missed %d pings in a row", self.slave_id, self.timeouts)
        self.master.metrics.slave_unreachable_scheduled.inc()
        if self.limiter is None:
            self.marking = Future.ready(None)
        else:
            self.marking = self.limiter.acquire()
        self.marking.on_any(defer(self, self._mark_unreachable))

    def _mark_unreachable(self, permit: Future[None]) -> None:
        if permit is not self.marking:
            return
        # The master skips a second transition while one is in the registry, so the next
        # missed ping may ask again (an agent that was reregistering meanwhile, say).
        self.marking = None
        if permit.is_ready():
            self.master.metrics.slave_unreachable_completed.inc()
            libprocess.dispatch(self.master, self.master.agent_health_timeout, self.slave_id)
        else:
            log.info("Canceling the transition of agent %s to unreachable because a pong was"
                     " received", self.slave_id)
            self.master.metrics.slave_unreachable_canceled.inc()


class SlaveObserverSpawner(Process):
    """Starts, signals and stops the master's `SlaveObserver`s off the master's thread, the
    process `slave-observer-spawner(N)`.

    Starting a process starts a thread, which costs a millisecond or more: when a thousand
    agents reregister at once after a failover, the master would spend seconds on it. The
    master hands every start, `reconnect`/`disconnect` and stop of an observer to this
    process instead, which runs them in the order they were asked for (so an observer is
    always started before it is told anything). Runs on its own thread.
    """

    def __init__(self) -> None:
        super().__init__(ID.generate("slave-observer-spawner"))

    def start(self, observer: SlaveObserver) -> None:
        libprocess.spawn(observer)

    def call(self, observer: SlaveObserver, method: str, *args: Any) -> None:
        libprocess.dispatch(observer, method, *args)

    def stop(self, observer: SlaveObserver) -> None:
        libprocess.terminate(observer)


class Master(Process):
    """The Mesos master, the process `master`; all of its state lives on its thread.

    `Master(flags, allocator, registrar=, contender=, detector=)`: `flags` are `MasterFlags`
    (defaults if omitted); `allocator` is the allocator facade (a new
    `HierarchicalDRFAllocator` if omitted, which the master then owns and finalizes). The
    registrar, contender and detector are made from the flags when omitted (`storage.py`),
    and then owned (closed in `finalize`); without `--zk` and without a given detector the
    master appoints itself on its standalone detector, as `mesos-master` does. Tests pass
    their own (a `StandaloneMasterDetector` to `appoint` a leader, a registrar over a storage
    that fails) to stage elections and faults.

    `recovery` is a future, ready once the master was elected and recovered the registry (any
    thread may wait on it); until then every message is dropped.
    """

    def __init__(self, flags: MasterFlags | None = None, allocator: Any = None, *,
                 registrar: Any = None, contender: Any = None, detector: Any = None) -> None:
        super().__init__("master")
        self.flags = flags if flags is not None else MasterFlags()
        self._own_allocator = allocator is None
        self.allocator = allocator
        self.info = mesos_pb2.MasterInfo()
        self.info.id = str(uuid.uuid4())
        self.info.version = MESOS_VERSION

        # Election and recovery. `leader` is the detected leading master (None: nobody).
        self.registrar = registrar
        self.contender = contender
        self.detector = detector
        self._own_registrar = registrar is None
        self._own_contender = contender is None
        self._own_detector = detector is None
        self._storage: Any = None
        # Without ZooKeeper and without a detector of its own choosing, this master is the
        # leader, as `mesos-master` appoints it.
        self._appoint_self = detector is None and self.flags.zk is None
        self.leader: Any = None
        self._recovering = False
        self._recovered = False
        self._recovery: Promise[None] = Promise()
        self._recovered_timer: Timer | None = None
        self._registry_gc_timer: Timer | None = None
        self._observers = SlaveObserverSpawner()
        self._removal_limit = parse_percentage(self.flags.recovery_agent_removal_limit)
        # Shared by every agent's observer: how fast unhealthy agents may be marked
        # unreachable (`--agent_removal_rate_limit`; None: as fast as they fail).
        self.slave_removal_limiter: RateLimiter | None = None
        if self.flags.agent_removal_rate_limit is not None:
            self.slave_removal_limiter = RateLimiter(
                *parse_rate_limit(self.flags.agent_removal_rate_limit))
        # What the master was not given it makes from its flags (raising `StorageError`,
        # `DetectorError` or `ValueError` for flags that cannot work) and owns.
        if self.registrar is None:
            self._storage = _storage.create_storage(self.flags)
            self.registrar = _storage.create_registrar(self.flags, self._storage)
        if self.contender is None:
            self.contender = _storage.create_contender(self.flags)
        if self.detector is None:
            self.detector = _storage.create_detector(self.flags)

        # Frameworks: registered (any state), completed (bounded), and the registered
        # frameworks' scheduler pids (Mesos's `frameworks.principals` keys).
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: OrderedDict[str, Framework] = OrderedDict()
        self.framework_pids: dict[UPID, str] = {}

        # Agents: registered ones, and the ids in each transitional or past state.
        self.slaves: dict[str, Slave] = {}
        self.slave_pids: dict[UPID, str] = {}
        self.slaves_registering: set[UPID] = set()
        self.slaves_reregistering: set[str] = set()
        self.slaves_removing: set[str] = set()
        self.slaves_marking_unreachable: set[str] = set()
        self.slaves_marking_gone: set[str] = set()
        self.slaves_removed: OrderedDict[str, None] = OrderedDict()
        self.slaves_unreachable: OrderedDict[str, mesos_pb2.TimeInfo] = OrderedDict()
        self.slaves_gone: dict[str, mesos_pb2.TimeInfo] = {}
        # Agents of the registry not yet back after a master failover: id -> SlaveInfo.
        self.slaves_recovered: dict[str, Any] = {}
        # slave id -> framework id -> ids of the tasks it had when marked unreachable.
        self.unreachable_tasks: dict[str, dict[str, list[str]]] = {}

        # Outstanding offers: id -> Offer, the allocator's resources, the timeout timer.
        self.offers: dict[str, mesos_pb2.Offer] = {}
        self.offer_resources: dict[str, Resources] = {}
        self.offer_timers: dict[str, Timer] = {}

        self.weights: dict[str, float] = {}
        self.role_whitelist: set[str] | None = None

        self._next_framework_id = 0
        self._next_slave_id = 0
        self._next_offer_id = 0
        self.start_time = clock.now()
        self.elected_time: float | None = None
        self.metrics = Metrics(self)
        self.http: Any = None
        # The operator API's event stream subscribers (`SUBSCRIBE` on `/api/v1`).
        self.subscribers = Subscribers(self)

    # ==================================================================================
    # Lifecycle.

    def initialize(self) -> None:
        self._initialize_info()
        self.start_time = clock.now()

        flags = self.flags
        if flags.weights is not None:
            self.weights = parse_weights(flags.weights)
        if flags.roles is not None:
            self.role_whitelist = {r.strip() for r in flags.roles.split(",") if r.strip()}
            self.role_whitelist.add("*")

        if self.allocator is None:
            self.allocator = HierarchicalDRFAllocator()
        self.allocator.initialize(
            AllocatorOptions(allocation_interval=flags.allocation_interval,
                             min_allocatable_resources=flags.min_allocatable_resources),
            defer(self, self.offer))
        if self.weights:
            self.allocator.update_weights(self.weights)

        self.metrics.add()
        libprocess.spawn(self._observers)

        # The protocol: every message the master handles.
        self.install(scheduler_pb2.Call, self.receive)
        self.install(messages_pb2.RegisterFrameworkMessage, self.register_framework)
        self.install(messages_pb2.ReregisterFrameworkMessage, self.reregister_framework)
        self.install(messages_pb2.UnregisterFrameworkMessage, self.unregister_framework,
                     "framework_id")
        self.install(messages_pb2.DeactivateFrameworkMessage, self.deactivate_framework,
                     "framework_id")
        self.install(messages_pb2.ResourceRequestMessage, self.resource_request,
                     "framework_id", "requests")
        self.install(messages_pb2.LaunchTasksMessage, self.launch_tasks)
        self.install(messages_pb2.ReviveOffersMessage, self.revive_offers,
                     "framework_id", "roles")
        self.install(messages_pb2.KillTaskMessage, self.kill_task, "framework_id", "task_id")
        self.install(messages_pb2.StatusUpdateAcknowledgementMessage,
                     self.status_update_acknowledgement)
        self.install(messages_pb2.FrameworkToExecutorMessage, self.scheduler_message)
        self.install(messages_pb2.RegisterSlaveMessage, self.register_slave)
        self.install(messages_pb2.ReregisterSlaveMessage, self.reregister_slave)
        self.install(messages_pb2.UnregisterSlaveMessage, self.unregister_slave, "slave_id")
        self.install(messages_pb2.StatusUpdateMessage, self.status_update)
        self.install(messages_pb2.ExecutorToFrameworkMessage, self.executor_message)
        self.install(messages_pb2.ReconcileTasksMessage, self.reconcile_tasks)
        self.install(messages_pb2.ExitedExecutorMessage, self.exited_executor,
                     "slave_id", "framework_id", "executor_id", "status")

        self.http = MasterHttp(self)
        self.http.install_routes()

        log.info("Master %s (%s) started on %s", self.info.id, self.info.hostname,
                 self.upid)

        # Start contending to be the leading master and detecting the current leader.
        self.contender.initialize(self.info)
        self.contend()
        self.detector.detect(None).on_any(defer(self, self.detected))
        if self._appoint_self and isinstance(self.detector, StandaloneMasterDetector):
            self.detector.appoint(self.info)

    def install(self, message: Any, handler: Any, *fields: str) -> None:
        """Installs `handler` behind the gate every master message passes (Mesos's
        `Master::visit(MessageEvent)`): nothing is handled unless this master is elected
        and has recovered the registry; a message dropped there is counted."""
        name = message if isinstance(message, str) else message.DESCRIPTOR.name

        def gated(from_: UPID, *args: Any) -> None:
            if not self.elected():
                self._ignore(name, from_, "not elected")
                return
            if not self._recovered:
                self._ignore(name, from_, "not recovered yet")
                return
            handler(from_, *args)

        gated.__name__ = getattr(handler, "__name__", "gated")
        super().install(message, gated, *fields)

    def _initialize_info(self) -> None:
        flags = self.flags
        manager = libprocess.manager()
        ip = flags.advertise_ip or manager.ip
        port = flags.advertise_port or manager.http_port
        if flags.hostname is not None:
            hostname = flags.hostname
        elif flags.hostname_lookup:
            try:
                hostname = socket.gethostbyaddr(ip)[0]
            except OSError:
                hostname = ip
        else:
            hostname = ip
        self.info.ip = _ip_as_uint32(ip)
        self.info.port = port
        self.info.pid = str(self.upid)
        self.info.hostname = hostname
        self.info.address.hostname = hostname
        self.info.address.ip = ip
        self.info.address.port = port

    def finalize(self) -> None:
        log.info("Master terminating")
        for timer in (self._recovered_timer, self._registry_gc_timer):
            if timer is not None:
                timer.cancel()
        for timer in self.offer_timers.values():
            timer.cancel()
        # HTTP schedulers see their stream end, as PID schedulers see their link break.
        for framework in self.frameworks.values():
            if framework.http is not None:
                framework.close_http_connection()
        self.subscribers.close()
        for slave in self.slaves.values():
            if slave.reregistration_timer is not None:
                slave.reregistration_timer.cancel()
            if slave.observer is not None:
                libprocess.dispatch(self._observers, self._observers.stop, slave.observer)
        # The observers' stops queued above still run.
        libprocess.terminate(self._observers, inject=False)
        if self.allocator is not None:
            if self._own_allocator:
                self.allocator.finalize(1.0)
            else:
                # A shared allocator outlives this master: forget what it was told.
                for slave_id in self.slaves:
                    self.allocator.remove_slave(slave_id)
                for framework_id in self.frameworks:
                    self.allocator.remove_framework(framework_id)
        self.metrics.remove()
        # Leadership ends with the contender (its ZooKeeper session, and with it the
        # candidacy znode, is closed), so another master takes over at once.
        if self._own_contender and self.contender is not None:
            self.contender.terminate()
        if self._own_detector and self.detector is not None:
            self.detector.terminate()
        if self._own_registrar and self.registrar is not None:
            self.registrar.close()
            if self._storage is not None:
                self._storage.close()
        self._recovery.discard()

    # ==================================================================================
    # Election and recovery.

    @property
    def recovery(self) -> Future[None]:
        """Ready once this master was elected and recovered the registry."""
        return self._recovery.future

    def elected(self) -> bool:
        """Whether the detected leader is this master."""
        return _same_master(self.leader, self.info)

    def recovered(self) -> bool:
        """Whether this master leads and has recovered the registry."""
        return self._recovered

    def _suicide(self, message: str) -> None:
        """Exits the OS process at once, as Mesos's `EXIT(EXIT_FAILURE)`: a master that
        may no longer lead must not act on anything (its supervisor restarts it)."""
        log.error("%s", message)
        libprocess.exit(1, message)

    def contend(self) -> None:
        """Enters the election (again) through the contender."""
        self.contender.contend().on_any(defer(self, self.contended))

    def contended(self, candidacy: Future[Any]) -> None:
        """Port of `Master::contended`: the candidacy exists; watch for its loss."""
        if not candidacy.is_ready():
            self._suicide(f"Failed to contend: "
                          f"{candidacy.failure if candidacy.is_failed() else 'discarded'}")
            return
        candidacy.value.on_any(defer(self, self.lost_candidacy))

    def lost_candidacy(self, lost: Future[Any]) -> None:
        """Port of `Master::lostCandidacy`: a leader that lost its candidacy (its
        ZooKeeper session expired, its znode vanished) exits; a follower contends again."""
        if lost.is_failed():
            self._suicide(f"Failed to watch for candidacy: {lost.failure}")
            return
        if self.elected():
            self._suicide("Lost leadership... committing suicide!")
            return
        if lost.is_discarded() and self._terminating:
            return
        log.info("Lost candidacy as a follower... Contend again")
        self.contend()

    def detected(self, future: Future[Any]) -> None:
        """Port of `Master::detected`: a new leader (this master, another one or nobody)."""
        if future.is_discarded():
            # The detector went away (this master is terminating): nothing to follow.
            log.info("The master detector went away")
            return
        if future.is_failed():
            self._suicide(f"Failed to detect the leading master: {future.failure}; "
                          "committing suicide!")
            return
        was_elected = self.elected()
        self.leader = future.value
        if self.elected():
            self.elected_time = clock.now()
            if not was_elected:
                log.info("Elected as the leading master!")
                self.recover()
            else:
                # A ZooKeeper blip re-elected this same master.
                log.info("Re-elected as the leading master")
        elif self.leader is not None:
            log.info("The newly elected leader is %s with id %s", self.leader.pid,
                     self.leader.id)
            if was_elected:
                self._suicide("Conceded leadership to another master... committing suicide!")
                return
        else:
            log.info("No master is elected; waiting for a master to be elected")
            if was_elected:
                self._suicide("Lost leadership after indecisive election... committing "
                              "suicide!")
                return
        # Keep detecting.
        self.detector.detect(self.leader).on_any(defer(self, self.detected))

    def recover(self) -> None:
        """Port of `Master::recover`: fetches the registry (storing this master in it)."""
        if self._recovering:
            return
        self._recovering = True
        log.info("Recovering from registrar")
        self.registrar.recover(self.info).on_any(defer(self, self._recover))

    def _recover(self, future: Future[Any]) -> None:
        """Port of `Master::_recover`: the registry's agents become recovered agents, which
        have `--agent_reregister_timeout` to come back."""
        if not future.is_ready():
            self._suicide("Recovery failed: "
                          f"{future.failure if future.is_failed() else 'discarded'}")
            return
        registry = future.value
        missing = sorted(c.capability for c in registry.minimum_capabilities
                         if c.capability not in MASTER_CAPABILITIES)
        if missing:
            self._suicide("Master is missing the following minimum capabilities of the "
                          f"registry: {', '.join(missing)}; a newer master wrote it")
            return

        for entry in registry.slaves.slaves:
            self.slaves_recovered[entry.info.id.value] = _upgraded(entry.info)
        for unreachable in registry.unreachable.slaves:
            when = mesos_pb2.TimeInfo()
            when.CopyFrom(unreachable.timestamp)
            self.slaves_unreachable[unreachable.id.value] = when
        for gone in registry.gone.slaves:
            when = mesos_pb2.TimeInfo()
            when.CopyFrom(gone.timestamp)
            self.slaves_gone[gone.id.value] = when

        self._schedule_registry_gc()
        timeout = self.flags.agent_reregister_timeout
        self._recovered_timer = delay(timeout, self, self.recovered_slaves_timeout, registry)

        self._recovered = True
        log.info("Recovered %d agents from the registry (%d bytes); allowing %s for agents to"
                 " reregister", len(registry.slaves.slaves), registry.ByteSize(),
                 format_duration(timeout))
        self._recovery.set(None)

    def recovered_slaves_timeout(self, registry: Any) -> None:
        """Port of `Master::recoveredSlavesTimeout`: the recovered agents still missing are
        marked unreachable, unless too many are (then this master exits rather than
        remove them: something is more likely wrong with it than with them)."""
        self._recovered_timer = None
        total = len(registry.slaves.slaves)
        missing = [e.info for e in registry.slaves.slaves
                   if e.info.id.value in self.slaves_recovered]
        if total == 0 or not missing:
            return
        fraction = len(self.slaves_recovered) / total
        if fraction > self._removal_limit:
            self._suicide(
                f"Post-recovery agent removal limit exceeded! After "
                f"{format_duration(self.flags.agent_reregister_timeout)} there were "
                f"{len(self.slaves_recovered)} ({fraction * 100:g}%) agents recovered from the"
                f" registry that did not reregister: {sorted(self.slaves_recovered)}. The"
                f" configured removal limit is {self._removal_limit * 100:g}%. Please"
                " investigate or increase this limit to proceed further")
            return
        message = (f"did not reregister within "
                   f"{format_duration(self.flags.agent_reregister_timeout)} after master"
                   " failover")
        for info in missing:
            # An agent whose re-registration is under way is about to come back.
            if info.id.value in self.slaves_reregistering:
                continue
            self.metrics.slave_unreachable_scheduled.inc()
            self._with_removal_permit(self._mark_recovered_unreachable, info, message)

    def _with_removal_permit(self, fn: Any, *args: Any) -> None:
        """Runs `fn(*args)` on the master once `--agent_removal_rate_limit` allows another
        agent to be marked unreachable (at once without a limit)."""
        if self.slave_removal_limiter is None:
            fn(*args)
        else:
            self.slave_removal_limiter.acquire().on_ready(lambda _: libprocess.dispatch(
                self, fn, *args))

    def _mark_recovered_unreachable(self, info: Any, message: str) -> None:
        if self._mark_unreachable(info, message, during_failover=True):
            self.metrics.slave_unreachable_completed.inc()
        else:
            self.metrics.slave_unreachable_canceled.inc()

    def _schedule_registry_gc(self) -> None:
        self._registry_gc_timer = delay(self.flags.registry_gc_interval, self,
                                        self._do_registry_gc)

    def _do_registry_gc(self) -> None:
        """Port of `Master::doRegistryGc`: prunes unreachable and gone agents older than
        `--registry_max_agent_age`, or beyond `--registry_max_agent_count`."""
        self._schedule_registry_gc()
        now = clock.now()
        age = self.flags.registry_max_agent_age
        count = self.flags.registry_max_agent_count
        unreachable = select_for_gc(list(self.slaves_unreachable.items()), now, age, count)
        gone = select_for_gc(list(self.slaves_gone.items()), now, age, count)
        if not unreachable and not gone:
            log.debug("Skipping periodic registry garbage collection: no agents qualify")
            return
        log.info("Attempting to remove %d unreachable and %d gone agents from the registry",
                 len(unreachable), len(gone))
        self.registrar.apply(Prune(unreachable, gone)).on_any(
            defer(self, self._registry_gc_done, unreachable, gone))

    def _registry_gc_done(self, unreachable: set[str], gone: set[str],
                          result: Future[bool]) -> None:
        if not result.is_ready():
            self._registrar_failed("prune the registry", result)
            return
        removed = 0
        for slave_id in unreachable:
            if self.slaves_unreachable.pop(slave_id, None) is None:
                log.warning("Unreachable agent %s was removed from the registry, but it is no"
                            " longer unreachable in the master", slave_id)
                continue
            removed += 1
            for framework_id, task_ids in self.unreachable_tasks.pop(slave_id, {}).items():
                framework = self.frameworks.get(framework_id)
                if framework is not None:
                    for task_id in task_ids:
                        framework.unreachable_tasks.pop(task_id, None)
        for slave_id in gone:
            self.slaves_gone.pop(slave_id, None)
        log.info("Garbage collected %d unreachable and %d gone agents from the registry",
                 removed, len(gone))

    def _registrar_failed(self, what: str, result: Future[Any]) -> None:
        """A registry operation failed: the registrar is aborted for good (its storage
        failed), so this master can no longer keep the registry: it exits."""
        self._suicide(f"Failed to {what}: "
                      f"{result.failure if result.is_failed() else 'discarded'}")

    # ==================================================================================
    # Helpers.

    def _ignore(self, what: str, from_: UPID | str, reason: str) -> None:
        """Logs and counts a dropped message, in the one phrase the port uses."""
        log.warning("Ignoring %s from %s because %s", what, from_ or "<unknown>", reason)
        self.metrics.dropped_messages.inc()

    def _send_framework(self, framework: Framework, message: Any) -> None:
        """Port of `Framework::send`: to the scheduler's pid, or as a v1 event on its HTTP
        stream."""
        if not framework.connected():
            log.warning("Master attempting to send %s to disconnected framework %s",
                        message.DESCRIPTOR.name, framework)
        if framework.http is not None:
            if not framework.http.send(message):
                log.warning("Unable to send %s to framework %s: connection closed",
                            message.DESCRIPTOR.name, framework)
        elif framework.pid:
            self.send(framework.pid, message)

    def _framework_error(self, to: UPID, text: str) -> None:
        self.send(to, messages_pb2.FrameworkErrorMessage(message=text))

    def _new_framework_id(self) -> str:
        framework_id = f"{self.info.id}-{self._next_framework_id:04d}"
        self._next_framework_id += 1
        return framework_id

    def _new_slave_id(self) -> str:
        slave_id = f"{self.info.id}-S{self._next_slave_id}"
        self._next_slave_id += 1
        return slave_id

    def _new_offer_id(self) -> str:
        offer_id = f"{self.info.id}-O{self._next_offer_id}"
        self._next_offer_id += 1
        return offer_id

    def _connection(self) -> messages_pb2.MasterSlaveConnection:
        total = self.flags.agent_ping_timeout * self.flags.max_agent_ping_timeouts
        return messages_pb2.MasterSlaveConnection(total_ping_timeout_seconds=total)

    def _is_completed_framework(self, framework_id: str) -> bool:
        return framework_id in self.completed_frameworks

    def _slave_by_pid(self, pid: UPID) -> Slave | None:
        slave_id = self.slave_pids.get(pid)
        return self.slaves.get(slave_id) if slave_id is not None else None

    def _remember_removed_slave(self, slave_id: str) -> None:
        self.slaves_removed[slave_id] = None
        self.slaves_removed.move_to_end(slave_id)
        while len(self.slaves_removed) > MAX_REMOVED_SLAVES:
            self.slaves_removed.popitem(last=False)

    # The registry: every change of agent membership goes through the registrar first. A
    # future that fails means the registrar aborted (its storage failed): fatal.

    def _admit_slave(self, slave_info: Any) -> Future[bool]:
        return self.registrar.apply(AdmitSlave(slave_info))

    def _update_slave_registry(self, slave_info: Any) -> Future[bool]:
        return self.registrar.apply(UpdateSlave(slave_info))

    def _readmit_slave(self, slave_info: Any) -> Future[bool]:
        return self.registrar.apply(MarkSlaveReachable(slave_info))

    def _mark_slave_unreachable_registry(self, slave_info: Any, when: Any) -> Future[bool]:
        return self.registrar.apply(MarkSlaveUnreachable(slave_info, when))

    def _remove_slave_registry(self, slave_info: Any) -> Future[bool]:
        return self.registrar.apply(RemoveSlave(slave_info))

    def _mark_slave_gone_registry(self, slave_id: str, when: Any) -> Future[bool]:
        return self.registrar.apply(MarkSlaveGone(slave_id, when))

    # ==================================================================================
    # Frameworks: subscription.

    def receive(self, from_: UPID, call: Any) -> None:
        """Every `mesos.scheduler.Call` of a PID framework (port of `Master::receive`)."""
        call_name = f"{Call.Type.Name(call.type)} call" if call.HasField("type") else "call"
        error = validate_scheduler_call(call)
        if error is not None:
            self._ignore(call_name, from_, f"it is invalid: {error}")
            return

        if call.type == Call.SUBSCRIBE:
            self.subscribe(from_, call.subscribe)
            return

        framework = self.frameworks.get(call.framework_id.value)
        if framework is None:
            self._ignore(call_name, from_,
                         f"framework {call.framework_id.value} cannot be found")
            return
        if framework.pid != from_:
            self._ignore(call_name, from_,
                         f"it is not the registered framework pid ({framework.pid or 'none'})"
                         f" of framework {framework.id}")
            return

        # A framework the master thinks is gone may not know (one-way partition): tell it,
        # so its driver aborts.
        if not framework.connected():
            log.info("Refusing %s from framework %s: %s", call_name, framework,
                     FRAMEWORK_DISCONNECTED)
            self._framework_error(from_, FRAMEWORK_DISCONNECTED)
            return

        if self.handle_framework_call(framework, call):
            return
        kind = call.type
        if kind == Call.UPDATE_FRAMEWORK:
            self.update_framework(from_, framework, call.update_framework)
        elif kind in (Call.ACKNOWLEDGE_OPERATION_STATUS, Call.RECONCILE_OPERATIONS):
            self._ignore(call_name, from_, "it is not supported by the v0 API")
        elif kind in (Call.ACCEPT_INVERSE_OFFERS, Call.DECLINE_INVERSE_OFFERS):
            self._ignore(call_name, from_, "this master makes no inverse offers")
        else:
            self._ignore(call_name, from_, "its type is unknown")

    def handle_framework_call(self, framework: Framework, call: Any) -> bool:
        """Hands a call of a subscribed framework to the master's handler for its type, for
        the calls that the PID (`receive`) and HTTP (`SchedulerApi`) frameworks' calls have
        in common; False, doing nothing, for any other type (each API answers those its
        own way)."""
        kind = call.type
        if kind == Call.TEARDOWN:
            self.teardown(framework)
        elif kind == Call.ACCEPT:
            self.accept(framework, call.accept)
        elif kind == Call.DECLINE:
            self.decline(framework, call.decline)
        elif kind == Call.REVIVE:
            self.revive(framework, list(call.revive.roles))
        elif kind == Call.SUPPRESS:
            self.suppress(framework, list(call.suppress.roles))
        elif kind == Call.KILL:
            self.kill(framework, call.kill)
        elif kind == Call.SHUTDOWN:
            self.shutdown(framework, call.shutdown)
        elif kind == Call.ACKNOWLEDGE:
            self.acknowledge(framework, call.acknowledge)
        elif kind == Call.RECONCILE:
            self.reconcile(framework, [(t.task_id.value, t.slave_id.value
                                        if t.HasField("slave_id") else None)
                                       for t in call.reconcile.tasks])
        elif kind == Call.MESSAGE:
            self.message(framework, call.message)
        elif kind == Call.REQUEST:
            self.request(framework, call.request)
        else:
            return False
        return True

    def register_framework(self, from_: UPID, message: Any) -> None:
        if message.framework.id.value:
            error = "Registering with 'id' already set"
            log.info("Refusing registration of framework '%s' at %s: %s",
                     message.framework.name, from_, error)
            self._framework_error(from_, error)
            return
        self.subscribe(from_, Call.Subscribe(framework_info=message.framework))

    def reregister_framework(self, from_: UPID, message: Any) -> None:
        if not message.framework.id.value:
            error = "Re-registering without an 'id'"
            log.info("Refusing re-registration of framework '%s' at %s: %s",
                     message.framework.name, from_, error)
            self._framework_error(from_, error)
            return
        self.subscribe(from_, Call.Subscribe(framework_info=message.framework,
                                             force=message.failover))

    def _validate_framework(self, info: Any) -> str | None:
        """Port of `Master::validateFramework`."""
        error = validate_framework_info(info)
        if error is not None:
            return error
        if self.role_whitelist is not None:
            invalid = framework_roles(info) - self.role_whitelist
            if invalid:
                return (f"Roles {{ {', '.join(sorted(invalid))} }} are not present in the "
                        "master's --roles")
        if info.user == "root" and not self.flags.root_submissions:
            return "User 'root' is not allowed to run frameworks without --root_submissions set"
        if info.id.value and self._is_completed_framework(info.id.value):
            return FRAMEWORK_REMOVED
        return None

    def _subscription_info(self, subscribe: Any) -> Any:
        """A copy of the FrameworkInfo of a SUBSCRIBE, counted as a registration, or a
        reregistration if it has an id."""
        info = mesos_pb2.FrameworkInfo()
        info.CopyFrom(subscribe.framework_info)
        if info.id.value:
            self.metrics.messages_reregister_framework.inc()
        else:
            self.metrics.messages_register_framework.inc()
        return info

    def _validate_subscription(self, info: Any, subscribe: Any) -> str | None:
        """Why a SUBSCRIBE of `info` is refused (`validateFramework`, then its suppressed
        roles), or None."""
        error = self._validate_framework(info)
        if error is None:
            error = validate_suppressed_roles(info, subscribe.suppressed_roles)
        return error

    def _add_subscribed_framework(self, info: Any, suppressed: frozenset[str],
                                  pid: UPID | None,
                                  http: HttpConnection | None = None) -> None:
        """A first subscription (`info` without an id), from `pid` or over `http`: the
        framework gets a new id, is added active and is told it registered."""
        info.id.value = self._new_framework_id()
        framework = self._make_framework(info, pid, http)
        framework.activate()
        self._add_framework(framework, suppressed)
        self._send_framework(framework, messages_pb2.FrameworkRegisteredMessage(
            framework_id=info.id, master_info=self.info))

    def _resubscribing_framework(self, info: Any) -> tuple[Framework, str | None]:
        """The framework a SUBSCRIBE of `info` (with an id) is for, and why the update of its
        info is refused, if it is. One unknown here (e.g. after a master failover, before
        any agent reported its tasks) is admitted again with the id it had."""
        known = self.frameworks.get(info.id.value)
        framework = known if known is not None else self._recover_framework(info)
        preserve_immutable_fields(framework.info, info)
        return framework, validate_framework_update(framework.info, info)

    def subscribe(self, from_: UPID, subscribe: Any) -> None:
        """Port of `Master::subscribe` / `_subscribe` for PID frameworks."""
        info = self._subscription_info(subscribe)

        error = self._validate_subscription(info, subscribe)
        if error is not None:
            log.info("Refusing subscription of framework '%s' at %s: %s", info.name, from_,
                     error)
            self._framework_error(from_, error)
            return
        suppressed = frozenset(subscribe.suppressed_roles)

        log.info("Subscribing framework '%s' at %s with checkpointing %s", info.name, from_,
                 "enabled" if info.checkpoint else "disabled")

        if not info.id.value:
            # A retry of a first subscription gets the id it was given.
            for framework in self.frameworks.values():
                if framework.pid == from_:
                    log.info("Framework %s already subscribed, resending acknowledgement",
                             framework)
                    self._send_framework(framework, messages_pb2.FrameworkRegisteredMessage(
                        framework_id=mesos_pb2.FrameworkID(value=framework.id),
                        master_info=self.info))
                    return
            self._add_subscribed_framework(info, suppressed, from_)
            return

        framework_id = info.id.value
        # Another framework already subscribed from this pid: an error reply would reach
        # that one, so only drop.
        other = self.framework_pids.get(from_)
        if other is not None and other != framework_id:
            log.error("Dropping SUBSCRIBE call for framework '%s': framework %s is already"
                      " connected at %s", info.name, other, from_)
            self.metrics.dropped_messages.inc()
            return

        framework, error = self._resubscribing_framework(info)
        if error is not None:
            self._framework_error(from_, error)
            return

        # A scheduler subscribing from a new pid must say `force`: this fences a
        # partitioned old instance that comes back after its successor took over.
        if not framework.recovered() and framework.pid != from_ and not subscribe.force:
            log.error("Disallowing subscription attempt of framework %s because it is not"
                      " expected from %s", framework, from_)
            self._framework_error(from_, FRAMEWORK_FAILED_OVER)
            return

        self._update_framework(framework, info, suppressed)

        if not framework.recovered():
            framework.reregistered_time = clock.now()
            if subscribe.force:
                log.info("Framework %s failed over", framework)
                self._failover_framework(framework, from_)
            else:
                log.info("Allowing framework %s to subscribe with an already used id",
                         framework)
                # The driver may have dropped replies to these offers while it was not
                # connected: offer the resources afresh.
                for offer_id in list(framework.offers):
                    self._rescind_offer(offer_id)
                self.link(from_)
                framework.update_connection(from_)
                if framework.activate():
                    self.allocator.activate_framework(framework.id)
                self._send_framework(framework, messages_pb2.FrameworkReregisteredMessage(
                    framework_id=info.id, master_info=self.info))
        else:
            self._connect_and_activate_recovered_framework(framework, from_, subscribe.force)

        self._send_framework_updates(framework)

    def subscribe_http(self, http: HttpConnection, subscribe: Any) -> None:
        """Port of `Master::subscribe` / `_subscribe` for HTTP frameworks: the scheduler
        subscribes over the stream `http` (of `/api/v1/scheduler`). A refusal is an ERROR
        event on that stream, which then ends. A framework that already has an id always
        fails over to the new stream (MESOS-4712): its old connection, a stream or a pid,
        hears "Framework failed over"."""
        info = self._subscription_info(subscribe)
        log.info("Received subscription request for HTTP framework '%s'", info.name)

        def refuse(error: str) -> None:
            log.info("Refusing subscription of framework '%s': %s", info.name, error)
            http.send(messages_pb2.FrameworkErrorMessage(message=error))
            http.close()

        error = self._validate_subscription(info, subscribe)
        if error is not None:
            refuse(error)
            return
        suppressed = frozenset(subscribe.suppressed_roles)
        log.info("Subscribing framework '%s' with checkpointing %s", info.name,
                 "enabled" if info.checkpoint else "disabled")

        if not info.id.value:
            self._add_subscribed_framework(info, suppressed, None, http)
            http.start_heartbeat(self)
            return

        framework, error = self._resubscribing_framework(info)
        if error is not None:
            refuse(error)
            return

        self._update_framework(framework, info, suppressed)
        if not framework.recovered():
            framework.reregistered_time = clock.now()
            log.info("Framework %s failed over to an HTTP stream", framework)
            self._failover_framework(framework, http)
        else:
            self._connect_and_activate_recovered_framework(framework, http, subscribe.force)
        self._send_framework_updates(framework)

    def _make_framework(self, info: Any, pid: UPID | None,
                        http: HttpConnection | None = None) -> Framework:
        return Framework(
            info, pid, clock.now(), http=http,
            max_completed_tasks=self.flags.max_completed_tasks_per_framework,
            max_unreachable_tasks=self.flags.max_unreachable_tasks_per_framework)

    def _add_framework(self, framework: Framework,
                       suppressed: frozenset[str] = frozenset()) -> None:
        if framework.id in self.frameworks:
            raise RuntimeError(f"Framework {framework} already exists")
        log.info("Adding framework %s with roles %s suppressed", framework,
                 sorted(suppressed))
        self.frameworks[framework.id] = framework
        if framework.connected() and framework.pid:
            self.link(framework.pid)
            self.framework_pids[framework.pid] = framework.id
        elif framework.connected() and framework.http is not None:
            self._watch_http(framework, framework.http)
        self.allocator.add_framework(framework.id, framework.info,
                                     dict(framework.used_resources), framework.active(),
                                     suppressed)
        self.subscribers.framework_added(framework)

    def _recover_framework(self, info: Any) -> Framework:
        """Re-creates a framework known from agents or its resubscription (RECOVERED)."""
        framework = self._make_framework(info, None)
        for slave in self.slaves.values():
            for task in slave.tasks.get(framework.id, {}).values():
                framework.add_task(task)
            for executor in slave.executors.get(framework.id, {}).values():
                framework.add_executor(slave.id, executor)
        self._add_framework(framework)
        return framework

    def _connect_and_activate_recovered_framework(
            self, framework: Framework, connection: UPID | HttpConnection,
            force: bool) -> None:
        """A framework known only from agents' reports (or from nothing, after a master
        failover) resubscribes from a pid or over an HTTP stream: it is connected and
        active again, with its tasks."""
        now = clock.now()
        framework.registered_time = now
        framework.reregistered_time = now
        self._connect(framework, connection)
        framework.activate()
        self.allocator.activate_framework(framework.id)
        # A scheduler resubscribing after a master failover hears `reregistered()`; one
        # that failed over itself (`force`) hears `registered()`, as after any scheduler
        # failover. (Mesos answers FrameworkRegisteredMessage in both cases, MESOS-786,
        # which its own driver's SUBSCRIBED handling corrects to `reregistered()`.) Both
        # are SUBSCRIBED to an HTTP scheduler.
        message: Any
        if force:
            message = messages_pb2.FrameworkRegisteredMessage(
                framework_id=framework.info.id, master_info=self.info)
        else:
            message = messages_pb2.FrameworkReregisteredMessage(
                framework_id=framework.info.id, master_info=self.info)
        self._send_framework(framework, message)
        if isinstance(connection, HttpConnection):
            connection.start_heartbeat(self)
        self.subscribers.framework_updated(framework)

    def _failover_framework(self, framework: Framework,
                            connection: UPID | HttpConnection) -> None:
        """Replaces a framework's scheduler with the one at `connection`: a new pid, or an
        HTTP scheduler's new stream (port of both `Master::failoverFramework`)."""
        old_pid = framework.pid
        # A new pid or stream means an old scheduler may still run: fence it, on its own
        # connection (an HTTP scheduler hears it as an ERROR event, then its stream ends).
        # The same pid means either the same scheduler restarted there or a duplicate
        # message.
        if framework.connected() and (isinstance(connection, HttpConnection)
                                      or old_pid != connection):
            self._send_framework(framework, messages_pb2.FrameworkErrorMessage(
                message=FRAMEWORK_FAILED_OVER))
        if old_pid is not None and self.framework_pids.get(old_pid) == framework.id:
            del self.framework_pids[old_pid]
        self._connect(framework, connection)
        for offer_id in list(framework.offers):
            self._discard_offer(offer_id)
        if framework.activate():
            self.allocator.activate_framework(framework.id)
        self._send_framework(framework, messages_pb2.FrameworkRegisteredMessage(
            framework_id=framework.info.id, master_info=self.info))
        if isinstance(connection, HttpConnection):
            connection.start_heartbeat(self)
        self.subscribers.framework_updated(framework)

    def _connect(self, framework: Framework, connection: UPID | HttpConnection) -> None:
        """Points the framework at its scheduler's new connection (`updateConnection`): a
        pid, which the master links to, or an HTTP stream, whose end it watches. The old
        stream, if any, is closed."""
        if isinstance(connection, HttpConnection):
            framework.update_connection_http(connection)
            self._watch_http(framework, connection)
        else:
            framework.update_connection(connection)
            self.link(connection)
            self.framework_pids[connection] = framework.id

    def _watch_http(self, framework: Framework, http: HttpConnection) -> None:
        """The end of `http` (the client went away) will be `_http_exited`."""
        http.closed.on_any(defer(self, self._http_exited, framework.id, http))

    def _update_framework(self, framework: Framework, info: Any,
                          suppressed: frozenset[str]) -> None:
        self.allocator.update_framework(framework.id, info, suppressed)
        new_roles = framework_roles(info)
        for offer_id in list(framework.offers):
            if self.offers[offer_id].allocation_info.role not in new_roles:
                self._rescind_offer(offer_id)
        framework.update(info)
        self.subscribers.framework_updated(framework)

    def _send_framework_updates(self, framework: Framework) -> None:
        """Tells every agent the framework's current info and pid."""
        for slave in self.slaves.values():
            self.send(slave.pid, messages_pb2.UpdateFrameworkMessage(
                framework_id=framework.info.id, pid=str(framework.pid or ""),
                framework_info=framework.info))

    def update_framework(self, from_: UPID, framework: Framework, call: Any) -> None:
        """UPDATE_FRAMEWORK of a PID framework: errors go back as `FrameworkErrorMessage`."""
        error = self.update_framework_call(framework, call)
        if error is not None:
            self._framework_error(from_, error)

    def update_framework_call(self, framework: Framework, call: Any) -> str | None:
        """Port of `Master::updateFramework` (UPDATE_FRAMEWORK): the error, or None once
        the framework is updated."""
        info = call.framework_info
        error = self._validate_framework(info)
        if error is not None:
            return f"Supplied FrameworkInfo is not valid: {error}"
        error = validate_framework_update(framework.info, info)
        if error is not None:
            return f"FrameworkInfo update is not valid: {error}"
        error = validate_suppressed_roles(info, call.suppressed_roles)
        if error is not None:
            return f"'UpdateFramework' call is not valid: {error}"
        changed = framework.info != info
        self._update_framework(framework, info, frozenset(call.suppressed_roles))
        if changed:
            self._send_framework_updates(framework)
        return None

    def unregister_framework(self, from_: UPID, framework_id: Any) -> None:
        framework = self.frameworks.get(framework_id.value)
        if framework is None:
            self._ignore("UnregisterFrameworkMessage", from_,
                         f"framework {framework_id.value} cannot be found")
            return
        if framework.pid != from_:
            self._ignore("UnregisterFrameworkMessage", from_,
                         f"it is not the registered framework pid of framework {framework.id}")
            return
        self.teardown(framework)

    def deactivate_framework(self, from_: UPID, framework_id: Any) -> None:
        self.metrics.messages_deactivate_framework.inc()
        framework = self.frameworks.get(framework_id.value)
        if framework is None:
            self._ignore("DeactivateFrameworkMessage", from_,
                         f"framework {framework_id.value} cannot be found")
            return
        if framework.pid != from_:
            self._ignore("DeactivateFrameworkMessage", from_,
                         f"it is not the registered framework pid of framework {framework.id}")
            return
        if not framework.connected():
            self._ignore("DeactivateFrameworkMessage", from_, "the framework is disconnected")
            return
        if framework.active():
            self._deactivate_framework(framework, rescind=True)
            self.subscribers.framework_updated(framework)

    def _deactivate_framework(self, framework: Framework, rescind: bool) -> None:
        log.info("Deactivating framework %s", framework)
        framework.deactivate()
        self.allocator.deactivate_framework(framework.id)
        for offer_id in list(framework.offers):
            if rescind:
                self._rescind_offer(offer_id)
            else:
                self._discard_offer(offer_id)

    def exited(self, upid: UPID) -> None:
        """A linked scheduler or agent went away (port of `Master::exited`)."""
        framework_id = self.framework_pids.get(upid)
        framework = self.frameworks.get(framework_id) if framework_id is not None else None
        if framework is not None and framework.pid == upid:
            # A one-way partition may leave the driver unaware: tell it, so it aborts.
            self._send_framework(framework,
                                 messages_pb2.FrameworkErrorMessage(message=FRAMEWORK_DISCONNECTED))
            self._framework_exited(framework)
            return

        slave = self._slave_by_pid(upid)
        if slave is None:
            return
        log.info("Agent %s disconnected", slave)
        if not slave.connected:
            # The pid of a restarted agent does not change: duplicate exits happen.
            log.warning("Ignoring duplicate exited() notification for agent %s", slave)
            return
        self._disconnect_slave(slave)
        # Non-checkpointing frameworks lose their tasks on a disconnected agent at once;
        # checkpointing ones wait for the agent to come back.
        for framework_id in set(slave.tasks) | set(slave.executors):
            framework = self.frameworks.get(framework_id)
            if framework is not None and not framework.info.checkpoint:
                log.info("Removing framework %s from disconnected agent %s because the"
                         " framework is not checkpointing", framework, slave)
                self._remove_framework_from_slave(slave, framework)
        slave.reregistration_timer = delay(self.flags.agent_reregister_timeout, self,
                                           self._agent_reregister_timeout, slave.id)

    def _http_exited(self, framework_id: str, http: HttpConnection, closed: Any) -> None:
        """An HTTP scheduler's stream ended (port of `Master::exited(FrameworkID,
        HttpConnection)`): if it is still the framework's stream, the framework is
        disconnected, as a PID framework whose link broke."""
        framework = self.frameworks.get(framework_id)
        if framework is None:
            return
        if framework.http is not http:
            log.info("Ignoring disconnection of %s of framework %s as it has already"
                     " reconnected", http, framework)
            return
        self._framework_exited(framework)

    def _framework_exited(self, framework: Framework) -> None:
        log.info("Framework %s disconnected", framework)
        if framework.connected():
            if framework.active():
                self._deactivate_framework(framework, rescind=True)
            framework.disconnect()
            self.subscribers.framework_updated(framework)
        timeout = framework.info.failover_timeout
        log.info("Giving framework %s %gsecs to failover", framework, timeout)
        delay(timeout, self, self._framework_failover_timeout, framework.id,
              framework.connection_epoch)

    def _framework_failover_timeout(self, framework_id: str, epoch: int) -> None:
        framework = self.frameworks.get(framework_id)
        if framework is None or framework.connected():
            return
        # A reconnection in the meantime armed its own timer: this one is stale.
        if framework.connection_epoch == epoch:
            log.info("Framework failover timeout, removing framework %s", framework)
            self._remove_framework(framework)

    def teardown(self, framework: Framework) -> None:
        log.info("Processing TEARDOWN call for framework %s", framework)
        self.metrics.messages_unregister_framework.inc()
        self._remove_framework(framework)

    def _remove_framework(self, framework: Framework) -> None:
        """Port of `Master::removeFramework(Framework*)`: the framework is done."""
        log.info("Removing framework %s", framework)
        if framework.active():
            # The framework is going away: no point in rescinding its offers.
            self._deactivate_framework(framework, rescind=False)
        for offer_id in list(framework.offers):
            self._discard_offer(offer_id)

        for slave in self.slaves.values():
            self.send(slave.pid, messages_pb2.ShutdownFrameworkMessage(
                framework_id=framework.info.id))

        # Its tasks are implicitly killed; no update is sent (the framework is gone).
        for task in list(framework.tasks.values()):
            update = create_status_update(
                framework.id, task.slave_id.value, task.task_id.value, mesos_pb2.TASK_KILLED,
                f"Framework {framework.id} removed", TaskStatus.REASON_FRAMEWORK_REMOVED,
                executor_id=_executor_id(task))
            self._update_task(task, update)
            self._remove_task(task)

        for task_id, task in list(framework.unreachable_tasks.items()):
            update = create_status_update(
                framework.id, task.slave_id.value, task.task_id.value, mesos_pb2.TASK_KILLED,
                f"Framework {framework.id} removed", TaskStatus.REASON_FRAMEWORK_REMOVED,
                executor_id=_executor_id(task))
            self._update_task(task, update)
            framework.add_completed_task(task)
            del framework.unreachable_tasks[task_id]

        for slave_id, executors in list(framework.executors.items()):
            host = self.slaves.get(slave_id)
            if host is None:
                continue
            for executor_id in list(executors):
                self._remove_executor(host, framework.id, executor_id)

        if framework.connected():
            framework.disconnect()
        framework.unregistered_time = clock.now()
        if framework.pid is not None and self.framework_pids.get(framework.pid) == framework.id:
            del self.framework_pids[framework.pid]

        del self.frameworks[framework.id]
        self.allocator.remove_framework(framework.id)
        self.subscribers.framework_removed(framework)

        self.completed_frameworks[framework.id] = framework
        while len(self.completed_frameworks) > self.flags.max_completed_frameworks:
            self.completed_frameworks.popitem(last=False)

    def _remove_framework_from_slave(self, slave: Slave, framework: Framework) -> None:
        """Port of `Master::removeFramework(Slave*, Framework*)`: its tasks there are lost."""
        for task in list(slave.tasks.get(framework.id, {}).values()):
            update = create_status_update(
                framework.id, slave.id, task.task_id.value, mesos_pb2.TASK_LOST,
                f"Agent {slave.info.hostname} disconnected",
                TaskStatus.REASON_SLAVE_DISCONNECTED, executor_id=_executor_id(task))
            self._update_task(task, update)
            self._remove_task(task)
            if framework.connected():
                self._forward(update, None, framework)
        for executor_id in list(slave.executors.get(framework.id, {})):
            self._remove_executor(slave, framework.id, executor_id)

    # ==================================================================================
    # Frameworks: calls.

    def _check_framework(self, what: str, from_: UPID, framework_id: str) -> Framework | None:
        """The registered framework a legacy message names, if `from_` is its pid."""
        framework = self.frameworks.get(framework_id)
        if framework is None:
            self._ignore(what, from_, f"framework {framework_id} cannot be found")
            return None
        if framework.pid != from_:
            self._ignore(what, from_, f"it is not the registered framework pid"
                                      f" ({framework.pid or 'none'}) of framework {framework.id}")
            return None
        return framework

    def resource_request(self, from_: UPID, framework_id: Any, requests: Any) -> None:
        framework = self._check_framework("ResourceRequestMessage", from_, framework_id.value)
        if framework is not None:
            self.request(framework, Call.Request(requests=requests))

    def request(self, framework: Framework, request: Any) -> None:
        # The hierarchical allocator ignores requests, as Mesos's does.
        log.info("Processing REQUEST call for framework %s", framework)
        self.metrics.messages_resource_request.inc()

    def launch_tasks(self, from_: UPID, message: Any) -> None:
        framework = self._check_framework("LaunchTasksMessage", from_,
                                          message.framework_id.value)
        if framework is None:
            return
        # A launch without tasks is a decline.
        if len(message.tasks) > 0:
            accept = Call.Accept(offer_ids=message.offer_ids, filters=message.filters)
            operation = accept.operations.add(type=mesos_pb2.Offer.Operation.LAUNCH)
            operation.launch.task_infos.extend(message.tasks)
            self.accept(framework, accept)
        else:
            self.decline(framework, Call.Decline(offer_ids=message.offer_ids,
                                                 filters=message.filters))

    def revive_offers(self, from_: UPID, framework_id: Any, roles: Any) -> None:
        framework = self._check_framework("ReviveOffersMessage", from_, framework_id.value)
        if framework is not None:
            self.revive(framework, list(roles))

    def _call_roles(self, framework: Framework, what: str, roles: list[str]) -> set[str] | None:
        for role in roles:
            error = validate_role(role)
            if error is not None:
                self._ignore(f"{what} call", framework.pid or "",
                             f"{what.lower()} role '{role}' is invalid: {error}")
                return None
            if role not in framework.roles:
                self._ignore(f"{what} call", framework.pid or "",
                             f"{what.lower()} role '{role}' is not one of the framework's"
                             " subscribed roles")
                return None
        return set(roles)

    def revive(self, framework: Framework, roles: list[str]) -> None:
        log.info("Processing REVIVE call for framework %s", framework)
        self.metrics.messages_revive_offers.inc()
        valid = self._call_roles(framework, "REVIVE", roles)
        if valid is not None:
            self.allocator.revive_offers(framework.id, valid)

    def suppress(self, framework: Framework, roles: list[str]) -> None:
        log.info("Processing SUPPRESS call for framework %s", framework)
        self.metrics.messages_suppress_offers.inc()
        valid = self._call_roles(framework, "SUPPRESS", roles)
        if valid is not None:
            self.allocator.suppress_offers(framework.id, valid)

    def decline(self, framework: Framework, decline: Any) -> None:
        filters = decline.filters
        log.info("Processing DECLINE call for offers %s for framework %s with %g seconds"
                 " filter", [o.value for o in decline.offer_ids], framework,
                 filters.refuse_seconds)
        self.metrics.messages_decline_offers.inc()
        for offer_id in decline.offer_ids:
            offer = self.offers.get(offer_id.value)
            if offer is None:
                log.warning("Ignoring decline of offer %s since it is no longer valid",
                            offer_id.value)
                continue
            if offer.framework_id.value != framework.id:
                self._ignore(f"decline of offer {offer_id.value}", framework.pid or "",
                             f"the offer belongs to framework {offer.framework_id.value}")
                continue
            self._discard_offer(offer_id.value, filters)

    def accept(self, framework: Framework, accept: Any) -> None:
        """Port of `Master::accept` and `_accept` for LAUNCH (the operations of later issues
        are dropped with a log line)."""
        Operation = mesos_pb2.Offer.Operation
        for operation in accept.operations:
            if operation.type == Operation.LAUNCH:
                if len(operation.launch.task_infos) > 0:
                    self.metrics.messages_launch_tasks.inc()
                else:
                    self.metrics.messages_decline_offers.inc()

        offer_ids = [o.value for o in accept.offer_ids]
        if not offer_ids:
            error: str | None = "No offers specified"
        else:
            error = validate_offers(offer_ids, self.offers, framework.id)

        if error is not None:
            for offer_id in offer_ids:
                if offer_id in self.offers and \
                        self.offers[offer_id].framework_id.value == framework.id:
                    self._discard_offer(offer_id)
                elif offer_id not in self.offers:
                    log.warning("Ignoring accept of offer %s since it is no longer valid",
                                offer_id)
            log.warning("ACCEPT call used invalid offers %s: %s", offer_ids, error)
            # Partition-aware frameworks learn that the task never started; others get
            # the older TASK_LOST.
            state = mesos_pb2.TASK_DROPPED if framework.partition_aware else mesos_pb2.TASK_LOST
            for operation in accept.operations:
                tasks = _launched_tasks(operation)
                if operation.type not in (Operation.LAUNCH, Operation.LAUNCH_GROUP):
                    log.warning("Dropping %s operation from framework %s: Operation attempted"
                                " with invalid offers: %s", Operation.Type.Name(operation.type),
                                framework, error)
                    continue
                for task in tasks:
                    update = create_status_update(
                        framework.id, task.slave_id.value, task.task_id.value, state,
                        f"Task launched with invalid offers: {error}",
                        TaskStatus.REASON_INVALID_OFFERS)
                    self._count_master_generated(update)
                    self._forward(update, None, framework)
            return

        first = self.offers[offer_ids[0]]
        slave_id = first.slave_id.value
        role = first.allocation_info.role
        slave = self.slaves.get(slave_id)

        offered = Resources()
        for offer_id in offer_ids:
            offered = offered + self.offer_resources[offer_id]
            self._remove_offer(offer_id)

        if slave is None or not slave.connected:
            state = mesos_pb2.TASK_DROPPED if framework.partition_aware else mesos_pb2.TASK_LOST
            reason = (TaskStatus.REASON_SLAVE_REMOVED if slave is None
                      else TaskStatus.REASON_SLAVE_DISCONNECTED)
            for operation in accept.operations:
                for task in _launched_tasks(operation):
                    update = create_status_update(
                        framework.id, task.slave_id.value, task.task_id.value, state,
                        "Agent removed" if slave is None else "Agent disconnected", reason)
                    self._count_master_generated(update)
                    self._forward(update, None, framework)
            self.allocator.recover_resources(framework.id, slave_id, offered, None)
            return

        log.info("Processing ACCEPT call for offers %s on agent %s for framework %s",
                 offer_ids, slave, framework)
        remaining = offered
        for operation in accept.operations:
            if operation.type == Operation.LAUNCH:
                if operation.HasField("id"):
                    for task in operation.launch.task_infos:
                        self._task_error(framework, task, TaskStatus.REASON_TASK_INVALID,
                                         "The `id` field cannot be set on LAUNCH operations")
                    continue
                for task_info in operation.launch.task_infos:
                    remaining = self._launch_task(framework, slave, role, task_info, remaining)
            elif operation.type == Operation.LAUNCH_GROUP:
                if operation.HasField("id"):
                    for task in operation.launch_group.task_group.tasks:
                        self._task_error(
                            framework, task, TaskStatus.REASON_TASK_GROUP_INVALID,
                            "The `id` field cannot be set on LAUNCH_GROUP operations")
                    continue
                remaining = self._launch_group(framework, slave, role, operation.launch_group,
                                               remaining)
            else:
                log.warning("Dropping %s operation from framework %s: not yet supported by"
                            " this master", Operation.Type.Name(operation.type), framework)

        # What no task took is declined with the call's filters.
        if remaining:
            self.allocator.recover_resources(framework.id, slave_id, remaining,
                                             accept.filters)

    def _launch_task(self, framework: Framework, slave: Slave, role: str, task_info: Any,
                     available: Resources) -> Resources:
        """Validates and launches one task; returns what is left of `available`."""
        task = mesos_pb2.TaskInfo()
        task.CopyFrom(task_info)
        _allocate(task.resources, role)
        if task.HasField("executor"):
            _allocate(task.executor.resources, role)
            # Older schedulers leave it out: it is the launching framework.
            if not task.executor.HasField("framework_id"):
                task.executor.framework_id.value = framework.id
        if task.HasField("health_check") and not task.health_check.HasField("type"):
            check = task.health_check
            if check.HasField("command") and not check.HasField("http"):
                check.type = mesos_pb2.HealthCheck.COMMAND
            elif check.HasField("http") and not check.HasField("command"):
                check.type = mesos_pb2.HealthCheck.HTTP

        error = validate_task(task, framework, slave, available)
        if error is not None:
            self._task_error(framework, task, TaskStatus.REASON_TASK_INVALID, error)
            return available

        consumed = Resources()
        launch_executor = True
        if task.HasField("executor"):
            executor_id = task.executor.executor_id.value
            launch_executor = not slave.has_executor(framework.id, executor_id)
            if launch_executor:
                log.info("Adding executor '%s' of framework %s on agent %s", executor_id,
                         framework, slave)
                slave.add_executor(framework.id, task.executor)
                framework.add_executor(slave.id, task.executor)
                consumed = consumed + Resources(task.executor.resources)
        self._add_task(task, framework, slave)
        consumed = consumed + Resources(task.resources)

        message = messages_pb2.RunTaskMessage(
            framework_id=framework.info.id, framework=framework.info, task=task,
            pid=str(framework.pid or ""), launch_executor=launch_executor)
        if slave.resource_version is not None:
            message.resource_version_uuids.add().uuid.value = slave.resource_version
        _for_agent(slave, message.task.resources, message.task.executor.resources)
        log.info("Launching task %s of framework %s with resources %s on agent %s on %s"
                 " executor", task.task_id.value, framework, Resources(task.resources), slave,
                 "new" if launch_executor else "existing")
        self.send(slave.pid, message)
        return available - consumed

    def _launch_group(self, framework: Framework, slave: Slave, role: str, launch: Any,
                      available: Resources) -> Resources:
        """Validates and launches a task group (all or none); returns what is left."""
        executor = mesos_pb2.ExecutorInfo()
        executor.CopyFrom(launch.executor)
        _allocate(executor.resources, role)
        tasks = []
        for task_info in launch.task_group.tasks:
            task = mesos_pb2.TaskInfo()
            task.CopyFrom(task_info)
            _allocate(task.resources, role)
            # Each task names its executor, so endpoints can show it.
            if not task.HasField("executor"):
                task.executor.CopyFrom(executor)
            tasks.append(task)

        error = validate_task_group(tasks, executor, framework, slave, available)
        if error is not None:
            for task in tasks:
                self._task_error(framework, task, TaskStatus.REASON_TASK_GROUP_INVALID, error)
            return available

        consumed = Resources()
        executor_id = executor.executor_id.value
        launch_executor = not slave.has_executor(framework.id, executor_id)
        if launch_executor:
            slave.add_executor(framework.id, executor)
            framework.add_executor(slave.id, executor)
            consumed = consumed + Resources(executor.resources)
        for task in tasks:
            self._add_task(task, framework, slave)
            consumed = consumed + Resources(task.resources)

        message = messages_pb2.RunTaskGroupMessage(
            framework=framework.info, executor=executor, launch_executor=launch_executor)
        message.task_group.tasks.extend(tasks)
        if slave.resource_version is not None:
            message.resource_version_uuids.add().uuid.value = slave.resource_version
        _for_agent(slave, message.executor.resources,
                   *[t.resources for t in message.task_group.tasks],
                   *[t.executor.resources for t in message.task_group.tasks])
        log.info("Launching task group %s of framework %s on agent %s on %s executor",
                 [t.task_id.value for t in tasks], framework, slave,
                 "new" if launch_executor else "existing")
        self.send(slave.pid, message)
        return available - consumed

    def _add_task(self, task_info: Any, framework: Framework, slave: Slave) -> None:
        """Port of `Master::addTask` (`protobuf::createTask(task, TASK_STAGING, ...)`)."""
        task = mesos_pb2.Task(
            name=task_info.name, task_id=task_info.task_id, framework_id=framework.info.id,
            slave_id=task_info.slave_id, state=mesos_pb2.TASK_STAGING)
        task.resources.extend(task_info.resources)
        if task_info.HasField("executor"):
            task.executor_id.CopyFrom(task_info.executor.executor_id)
        for field in ("labels", "discovery", "container", "health_check", "kill_policy"):
            if task_info.HasField(field):
                getattr(task, field).CopyFrom(getattr(task_info, field))
        for name, value in task_info.limits.items():
            task.limits[name].CopyFrom(value)
        if task_info.HasField("command") and task_info.command.HasField("user"):
            task.user = task_info.command.user
        elif task_info.HasField("executor") and task_info.executor.command.HasField("user"):
            task.user = task_info.executor.command.user
        log.info("Adding task %s with resources %s of framework %s on agent %s",
                 task.task_id.value, Resources(task.resources), framework, slave)
        slave.add_task(task)
        framework.add_task(task)
        self.subscribers.task_added(task)

    def _task_error(self, framework: Framework, task: Any, reason: int, message: str) -> None:
        update = create_status_update(framework.id, task.slave_id.value, task.task_id.value,
                                      mesos_pb2.TASK_ERROR, message, reason)
        self._count_master_generated(update)
        self._forward(update, None, framework)

    def _count_master_generated(self, update: Any) -> None:
        """Counts an update for a task the master never added (invalid launches)."""
        status = update.status
        name = mesos_pb2.TaskState.Name(status.state).removeprefix("TASK_").lower()
        getattr(self.metrics, f"tasks_{name}").inc()
        self.metrics.increment_tasks_states(status.state, status.source, status.reason)

    def kill_task(self, from_: UPID, framework_id: Any, task_id: Any) -> None:
        framework = self._check_framework("KillTaskMessage", from_, framework_id.value)
        if framework is not None:
            # A kill policy in KillTaskMessage is not supported for drivers, as in Mesos.
            self.kill(framework, Call.Kill(task_id=task_id))

    def kill(self, framework: Framework, kill: Any) -> None:
        task_id = kill.task_id.value
        slave_id = kill.slave_id.value if kill.HasField("slave_id") else None
        log.info("Processing KILL call for task '%s' of framework %s", task_id, framework)
        self.metrics.messages_kill_task.inc()

        task = framework.get_task(task_id)
        if task is None:
            log.warning("Cannot kill task %s of framework %s because it is unknown;"
                        " performing reconciliation", task_id, framework)
            self._reconcile_tasks(framework, [(task_id, slave_id)])
            return
        if slave_id is not None and slave_id != task.slave_id.value:
            log.warning("Cannot kill task %s of agent %s of framework %s because it belongs"
                        " to different agent %s", task_id, slave_id, framework,
                        task.slave_id.value)
            return
        slave = self.slaves.get(task.slave_id.value)
        if slave is None:
            log.warning("Cannot kill task %s of framework %s: unknown agent %s", task_id,
                        framework, task.slave_id.value)
            return
        # Remembered in case the agent is partitioned and the kill is lost: it is sent
        # again when the agent reregisters with the task still running.
        slave.killed_tasks.add((framework.id, task_id))
        if slave.connected:
            log.info("Telling agent %s to kill task %s of framework %s", slave, task_id,
                     framework)
            message = messages_pb2.KillTaskMessage(framework_id=framework.info.id,
                                                   task_id=kill.task_id)
            if kill.HasField("kill_policy"):
                message.kill_policy.CopyFrom(kill.kill_policy)
            self.send(slave.pid, message)
        else:
            log.warning("Cannot kill task %s of framework %s because the agent %s is"
                        " disconnected; the kill is retried when it reregisters", task_id,
                        framework, slave)

    def status_update_acknowledgement(self, from_: UPID, message: Any) -> None:
        error = validate_uuid(message.uuid)
        if error is not None:
            self.metrics.invalid_status_update_acknowledgements.inc()
            self._ignore("StatusUpdateAcknowledgementMessage", from_, error)
            return
        framework = self.frameworks.get(message.framework_id.value)
        if framework is None or framework.pid != from_:
            self.metrics.invalid_status_update_acknowledgements.inc()
            self._ignore("StatusUpdateAcknowledgementMessage", from_,
                         f"framework {message.framework_id.value} cannot be found"
                         if framework is None else
                         f"it is not the registered framework pid of framework {framework.id}")
            return
        self.acknowledge(framework, Call.Acknowledge(slave_id=message.slave_id,
                                                     task_id=message.task_id,
                                                     uuid=message.uuid))

    def acknowledge(self, framework: Framework, acknowledge: Any) -> None:
        """Routes a framework's acknowledgement to the agent; forgets an acknowledged
        terminal task (port of `Master::acknowledge`)."""
        self.metrics.messages_status_update_acknowledgement.inc()
        slave_id = acknowledge.slave_id.value
        task_id = acknowledge.task_id.value
        slave = self.slaves.get(slave_id)
        if slave is None or not slave.connected:
            log.warning("Cannot send status update acknowledgement for task %s of framework"
                        " %s to agent %s because the agent is %s", task_id, framework,
                        slave_id, "not registered" if slave is None else "disconnected")
            self.metrics.invalid_status_update_acknowledgements.inc()
            return

        task = slave.get_task(framework.id, task_id)
        if task is not None:
            if not task.HasField("status_update_state"):
                log.warning("Ignoring status update acknowledgement for task %s of framework"
                            " %s because the update was not sent by this master", task_id,
                            framework)
                self.metrics.invalid_status_update_acknowledgements.inc()
                return
            if is_terminal_state(task.status_update_state) and \
                    task.status_update_uuid == acknowledge.uuid:
                self._remove_task(task)

        self.send(slave.pid, messages_pb2.StatusUpdateAcknowledgementMessage(
            slave_id=acknowledge.slave_id, framework_id=framework.info.id,
            task_id=acknowledge.task_id, uuid=acknowledge.uuid))
        self.metrics.valid_status_update_acknowledgements.inc()

    def reconcile_tasks(self, from_: UPID, message: Any) -> None:
        framework = self._check_framework("ReconcileTasksMessage", from_,
                                          message.framework_id.value)
        if framework is not None:
            self.reconcile(framework, [
                (s.task_id.value, s.slave_id.value if s.HasField("slave_id") else None)
                for s in message.statuses])

    def reconcile(self, framework: Framework, tasks: list[tuple[str, str | None]]) -> None:
        """Port of `Master::reconcile`: `tasks` is `(task id, slave id or None)`; empty
        means implicit reconciliation of every task the master knows."""
        self.metrics.messages_reconcile_tasks.inc()
        self._reconcile_tasks(framework, tasks)

    def _reconcile_tasks(self, framework: Framework,
                         tasks: list[tuple[str, str | None]]) -> None:
        """Port of `Master::_reconcileTasks`, shared by RECONCILE and the kill of an
        unknown task (which is not counted as a reconciliation request)."""
        reason = TaskStatus.REASON_RECONCILIATION

        def known(task: Any) -> Any:
            state = (task.status_update_state if task.HasField("status_update_state")
                     else task.state)
            return create_status_update(
                framework.id, task.slave_id.value, task.task_id.value, state,
                "Reconciliation: Latest task state", reason,
                executor_id=_executor_id(task), healthy=_task_health(task))

        if not tasks:
            log.info("Performing implicit task state reconciliation for framework %s",
                     framework)
            for task in framework.tasks.values():
                self._send_framework(framework, messages_pb2.StatusUpdateMessage(
                    update=known(task)))
            return

        log.info("Performing explicit task state reconciliation for %d tasks of framework"
                 " %s", len(tasks), framework)
        aware = framework.partition_aware
        for task_id, slave_id in tasks:
            update = None
            task = framework.get_task(task_id)
            if task is not None:
                update = known(task)
            elif (slave_id is not None and slave_id in self.slaves_recovered) or \
                    (slave_id is None and self.slaves_recovered):
                # The agent may still come back with the task: no answer yet.
                log.info("Dropping reconciliation of task %s for framework %s because %s not"
                         " yet reregistered with the master", task_id, framework,
                         f"agent {slave_id} has" if slave_id else "some agents have")
            elif slave_id is not None and slave_id in self.slaves:
                update = create_status_update(
                    framework.id, slave_id, task_id,
                    mesos_pb2.TASK_GONE if aware else mesos_pb2.TASK_LOST,
                    "Reconciliation: Task is unknown to the agent", reason)
            elif slave_id is not None and slave_id in self.slaves_unreachable:
                update = create_status_update(
                    framework.id, slave_id, task_id,
                    mesos_pb2.TASK_UNREACHABLE if aware else mesos_pb2.TASK_LOST,
                    "Reconciliation: Task is unreachable", reason,
                    unreachable_time=self.slaves_unreachable[slave_id])
            elif slave_id is not None and slave_id in self.slaves_gone:
                update = create_status_update(
                    framework.id, slave_id, task_id,
                    mesos_pb2.TASK_GONE_BY_OPERATOR if aware else mesos_pb2.TASK_LOST,
                    "Reconciliation: Task is gone", reason)
            else:
                update = create_status_update(
                    framework.id, slave_id, task_id,
                    mesos_pb2.TASK_UNKNOWN if aware else mesos_pb2.TASK_LOST,
                    "Reconciliation: Task is unknown", reason)
            if update is not None:
                self._send_framework(framework, messages_pb2.StatusUpdateMessage(update=update))

    def scheduler_message(self, from_: UPID, message: Any) -> None:
        framework = self.frameworks.get(message.framework_id.value)
        if framework is None or framework.pid != from_:
            self.metrics.invalid_framework_to_executor_messages.inc()
            self._ignore("FrameworkToExecutorMessage", from_,
                         f"framework {message.framework_id.value} cannot be found"
                         if framework is None else
                         f"it is not the registered framework pid of framework {framework.id}")
            return
        self.message(framework, Call.Message(slave_id=message.slave_id,
                                             executor_id=message.executor_id,
                                             data=message.data))

    def message(self, framework: Framework, message: Any) -> None:
        self.metrics.messages_framework_to_executor.inc()
        slave = self.slaves.get(message.slave_id.value)
        if slave is None or not slave.connected:
            log.warning("Cannot send framework message for framework %s to agent %s because"
                        " the agent is %s", framework, message.slave_id.value,
                        "not registered" if slave is None else "disconnected")
            self.metrics.invalid_framework_to_executor_messages.inc()
            return
        self.send(slave.pid, messages_pb2.FrameworkToExecutorMessage(
            slave_id=message.slave_id, framework_id=framework.info.id,
            executor_id=message.executor_id, data=message.data))
        self.metrics.valid_framework_to_executor_messages.inc()

    def shutdown(self, framework: Framework, shutdown: Any) -> None:
        slave = self.slaves.get(shutdown.slave_id.value)
        if slave is None:
            log.warning("Unable to shutdown executor '%s' of framework %s of unknown agent"
                        " %s", shutdown.executor_id.value, framework, shutdown.slave_id.value)
            return
        self.send(slave.pid, messages_pb2.ShutdownExecutorMessage(
            executor_id=shutdown.executor_id, framework_id=framework.info.id))

    # ==================================================================================
    # Offers.

    def offer(self, framework_id: str, offerable: dict[str, dict[str, Resources]]) -> None:
        """Turns an allocation into offers (port of `Master::offer`); runs on the master's
        thread, deferred from the allocator's."""
        framework = self.frameworks.get(framework_id)
        if framework is None or not framework.connected() or not framework.active():
            log.warning("Master returning resources offered to framework %s because the"
                        " framework has terminated, is not connected, or is inactive",
                        framework_id)
            for slaves in offerable.values():
                for slave_id, resources in slaves.items():
                    self.allocator.recover_resources(framework_id, slave_id, resources, None)
            return

        message = messages_pb2.ResourceOffersMessage()
        for role, slaves in offerable.items():
            for slave_id, resources in slaves.items():
                slave = self.slaves.get(slave_id)
                if slave is None or not slave.active:
                    log.warning("Master returning resources offered to framework %s because"
                                " agent %s is %s", framework, slave_id,
                                "not valid" if slave is None else
                                "deactivated" if slave.connected else "disconnected")
                    self.allocator.recover_resources(framework_id, slave_id, resources, None)
                    continue
                offer = self._make_offer(framework, slave, role, resources)
                message.offers.add().CopyFrom(self._offer_for_framework(framework, offer))
                message.pids.append(str(slave.pid))

        if len(message.offers) > 0:
            log.info("Sending offers %s to framework %s", [o.id.value for o in message.offers],
                     framework)
            self._send_framework(framework, message)

    def _make_offer(self, framework: Framework, slave: Slave, role: str,
                    resources: Resources) -> mesos_pb2.Offer:
        offer = mesos_pb2.Offer()
        offer.id.value = self._new_offer_id()
        offer.framework_id.CopyFrom(framework.info.id)
        offer.slave_id.value = slave.id
        offer.hostname = slave.info.hostname
        offer.url.scheme = "http"
        offer.url.address.hostname = slave.info.hostname
        offer.url.address.ip = slave.pid.host
        # The agent's HTTP port (its transport port is in its pid).
        offer.url.address.port = slave.info.port if slave.info.HasField("port") \
            else slave.pid.port
        offer.url.path = "/" + slave.pid.id
        offer.resources.extend(resources.to_protobuf_list())
        offer.attributes.extend(slave.info.attributes)
        offer.allocation_info.role = role
        if slave.info.HasField("domain"):
            offer.domain.CopyFrom(slave.info.domain)
        for executor_id in slave.executors.get(framework.id, {}):
            offer.executor_ids.add().value = executor_id

        offer_id = offer.id.value
        self.offers[offer_id] = offer
        self.offer_resources[offer_id] = resources
        framework.add_offer(offer_id, slave.id, resources)
        slave.add_offer(offer_id, resources)
        if self.flags.offer_timeout is not None:
            self.offer_timers[offer_id] = delay(self.flags.offer_timeout, self,
                                                self._offer_timeout, offer_id)
        return offer

    def _offer_for_framework(self, framework: Framework, offer: Any) -> mesos_pb2.Offer:
        """The offer as this framework understands it: no allocation info for schedulers
        that predate MULTI_ROLE (MESOS-8237), the old reservation format for those that
        predate RESERVATION_REFINEMENT."""
        view = mesos_pb2.Offer()
        view.CopyFrom(offer)
        if not framework.multi_role:
            view.ClearField("allocation_info")
            for resource in view.resources:
                resource.ClearField("allocation_info")
        if not framework.reservation_refinement:
            for resource in view.resources:
                try:
                    convert_resource_format(resource, ResourceFormat.PRE_RESERVATION_REFINEMENT)
                except ValueError:
                    log.warning("Cannot show offer %s resource %s to framework %s in the"
                                " pre-reservation-refinement format", offer.id.value,
                                resource.name, framework)
        return view

    def _offer_timeout(self, offer_id: str) -> None:
        self.offer_timers.pop(offer_id, None)
        if offer_id in self.offers:
            log.info("Rescinding offer %s after --offer_timeout", offer_id)
            self._rescind_offer(offer_id)

    def _rescind_offer(self, offer_id: str, filters: Any = None) -> None:
        """Withdraws an offer: the framework hears of it, the resources go back."""
        offer = self.offers[offer_id]
        framework = self.frameworks.get(offer.framework_id.value)
        if framework is not None:
            self._send_framework(framework, messages_pb2.RescindResourceOfferMessage(
                offer_id=offer.id))
        self._discard_offer(offer_id, filters)

    def _discard_offer(self, offer_id: str, filters: Any = None) -> None:
        """Removes an offer silently and gives its resources back to the allocator."""
        offer = self.offers[offer_id]
        resources = self.offer_resources[offer_id]
        self.allocator.recover_resources(offer.framework_id.value, offer.slave_id.value,
                                         resources, filters)
        self._remove_offer(offer_id)

    def _remove_offer(self, offer_id: str) -> None:
        offer = self.offers.pop(offer_id)
        resources = self.offer_resources.pop(offer_id)
        framework = self.frameworks.get(offer.framework_id.value)
        if framework is not None:
            framework.remove_offer(offer_id, offer.slave_id.value, resources)
        slave = self.slaves.get(offer.slave_id.value)
        if slave is not None:
            slave.remove_offer(offer_id, resources)
        timer = self.offer_timers.pop(offer_id, None)
        if timer is not None:
            timer.cancel()
        log.debug("Removing offer %s", offer_id)

    # ==================================================================================
    # Agents.

    def register_slave(self, from_: UPID, message: Any) -> None:
        """Port of `Master::registerSlave`: a new agent asks for an id."""
        self.metrics.messages_register_slave.inc()
        error = validate_register_slave(message)
        if error is not None:
            self._ignore("RegisterSlaveMessage", from_, f"it is an invalid registration: {error}")
            return
        if from_ in self.slaves_registering:
            log.info("Ignoring register agent message from %s (%s) as registration is"
                     " already in progress", from_, message.slave.hostname)
            return
        version = parse_version(message.version)
        if version is None or version < MINIMUM_AGENT_VERSION:
            self._ignore("RegisterSlaveMessage", from_,
                         f"the agent version '{message.version}' is not supported (minimum"
                         f" {'.'.join(map(str, MINIMUM_AGENT_VERSION))})")
            return

        existing = self._slave_by_pid(from_)
        if existing is not None:
            if existing.connected:
                log.info("Agent %s already registered, resending acknowledgement", existing)
                self.send(from_, messages_pb2.SlaveRegisteredMessage(
                    slave_id=existing.info.id, connection=self._connection()))
                return
            # It restarted without recovery (or failed recovery): the old one is gone.
            log.info("Removing old disconnected agent %s because a registration attempt"
                     " occurred", existing)
            self._remove_slave(existing, "a new agent registered at the same address",
                               self.metrics.slave_removals_reason_registered)

        log.info("Received register agent message from %s (%s)", from_,
                 message.slave.hostname)
        self.slaves_registering.add(from_)
        registration = messages_pb2.RegisterSlaveMessage()
        registration.CopyFrom(message)
        registration.slave.id.value = self._new_slave_id()
        log.info("Registering agent at %s (%s) with id %s", from_, message.slave.hostname,
                 registration.slave.id.value)
        self._admit_slave(registration.slave).on_any(
            defer(self, self._register_slave, from_, registration))

    def _register_slave(self, pid: UPID, message: Any, admitted: Future[bool]) -> None:
        self.slaves_registering.discard(pid)
        info = message.slave
        if not admitted.is_ready():
            self._registrar_failed(f"admit agent {info.id.value} at {pid} ({info.hostname})",
                                   admitted)
            return
        if not admitted.value:
            # An id collision, practically impossible: the agent retries and gets a new id.
            log.warning("Agent %s at %s (%s) was assigned an agent ID that already appears in"
                        " the registry; ignoring registration attempt", info.id.value, pid,
                        info.hostname)
            return
        slave = Slave(info, pid, message.version, message.agent_capabilities, clock.now(),
                      checkpointed_resources=message.checkpointed_resources)
        slave.resource_version = (message.resource_version_uuid.value
                                  if message.HasField("resource_version_uuid") else None)
        self.metrics.slave_registrations.inc()
        self._add_slave(slave, [])
        self.send(slave.pid, messages_pb2.SlaveRegisteredMessage(
            slave_id=info.id, connection=self._connection()))
        log.info("Registered agent %s with %s", slave, slave.total_resources)

    def reregister_slave(self, from_: UPID, message: Any) -> None:
        """Port of `Master::reregisterSlave`: an agent that has an id comes (back)."""
        self.metrics.messages_reregister_slave.inc()
        info = message.slave
        slave_id = info.id.value
        if slave_id in self.slaves_reregistering:
            log.info("Ignoring reregister agent message from agent %s at %s (%s) as"
                     " re-registration is already in progress", slave_id, from_, info.hostname)
            return
        if slave_id in self.slaves_marking_unreachable:
            log.info("Ignoring reregister agent message from agent %s at %s (%s) as a mark"
                     " unreachable operation is already in progress", slave_id, from_,
                     info.hostname)
            return
        if slave_id in self.slaves_marking_gone:
            log.info("Ignoring reregister agent message from agent %s at %s (%s) as a gone"
                     " operation is already in progress", slave_id, from_, info.hostname)
            return
        if slave_id in self.slaves_gone:
            log.warning("Refusing re-registration of agent at %s because it is already"
                        " marked gone", from_)
            self.send(from_, messages_pb2.ShutdownMessage(message="Agent has been marked gone"))
            return
        error = validate_reregister_slave(message)
        if error is not None:
            self._ignore("ReregisterSlaveMessage", from_,
                         f"it is an invalid re-registration: {error}")
            return
        version = parse_version(message.version)
        if version is None or version < MINIMUM_AGENT_VERSION:
            self._ignore("ReregisterSlaveMessage", from_,
                         f"the agent version '{message.version}' is not supported (minimum"
                         f" {'.'.join(map(str, MINIMUM_AGENT_VERSION))})")
            return

        log.info("Received reregister agent message from agent %s at %s (%s)", slave_id,
                 from_, info.hostname)
        self.slaves_reregistering.add(slave_id)
        registration = messages_pb2.ReregisterSlaveMessage()
        registration.CopyFrom(message)

        slave = self.slaves.get(slave_id)
        if slave is not None:
            # A known agent (ZooKeeper blip, or it restarted and recovered).
            if slave.pid.host != from_.host or slave.info.hostname != info.hostname:
                log.warning("Agent %s at %s (%s) attempted to reregister with different IP /"
                            " hostname; expected %s (%s): shutting it down", slave_id, from_,
                            info.hostname, slave.pid.host, slave.info.hostname)
                self.send(from_, messages_pb2.ShutdownMessage(
                    message="Agent attempted to reregister with different IP / hostname"))
                self.slaves_reregistering.discard(slave_id)
                return
            if info == slave.info:
                self._reregister_known_slave(from_, registration, Future.ready(True))
            else:
                self._update_slave_registry(info).on_any(
                    defer(self, self._reregister_known_slave, from_, registration))
        elif slave_id in self.slaves_recovered:
            # Back after a master failover: still admitted in the registry, which only needs
            # the agent's new info if it changed.
            if same_slave_info(info, self.slaves_recovered[slave_id]):
                self._reregister_slave(from_, registration, Future.ready(True))
            else:
                self._update_slave_registry(info).on_any(
                    defer(self, self._reregister_slave, from_, registration))
        else:
            # Usually an agent marked unreachable; an unknown one is admitted anyway.
            self._readmit_slave(info).on_any(
                defer(self, self._reregister_slave, from_, registration))

    def _reregister_slave(self, pid: UPID, message: Any, readmitted: Future[bool]) -> None:
        """Port of `Master::__reregisterSlave`: a re-admitted agent (unreachable, unknown or
        recovered after a master failover) joins with its tasks."""
        info = message.slave
        slave_id = info.id.value
        self.slaves_reregistering.discard(slave_id)
        if not readmitted.is_ready():
            self._registrar_failed(f"readmit agent {slave_id} at {pid} ({info.hostname})",
                                   readmitted)
            return
        if not readmitted.value:
            log.error("Refusing re-registration of agent %s at %s (%s) because the registry"
                      " refused it", slave_id, pid, info.hostname)
            return
        if slave_id in self.slaves_gone:
            self.send(pid, messages_pb2.ShutdownMessage(message="Agent has been marked gone"))
            return

        frameworks = {f.id.value: f for f in message.frameworks}
        if mesos_pb2.SlaveInfo.Capability.MULTI_ROLE not in \
                [c.type for c in message.agent_capabilities]:
            self._inject_allocation_info(message, frameworks)

        recovered_tasks = []
        reason_text = ("Unreachable agent re-reregistered" if slave_id in self.slaves_unreachable
                       else "Unknown agent reregistered")
        for task in message.tasks:
            framework_id = task.framework_id.value
            # Tasks of frameworks removed meanwhile are shut down below, not re-added.
            if self._is_completed_framework(framework_id):
                continue
            if slave_id not in self.slaves_recovered:
                framework = self.frameworks.get(framework_id)
                if framework is not None:
                    framework.unreachable_tasks.pop(task.task_id.value, None)
                    framework.forget_completed_task(task.task_id.value)
                update = create_status_update(
                    framework_id, task.slave_id.value, task.task_id.value, task.state,
                    reason_text, TaskStatus.REASON_SLAVE_REREGISTERED,
                    executor_id=_executor_id(task), healthy=_task_health(task))
                if framework is None or not framework.connected():
                    log.warning("Dropping update for task %s of %s framework %s",
                                task.task_id.value,
                                "unknown" if framework is None else "disconnected",
                                framework_id)
                else:
                    self._forward(update, None, framework)
            copy = mesos_pb2.Task()
            copy.CopyFrom(task)
            recovered_tasks.append(copy)

        for framework_id, task_ids in self.unreachable_tasks.pop(slave_id, {}).items():
            framework = self.frameworks.get(framework_id)
            if framework is not None:
                for task_id in task_ids:
                    framework.unreachable_tasks.pop(task_id, None)

        self.slaves_recovered.pop(slave_id, None)
        executors = []
        for executor in message.executor_infos:
            copy = mesos_pb2.ExecutorInfo()
            copy.CopyFrom(executor)
            executors.append(copy)
        slave = Slave(info, pid, message.version, message.agent_capabilities, clock.now(),
                      checkpointed_resources=message.checkpointed_resources,
                      executor_infos=executors, tasks=recovered_tasks)
        slave.resource_version = (message.resource_version_uuid.value
                                  if message.HasField("resource_version_uuid") else None)
        slave.reregistered_time = clock.now()
        self.metrics.slave_reregistrations.inc()
        self.slaves_removed.pop(slave_id, None)
        self.slaves_unreachable.pop(slave_id, None)
        self._add_slave(slave, list(message.completed_frameworks))

        self.send(slave.pid, messages_pb2.SlaveReregisteredMessage(
            slave_id=info.id, connection=self._connection()))
        log.info("Re-registered agent %s with %s", slave, slave.total_resources)

        for framework_info in message.frameworks:
            if self._is_completed_framework(framework_info.id.value):
                log.info("Shutting down framework %s at reregistered agent %s because the"
                         " framework has been shutdown at the master", framework_info.id.value,
                         slave)
                self.send(slave.pid, messages_pb2.ShutdownFrameworkMessage(
                    framework_id=framework_info.id))
        self._update_slave_frameworks(slave, list(message.frameworks))

    def _inject_allocation_info(self, message: Any, frameworks: dict[str, Any]) -> None:
        """Agents without MULTI_ROLE report resources without allocation roles: a
        single-role framework's resources belong to its role."""
        def inject(resources: Any, framework_id: str) -> None:
            info = frameworks.get(framework_id)
            if info is None:
                return
            roles = framework_roles(info)
            for resource in resources:
                if not resource.HasField("allocation_info") and len(roles) == 1:
                    resource.allocation_info.role = next(iter(roles))

        for task in message.tasks:
            inject(task.resources, task.framework_id.value)
        for executor in message.executor_infos:
            inject(executor.resources, executor.framework_id.value)

    def _reregister_known_slave(self, pid: UPID, message: Any, updated: Future[bool]) -> None:
        """Port of `Master::___reregisterSlave`: a registered agent reconnects."""
        info = message.slave
        slave_id = info.id.value
        self.slaves_reregistering.discard(slave_id)
        if not updated.is_ready():
            self._registrar_failed(f"update agent {slave_id} at {pid} in the registry",
                                   updated)
            return
        if slave_id in self.slaves_gone:
            self.send(pid, messages_pb2.ShutdownMessage(message="Agent has been marked gone"))
            return
        slave = self.slaves.get(slave_id)
        if slave is None:
            log.warning("Dropping ongoing re-registration attempt of agent %s at %s (%s)"
                        " because it was removed meanwhile", slave_id, pid, info.hostname)
            return
        if not updated.value:
            log.error("Failed to update the registry for agent %s at %s", slave_id, pid)
            return

        # The pid of a restarted agent may have a new port: relink. A link that never broke
        # (the agent is still connected at the same pid: a retried re-registration) stands.
        relink = slave.pid != pid or not slave.connected
        if slave.pid != pid:
            self.slave_pids.pop(slave.pid, None)
            slave.pid = pid
            self.slave_pids[pid] = slave_id
        if relink:
            self.link(pid)
        slave.info.CopyFrom(info)
        slave.version = message.version
        slave.capabilities = list(message.agent_capabilities)
        slave.total_resources = Resources(info.resources)
        slave.reregistered_time = clock.now()
        self.allocator.update_slave(slave_id, slave.info, slave.total_resources,
                                    [c.type for c in slave.capabilities])

        self._reconcile_known_slave(slave, list(message.executor_infos), list(message.tasks))

        if not slave.connected:
            if slave.reregistration_timer is not None:
                slave.reregistration_timer.cancel()
                slave.reregistration_timer = None
            slave.state = SlaveState.ACTIVE
            if slave.observer is not None:
                libprocess.dispatch(self._observers, self._observers.call, slave.observer,
                                    "reconnect", pid)
            log.info("Reactivating re-registered agent %s", slave)
            self.allocator.activate_slave(slave_id)

        self._update_slave_frameworks(slave, list(message.frameworks))

    def _reconcile_known_slave(self, slave: Slave, executors: list[Any],
                               tasks: list[Any]) -> None:
        """Port of `Master::reconcileKnownSlave`: the agent learns of tasks it lost, the
        master forgets executors the agent no longer has, lost kills are resent."""
        agent_tasks = {(t.framework_id.value, t.task_id.value) for t in tasks}
        reregistered = messages_pb2.SlaveReregisteredMessage(
            slave_id=slave.info.id, connection=self._connection())
        for framework_id, framework_tasks in slave.tasks.items():
            reconcile = messages_pb2.ReconcileTasksMessage()
            for task in framework_tasks.values():
                if (framework_id, task.task_id.value) in agent_tasks:
                    continue
                log.warning("Task %s of framework %s unknown to the agent %s during"
                            " re-registration: reconciling with the agent", task.task_id.value,
                            framework_id, slave)
                status = reconcile.statuses.add()
                status.task_id.CopyFrom(task.task_id)
                status.slave_id.value = slave.id
                status.state = (task.status_update_state
                                if task.HasField("status_update_state") else task.state)
                status.source = TaskStatus.SOURCE_MASTER
                status.message = "Reconciliation request"
                status.reason = TaskStatus.REASON_RECONCILIATION
                status.timestamp = clock.now()
            if len(reconcile.statuses) > 0:
                framework = self.frameworks.get(framework_id)
                if framework is None:
                    continue
                reconcile.framework_id.value = framework_id
                reconcile.framework.CopyFrom(framework.info)
                reregistered.reconciliations.add().CopyFrom(reconcile)
        self.send(slave.pid, reregistered)

        agent_executors = {(e.framework_id.value, e.executor_id.value) for e in executors}
        for framework_id, framework_executors in list(slave.executors.items()):
            for executor_id in list(framework_executors):
                if (framework_id, executor_id) not in agent_executors:
                    log.warning("Executor '%s' of framework %s possibly unknown to the agent"
                                " %s", executor_id, framework_id, slave)
                    self._remove_executor(slave, framework_id, executor_id)

        for task in tasks:
            key = (task.framework_id.value, task.task_id.value)
            if not is_terminal_state(task.state) and key in slave.killed_tasks:
                log.warning("Agent %s has non-terminal task %s that is supposed to be killed."
                            " Killing it now!", slave, task.task_id.value)
                self.send(slave.pid, messages_pb2.KillTaskMessage(
                    framework_id=task.framework_id, task_id=task.task_id))

        for framework_id in self.completed_frameworks:
            if any(key[0] == framework_id for key in agent_tasks):
                log.warning("Agent %s reregistered with completed framework %s. Shutting down"
                            " the framework on the agent", slave, framework_id)
                self.send(slave.pid, messages_pb2.ShutdownFrameworkMessage(
                    framework_id=mesos_pb2.FrameworkID(value=framework_id)))

    def _update_slave_frameworks(self, slave: Slave, frameworks: list[Any]) -> None:
        """Tells the agent the current pid of its frameworks; recovers unknown ones."""
        for info in frameworks:
            framework = self.frameworks.get(info.id.value)
            if framework is not None:
                self.send(slave.pid, messages_pb2.UpdateFrameworkMessage(
                    framework_id=framework.info.id, framework_info=framework.info,
                    pid=str(framework.pid or "")))
            elif not self._is_completed_framework(info.id.value):
                log.info("Recovering framework %s from reregistering agent %s",
                         info.id.value, slave)
                self._recover_framework(info)

    def _add_slave(self, slave: Slave, completed_frameworks: list[Any]) -> None:
        """Port of `Master::addSlave`."""
        if slave.id in self.slaves:
            raise RuntimeError(f"Agent {slave} is already registered")
        self.slaves[slave.id] = slave
        self.slave_pids[slave.pid] = slave.id
        self.link(slave.pid)

        observer = SlaveObserver(slave.pid, slave.id, self, self.flags.agent_ping_timeout,
                                 self.flags.max_agent_ping_timeouts,
                                 self.slave_removal_limiter)
        libprocess.dispatch(self._observers, self._observers.start, observer)
        slave.observer = observer

        for framework_id, executors in slave.executors.items():
            framework = self.frameworks.get(framework_id)
            if framework is not None:
                for executor in executors.values():
                    framework.add_executor(slave.id, executor)
        for framework_id, tasks in slave.tasks.items():
            framework = self.frameworks.get(framework_id)
            if framework is not None:
                for task in tasks.values():
                    framework.add_task(task)
        for archived in completed_frameworks:
            framework = self.frameworks.get(archived.framework_info.id.value)
            for task in archived.tasks:
                if framework is not None:
                    copy = mesos_pb2.Task()
                    copy.CopyFrom(task)
                    framework.add_completed_task(copy)
                else:
                    log.warning("Possibly orphaned completed task %s of framework %s that"
                                " ran on agent %s", task.task_id.value,
                                task.framework_id.value, slave)

        self.allocator.add_slave(slave.id, slave.info, slave.total_resources,
                                 dict(slave.used_resources),
                                 [c.type for c in slave.capabilities])
        self.subscribers.agent_added(slave)

    def unregister_slave(self, from_: UPID, slave_id: Any) -> None:
        self.metrics.messages_unregister_slave.inc()
        slave = self.slaves.get(slave_id.value)
        if slave is None:
            self._ignore("UnregisterSlaveMessage", from_, f"agent {slave_id.value} is unknown")
            return
        if slave.pid != from_:
            self._ignore("UnregisterSlaveMessage", from_, f"it is not the agent {slave.pid}")
            return
        self._remove_slave(slave, "the agent unregistered",
                           self.metrics.slave_removals_reason_unregistered)

    def _disconnect_slave(self, slave: Slave) -> None:
        log.info("Disconnecting agent %s", slave)
        slave.state = SlaveState.DISCONNECTED
        if slave.observer is not None:
            libprocess.dispatch(self._observers, self._observers.call, slave.observer,
                                "disconnect")
        self._deactivate_slave(slave)

    def _deactivate_slave(self, slave: Slave) -> None:
        log.info("Deactivating agent %s", slave)
        if slave.state is SlaveState.ACTIVE:
            slave.state = SlaveState.DEACTIVATED
        self.allocator.deactivate_slave(slave.id)
        for offer_id in list(slave.offers):
            self._rescind_offer(offer_id)

    def _agent_reregister_timeout(self, slave_id: str) -> None:
        slave = self.slaves.get(slave_id)
        if slave is None or slave.connected:
            return
        slave.reregistration_timer = None
        self.metrics.slave_unreachable_scheduled.inc()
        self._with_removal_permit(self._mark_disconnected_unreachable, slave_id)

    def _mark_disconnected_unreachable(self, slave_id: str) -> None:
        slave = self.slaves.get(slave_id)
        if slave is not None and not slave.connected and self._mark_unreachable(
                slave.info, f"agent did not reregister within "
                            f"{format_duration(self.flags.agent_reregister_timeout)} after"
                            " disconnecting"):
            self.metrics.slave_unreachable_completed.inc()
        else:
            self.metrics.slave_unreachable_canceled.inc()

    def agent_health_timeout(self, slave_id: str) -> None:
        """Dispatched by an agent's `SlaveObserver` after too many missed pings (and, with
        `--agent_removal_rate_limit`, once it holds a permit)."""
        slave = self.slaves.get(slave_id)
        if slave is None:
            return
        self._mark_unreachable(slave.info, "health check timed out")

    def _mark_unreachable(self, info: Any, message: str,
                          during_failover: bool = False) -> bool:
        """Port of `Master::markUnreachable`: the registry first, then the books. During a
        master failover the agent is a recovered one (the master knows none of its tasks);
        False when the transition is skipped."""
        slave_id = info.id.value
        reason = None
        if during_failover and slave_id not in self.slaves_recovered:
            reason = "it reregistered in the interim"
        elif not during_failover and slave_id not in self.slaves:
            reason = "it has already been removed or marked unreachable"
        elif slave_id in self.slaves_reregistering:
            reason = "it is reregistering"
        elif slave_id in self.slaves_marking_unreachable:
            reason = "another unreachable transition is already in progress"
        elif slave_id in self.slaves_removing:
            reason = "it is being removed"
        elif slave_id in self.slaves_marking_gone:
            reason = "it is being marked as gone"
        elif slave_id in self.slaves_gone:
            reason = "it has been marked as gone"
        if reason is not None:
            log.warning("Skipping transition of agent %s (%s) to unreachable because %s",
                        slave_id, info.hostname, reason)
            return False
        log.info("Marking agent %s (%s) unreachable: %s", slave_id, info.hostname, message)
        self.slaves_marking_unreachable.add(slave_id)
        when = _now_time_info()
        self._mark_slave_unreachable_registry(info, when).on_any(
            defer(self, self._marked_unreachable, info, when, message, during_failover))
        return True

    def _marked_unreachable(self, info: Any, when: Any, message: str, during_failover: bool,
                            result: Future[bool]) -> None:
        """Port of `Master::_markUnreachable`."""
        slave_id = info.id.value
        self.slaves_marking_unreachable.discard(slave_id)
        if not result.is_ready():
            self._registrar_failed(f"mark agent {slave_id} ({info.hostname}) unreachable",
                                   result)
            return
        if not result.value:
            log.error("Failed to mark agent %s (%s) unreachable in the registry", slave_id,
                      info.hostname)
            return
        log.info("Marked agent %s (%s) unreachable: %s", slave_id, info.hostname, message)
        self.metrics.slave_removals.inc()
        self.metrics.slave_removals_reason_unhealthy.inc()
        self.slaves_unreachable[slave_id] = when
        if during_failover:
            # The master knows no tasks of an agent that never came back: frameworks hear
            # of the agent, and reconciliation answers for its tasks.
            self.slaves_recovered.pop(slave_id, None)
            self.metrics.recovery_slave_removals.inc()
            self._send_slave_lost(info)
            return
        slave = self.slaves.get(slave_id)
        if slave is not None:
            self._remove_lost_slave(slave, message, when)

    def _remove_lost_slave(self, slave: Slave, message: str, when: Any | None) -> None:
        """Port of `Master::__removeSlave`, for an agent marked unreachable at `when` or
        (`when` None) marked gone. Unreachable: tasks become TASK_UNREACHABLE (partition-
        aware) or TASK_LOST, REASON_SLAVE_REMOVED, and are kept as unreachable. Gone:
        TASK_GONE_BY_OPERATOR, REASON_SLAVE_REMOVED_BY_OPERATOR (partition-aware) or
        TASK_LOST, REASON_SLAVE_REMOVED, and they are completed."""
        self.allocator.remove_slave(slave.id)
        unreachable = when is not None
        for framework_id, tasks in list(slave.tasks.items()):
            framework = self.frameworks.get(framework_id)
            aware = framework is not None and framework.partition_aware
            state, reason = mesos_pb2.TASK_LOST, TaskStatus.REASON_SLAVE_REMOVED
            if aware and unreachable:
                state = mesos_pb2.TASK_UNREACHABLE
            elif aware:
                state = mesos_pb2.TASK_GONE_BY_OPERATOR
                reason = TaskStatus.REASON_SLAVE_REMOVED_BY_OPERATOR
            for task in list(tasks.values()):
                update = create_status_update(
                    framework_id, slave.id, task.task_id.value, state, message, reason,
                    executor_id=_executor_id(task), unreachable_time=when)
                self._update_task(task, update)
                self._remove_task(task, unreachable=unreachable)
                if framework is not None and framework.connected():
                    self._forward(update, None, framework)
        self._forget_slave(slave)

    def mark_agent_gone(self, slave_id: str) -> Future[None]:
        """The operator's MARK_AGENT_GONE of a registered, recovered or unreachable agent
        (the operator API checked that it is one, and that no other transition of it is
        under way): the registry first (MarkSlaveGone), then the books (`_marked_gone`).
        The future is ready once both are done."""
        log.info("Marking agent %s gone", slave_id)
        self.slaves_marking_gone.add(slave_id)
        when = _now_time_info()
        done: Promise[None] = Promise()
        self._mark_slave_gone_registry(slave_id, when).on_any(
            defer(self, self._marked_gone, slave_id, when, done))
        return done.future

    def _marked_gone(self, slave_id: str, when: Any, done: Promise[None],
                     result: Future[bool]) -> None:
        """Port of `Master::markGone`: the agent is gone for good. A registered one is
        told to shut down and removed (its tasks are lost or gone by operator); the
        tasks an unreachable one had become TASK_GONE_BY_OPERATOR (partition-aware) or
        TASK_LOST; a recovered one is forgotten (the master knows none of its tasks)."""
        self.slaves_marking_gone.discard(slave_id)
        if not result.is_ready():
            done.fail(f"Failed to mark agent {slave_id} gone in the registry")
            self._registrar_failed(f"mark agent {slave_id} gone", result)
            return
        if not result.value:
            # The master's books listed it: the registry should have too. Mesos goes on.
            log.warning("The registry did not list agent %s as admitted or unreachable;"
                        " marking it gone anyway", slave_id)
        self.slaves_gone[slave_id] = when
        message = "Agent has been marked gone"
        slave = self.slaves.get(slave_id)
        if slave is not None:
            log.info("Shutting down agent %s: it has been marked gone", slave)
            self.send(slave.pid, messages_pb2.ShutdownMessage(message=message))
            self._remove_lost_slave(slave, message, None)
        elif self.slaves_recovered.pop(slave_id, None) is not None:
            # Mesos keeps a recovered agent marked gone among the recovered ones
            # (MESOS-9739), so reconciliation of its tasks stays unanswered; here it is
            # gone at once, as the registry says.
            log.info("Marked recovered agent %s gone", slave_id)
        else:
            self._mark_unreachable_slave_gone(slave_id, message)
        done.set(None)

    def _mark_unreachable_slave_gone(self, slave_id: str, message: str) -> None:
        """The tasks an unreachable agent had are gone for good: each gets its terminal
        update and is completed (the unreachable half of `Master::markGone`)."""
        self.slaves_unreachable.pop(slave_id, None)
        for framework_id, task_ids in self.unreachable_tasks.pop(slave_id, {}).items():
            framework = self.frameworks.get(framework_id)
            if framework is None:
                continue
            state, reason = mesos_pb2.TASK_LOST, TaskStatus.REASON_SLAVE_REMOVED
            if framework.partition_aware:
                state = mesos_pb2.TASK_GONE_BY_OPERATOR
                reason = TaskStatus.REASON_SLAVE_REMOVED_BY_OPERATOR
            for task_id in task_ids:
                task = framework.unreachable_tasks.pop(task_id, None)
                if task is None:
                    continue
                update = create_status_update(
                    framework_id, slave_id, task_id, state, message, reason,
                    executor_id=_executor_id(task))
                self._update_task(task, update)
                if framework.connected():
                    self._forward(update, None, framework)
                else:
                    log.warning("Dropping update %s for task %s of disconnected framework"
                                " %s", mesos_pb2.TaskState.Name(state), task_id, framework)
                framework.add_completed_task(task)

    def _remove_slave(self, slave: Slave, cause: str, reason: Any) -> None:
        """Port of `Master::removeSlave`: the registry first, then the books."""
        if slave.id in self.slaves_marking_unreachable:
            log.warning("Ignoring removal of agent %s that is in the process of being marked"
                        " unreachable", slave)
            return
        if slave.id in self.slaves_marking_gone:
            log.warning("Ignoring removal of agent %s that is in the process of being marked"
                        " gone", slave)
            return
        if slave.id in self.slaves_removing:
            log.warning("Ignoring removal of agent %s that is in the process of being"
                        " removed", slave)
            return
        self.slaves_removing.add(slave.id)
        log.info("Removing agent %s: %s", slave, cause)
        self._remove_slave_registry(slave.info).on_any(
            defer(self, self._removed_slave, slave, cause, reason))

    def _removed_slave(self, slave: Slave, cause: str, reason: Any,
                       result: Future[bool]) -> None:
        """Port of `Master::_removeSlave`: its tasks are lost, frameworks hear of it."""
        self.slaves_removing.discard(slave.id)
        if not result.is_ready():
            self._registrar_failed(f"remove agent {slave} from the registry", result)
            return
        if self.slaves.get(slave.id) is not slave:
            return
        log.info("Removed agent %s: %s", slave, cause)
        self.metrics.slave_removals.inc()
        if reason is not None:
            reason.inc()
        # Out of the allocator first, so that the recovered resources are not offered.
        self.allocator.remove_slave(slave.id)
        for framework_id, tasks in list(slave.tasks.items()):
            framework = self.frameworks.get(framework_id)
            for task in list(tasks.values()):
                update = create_status_update(
                    framework_id, slave.id, task.task_id.value, mesos_pb2.TASK_LOST,
                    f"Agent {slave.info.hostname} removed: {cause}",
                    TaskStatus.REASON_SLAVE_REMOVED, executor_id=_executor_id(task))
                self._update_task(task, update)
                self._remove_task(task)
                if framework is not None and framework.connected():
                    self._forward(update, None, framework)
        self._forget_slave(slave)

    def _forget_slave(self, slave: Slave) -> None:
        """The common end of an agent's removal: executors, offers, observer, books."""
        for framework_id, executors in list(slave.executors.items()):
            for executor_id in list(executors):
                self._remove_executor(slave, framework_id, executor_id)
        for offer_id in list(slave.offers):
            self._rescind_offer(offer_id)
        if slave.reregistration_timer is not None:
            slave.reregistration_timer.cancel()
        del self.slaves[slave.id]
        if self.slave_pids.get(slave.pid) == slave.id:
            del self.slave_pids[slave.pid]
        self._remember_removed_slave(slave.id)
        if slave.observer is not None:
            libprocess.dispatch(self._observers, self._observers.stop, slave.observer)
            slave.observer = None
        self._send_slave_lost(slave.info)
        self.subscribers.agent_removed(slave.id)

    def _send_slave_lost(self, info: Any) -> None:
        for framework in self.frameworks.values():
            if framework.connected():
                log.info("Notifying framework %s of lost agent %s (%s)", framework,
                         info.id.value, info.hostname)
                self._send_framework(framework, messages_pb2.LostSlaveMessage(slave_id=info.id))

    # ==================================================================================
    # Tasks and status updates.

    def status_update(self, from_: UPID, message: Any) -> None:
        """Port of `Master::statusUpdate`: an agent reports a task's new state."""
        self.metrics.messages_status_update.inc()
        update = message.update
        slave_id = update.slave_id.value
        try:
            pid = UPID(message.pid) if message.pid else from_
        except ValueError:
            pid = from_

        if slave_id in self.slaves_removed:
            self.metrics.invalid_status_updates.inc()
            self._ignore(f"status update for task {update.status.task_id.value}", from_,
                         f"agent {slave_id} has been removed")
            return
        slave = self.slaves.get(slave_id)
        if slave is None:
            self.metrics.invalid_status_updates.inc()
            self._ignore(f"status update for task {update.status.task_id.value}", from_,
                         f"agent {slave_id} is unknown")
            return
        error = validate_uuid(update.uuid)
        if error is not None:
            self.metrics.invalid_status_updates.inc()
            self._ignore(f"status update for task {update.status.task_id.value}", from_, error)
            return

        log.info("Status update %s for task %s of framework %s from agent %s",
                 mesos_pb2.TaskState.Name(update.status.state), update.status.task_id.value,
                 update.framework_id.value, slave)
        valid = True
        framework = self.frameworks.get(update.framework_id.value)
        if framework is not None and framework.connected():
            self._forward(update, pid, framework)
        else:
            # The agent retries until the framework comes back and acknowledges.
            valid = False
            log.warning("Received status update for task %s from agent %s for %s framework",
                        update.status.task_id.value, slave,
                        "an unknown" if framework is None else "a disconnected")

        task = slave.get_task(update.framework_id.value, update.status.task_id.value)
        if task is None:
            log.warning("Could not lookup task %s for status update from agent %s",
                        update.status.task_id.value, slave)
            self.metrics.invalid_status_updates.inc()
            return
        self._update_task(task, update)
        if valid:
            self.metrics.valid_status_updates.inc()
        else:
            self.metrics.invalid_status_updates.inc()

    def _forward(self, update: Any, acknowledgee: UPID | None, framework: Framework) -> None:
        """Sends an update to the framework; `acknowledgee` is the agent for agent updates
        (the framework acknowledges those), None for the master's own."""
        if acknowledgee:
            log.info("Forwarding status update %s for task %s of framework %s",
                     mesos_pb2.TaskState.Name(update.status.state),
                     update.status.task_id.value, framework.id)
        else:
            log.info("Sending status update %s for task %s of framework %s%s",
                     mesos_pb2.TaskState.Name(update.status.state),
                     update.status.task_id.value, framework.id,
                     f" '{update.status.message}'" if update.status.message else "")
        self._send_framework(framework, messages_pb2.StatusUpdateMessage(
            update=update, pid=str(acknowledgee) if acknowledgee else ""))

    def _update_task(self, task: Any, update: Any) -> None:
        """Port of `Master::updateTask`: the master's view of a task follows its updates;
        a task that turns terminal or unreachable gives its resources back."""
        status = update.status
        # Agents send the newest state they know in `latest_state`: accounting follows it.
        state = update.latest_state if update.HasField("latest_state") else status.state
        was_holding = holds_resources(task)
        if not is_terminal_state(task.state):
            task.state = state
        # The update reconciliation reports and an acknowledgement must match: set even
        # when the framework is disconnected and the update was not forwarded. Master
        # updates have no uuid (they need no acknowledgement).
        if update.HasField("uuid"):
            task.status_update_state = status.state
            task.status_update_uuid = update.uuid
        # Operators hear of every new state, and of every (health) check result.
        notify = status.reason in (TaskStatus.REASON_TASK_CHECK_STATUS_UPDATED,
                                   TaskStatus.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)
        if len(task.statuses) > 0 and task.statuses[-1].state == status.state:
            del task.statuses[-1]
        else:
            notify = True
        task.statuses.add().CopyFrom(status)
        # Frameworks may put large blobs in `data`; the master has no use for them.
        task.statuses[-1].ClearField("data")
        if notify:
            self.subscribers.task_updated(task, task.statuses[-1])

        log.info("Updating the state of task %s of framework %s (latest state: %s, status"
                 " update state: %s)", task.task_id.value, task.framework_id.value,
                 mesos_pb2.TaskState.Name(task.state), mesos_pb2.TaskState.Name(status.state))

        if was_holding and not holds_resources(task):
            self.allocator.recover_resources(task.framework_id.value, task.slave_id.value,
                                             task_resources(task), None)
            slave = self.slaves.get(task.slave_id.value)
            if slave is not None:
                slave.recover_resources(task)
            framework = self.frameworks.get(task.framework_id.value)
            if framework is not None:
                framework.recover_resources(task)
            if is_terminal_state(status.state):
                name = mesos_pb2.TaskState.Name(status.state).removeprefix("TASK_").lower()
                getattr(self.metrics, f"tasks_{name}").inc()
            if status.HasField("reason"):
                self.metrics.increment_tasks_states(status.state, status.source, status.reason)

    def _remove_task(self, task: Any, unreachable: bool = False) -> None:
        """Port of `Master::removeTask`: out of the agent's and framework's live tasks."""
        slave = self.slaves.get(task.slave_id.value)
        if holds_resources(task):
            # Only a master shutting down removes live tasks: give the resources back.
            log.warning("Removing task %s of framework %s in non-terminal state %s",
                        task.task_id.value, task.framework_id.value,
                        mesos_pb2.TaskState.Name(task.state))
            self.allocator.recover_resources(task.framework_id.value, task.slave_id.value,
                                             task_resources(task), None)
        else:
            log.info("Removing task %s of framework %s on agent %s", task.task_id.value,
                     task.framework_id.value, task.slave_id.value)
        if unreachable:
            self.unreachable_tasks.setdefault(task.slave_id.value, {}).setdefault(
                task.framework_id.value, []).append(task.task_id.value)
        framework = self.frameworks.get(task.framework_id.value)
        if framework is not None and framework.get_task(task.task_id.value) is task:
            framework.remove_task(task, unreachable)
        if slave is not None:
            slave.remove_task(task)

    def _remove_executor(self, slave: Slave, framework_id: str, executor_id: str) -> None:
        executor = slave.executors[framework_id][executor_id]
        log.info("Removing executor '%s' of framework %s on agent %s", executor_id,
                 framework_id, slave)
        self.allocator.recover_resources(framework_id, slave.id,
                                         Resources(executor.resources), None)
        framework = self.frameworks.get(framework_id)
        if framework is not None and framework.has_executor(slave.id, executor_id):
            framework.remove_executor(slave.id, executor_id)
        slave.remove_executor(framework_id, executor_id)

    def exited_executor(self, from_: UPID, slave_id: Any, framework_id: Any,
                        executor_id: Any, status: int) -> None:
        """An executor terminated on an agent: forget it, tell its framework."""
        self.metrics.messages_exited_executor.inc()
        what = f"exited executor '{executor_id.value}' of framework {framework_id.value}"
        if slave_id.value in self.slaves_removed:
            self._ignore(what, from_, f"agent {slave_id.value} has been removed")
            return
        slave = self.slaves.get(slave_id.value)
        if slave is None:
            self._ignore(what, from_, f"agent {slave_id.value} is unknown")
            return
        if not slave.has_executor(framework_id.value, executor_id.value):
            self._ignore(what, from_, "the executor is unknown")
            return
        log.info("Executor '%s' of framework %s on agent %s exited with status %d",
                 executor_id.value, framework_id.value, slave, status)
        self._remove_executor(slave, framework_id.value, executor_id.value)
        framework = self.frameworks.get(framework_id.value)
        if framework is None or not framework.connected():
            log.warning("Not forwarding exited executor message for executor '%s' of"
                        " framework %s because the framework is %s", executor_id.value,
                        framework_id.value, "unknown" if framework is None else "disconnected")
            return
        self._send_framework(framework, messages_pb2.ExitedExecutorMessage(
            slave_id=slave_id, framework_id=framework_id, executor_id=executor_id,
            status=status))

    def executor_message(self, from_: UPID, message: Any) -> None:
        """An executor's message for a framework that the agent relays (HTTP schedulers)."""
        self.metrics.messages_executor_to_framework.inc()
        what = f"executor message from executor '{message.executor_id.value}'"
        slave_id = message.slave_id.value
        reason = None
        framework = self.frameworks.get(message.framework_id.value)
        if slave_id in self.slaves_removed:
            reason = f"agent {slave_id} has been removed"
        elif slave_id not in self.slaves:
            reason = f"agent {slave_id} is unknown"
        elif framework is None:
            reason = f"framework {message.framework_id.value} is unknown"
        elif not framework.connected():
            reason = f"framework {framework.id} is disconnected"
        if reason is not None or framework is None:
            self.metrics.invalid_executor_to_framework_messages.inc()
            self._ignore(what, from_, reason or "the framework is unknown")
            return
        self._send_framework(framework, messages_pb2.ExecutorToFrameworkMessage(
            slave_id=message.slave_id, framework_id=message.framework_id,
            executor_id=message.executor_id, data=message.data))
        self.metrics.valid_executor_to_framework_messages.inc()

    # ==================================================================================
    # Queries for endpoints (master's thread).

    def known_roles(self) -> list[str]:
        """Roles with frameworks, reservations or weights, and their ancestors."""
        if self.role_whitelist is not None:
            roles = set(self.role_whitelist)
        else:
            roles = set()
            for framework in self.frameworks.values():
                roles |= framework.roles
            for slave in self.slaves.values():
                roles |= set(slave.total_resources.reservations())
            roles |= set(self.weights)
        result = set()
        for role in roles:
            parts = role.split("/")
            for i in range(1, len(parts) + 1):
                result.add("/".join(parts[:i]))
        return sorted(result)
