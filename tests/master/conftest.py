"""Test kit for master scenarios: a test agent and a test scheduler that talk to a real
`Master` (and the real hierarchical DRF allocator) in this OS process, plus helpers.

`TestAgent` answers like an agent: it registers, records RunTask/KillTask/acknowledgement/
shutdown messages, answers pings and sends status updates with uuids when told.
`TestScheduler` is a bare PID framework: it sends `mesos.scheduler.Call`s (or legacy
messages) and records what the master sends back. Tests register their expectations with
`future_message` before acting, as the house style asks.
"""

from __future__ import annotations

import json
import types
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

import libprocess
from libprocess import ID, UPID, Future, Process, Promise
from libprocess.testing import future_message, settle
from mesos.common.resources import Resources
from mesos.master import Master, MasterFlags
from mesos.protos.mesos import mesos_pb2
from mesos.protos.mesos.scheduler import scheduler_pb2
from mesos.protos.messages import messages_pb2
from mesos.registrar import Registrar, RegistrarOptions
from mesos.state import Entry, InMemoryStorage
from mesos.state import State as StateVariables

Call = scheduler_pb2.Call
TIMEOUT = 10.0
PING = 15.0  # --agent_ping_timeout
UNHEALTHY = 5 * PING  # --max_agent_ping_timeouts x --agent_ping_timeout

DEFAULT_AGENT_RESOURCES = "cpus:2;mem:1024;disk:1024;ports:[31000-32000]"

AGENT_CAPABILITIES = (
    mesos_pb2.SlaveInfo.Capability.MULTI_ROLE,
    mesos_pb2.SlaveInfo.Capability.HIERARCHICAL_ROLE,
    mesos_pb2.SlaveInfo.Capability.RESERVATION_REFINEMENT,
)


class TestAgent(Process):
    """An agent stand-in (`slave(N)`); its state is touched on its own thread only, so
    tests read it through `call(agent, fn)`."""

    __test__ = False

    def __init__(self, master: UPID, resources: str = DEFAULT_AGENT_RESOURCES,
                 hostname: str = "agent.example.org", attributes: Iterable[Any] = (),
                 version: str = "1.12.0", answer_pings: bool = True) -> None:
        super().__init__(ID.generate("slave"))
        self.master = master
        self.info = mesos_pb2.SlaveInfo(hostname=hostname, port=5051)
        self.info.resources.extend(Resources.parse(resources).to_protobuf_list())
        self.info.attributes.extend(attributes)
        self.version = version
        self.answer_pings = answer_pings
        self.slave_id: str | None = None
        self.run_tasks: list[Any] = []
        self.kills: list[Any] = []
        self.acknowledgements: list[Any] = []
        self.shutdown_frameworks: list[str] = []
        self.framework_messages: list[Any] = []
        self.pings = 0

    def initialize(self) -> None:
        self.install(messages_pb2.SlaveRegisteredMessage, self._registered)
        self.install(messages_pb2.SlaveReregisteredMessage, self._registered)
        self.install(messages_pb2.RunTaskMessage, self._run_task)
        self.install(messages_pb2.RunTaskGroupMessage, self._run_task)
        self.install(messages_pb2.KillTaskMessage, self._kill_task)
        self.install(messages_pb2.StatusUpdateAcknowledgementMessage, self._acknowledged)
        self.install(messages_pb2.ShutdownFrameworkMessage, self._shutdown_framework)
        self.install(messages_pb2.FrameworkToExecutorMessage, self._framework_message)
        self.install(messages_pb2.UpdateFrameworkMessage, lambda from_, m: None)
        self.install(messages_pb2.ShutdownMessage, lambda from_, m: None)
        self.install(messages_pb2.PingSlaveMessage, self._ping)

    # Handlers.

    def _registered(self, from_: UPID, message: Any) -> None:
        self.slave_id = message.slave_id.value
        self.info.id.value = self.slave_id

    def _run_task(self, from_: UPID, message: Any) -> None:
        self.run_tasks.append(message)

    def _kill_task(self, from_: UPID, message: Any) -> None:
        self.kills.append(message)

    def _acknowledged(self, from_: UPID, message: Any) -> None:
        self.acknowledgements.append(message)

    def _shutdown_framework(self, from_: UPID, message: Any) -> None:
        self.shutdown_frameworks.append(message.framework_id.value)

    def _framework_message(self, from_: UPID, message: Any) -> None:
        self.framework_messages.append(message)

    def _ping(self, from_: UPID, message: Any) -> None:
        self.pings += 1
        if self.answer_pings:
            self.send(from_, messages_pb2.PongSlaveMessage())

    # Actions (dispatched onto the agent).

    def register(self) -> None:
        message = messages_pb2.RegisterSlaveMessage(slave=self.info, version=self.version)
        message.agent_capabilities.extend(
            mesos_pb2.SlaveInfo.Capability(type=c) for c in AGENT_CAPABILITIES)
        self.send(self.master, message)

    def reregister(self, tasks: Iterable[Any] = (), frameworks: Iterable[Any] = (),
                   executors: Iterable[Any] = ()) -> None:
        message = messages_pb2.ReregisterSlaveMessage(slave=self.info, version=self.version)
        message.agent_capabilities.extend(
            mesos_pb2.SlaveInfo.Capability(type=c) for c in AGENT_CAPABILITIES)
        message.tasks.extend(tasks)
        message.frameworks.extend(frameworks)
        message.executor_infos.extend(executors)
        self.send(self.master, message)

    def unregister(self) -> None:
        self.send(self.master, messages_pb2.UnregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=self.slave_id)))

    def update(self, framework_id: str, task_id: str, state: int,
               message: str = "", executor_id: str | None = None) -> bytes:
        """Sends a status update (with a fresh uuid) as the agent's status update manager
        would; returns the uuid."""
        update_uuid = uuid.uuid4().bytes
        update = messages_pb2.StatusUpdate(timestamp=libprocess.clock.now(),
                                           uuid=update_uuid, latest_state=state)
        update.framework_id.value = framework_id
        update.slave_id.value = self.slave_id or ""
        status = update.status
        status.task_id.value = task_id
        status.state = state  # type: ignore[assignment]
        status.source = mesos_pb2.TaskStatus.SOURCE_EXECUTOR
        status.message = message
        status.uuid = update_uuid
        status.timestamp = libprocess.clock.now()
        status.slave_id.value = self.slave_id or ""
        if executor_id is not None:
            update.executor_id.value = executor_id
            status.executor_id.value = executor_id
        self.send(self.master, messages_pb2.StatusUpdateMessage(update=update,
                                                                pid=str(self.upid)))
        return update_uuid

    def executor_exited(self, framework_id: str, executor_id: str, status: int = 0) -> None:
        self.send(self.master, messages_pb2.ExitedExecutorMessage(
            slave_id=mesos_pb2.SlaveID(value=self.slave_id),
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            executor_id=mesos_pb2.ExecutorID(value=executor_id), status=status))

    def executor_message(self, framework_id: str, executor_id: str, data: bytes) -> None:
        self.send(self.master, messages_pb2.ExecutorToFrameworkMessage(
            slave_id=mesos_pb2.SlaveID(value=self.slave_id),
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            executor_id=mesos_pb2.ExecutorID(value=executor_id), data=data))


class TestScheduler(Process):
    """A bare PID framework (`scheduler(N)`) that records what the master sends it."""

    __test__ = False

    def __init__(self, master: UPID) -> None:
        super().__init__(ID.generate("scheduler"))
        self.master = master
        self.framework_id: str | None = None
        self.offers: list[Any] = []
        self.rescinded: list[str] = []
        self.updates: list[Any] = []
        self.errors: list[str] = []
        self.lost_slaves: list[str] = []

    def initialize(self) -> None:
        self.install(messages_pb2.FrameworkRegisteredMessage, self._registered)
        self.install(messages_pb2.FrameworkReregisteredMessage, self._registered)
        self.install(messages_pb2.ResourceOffersMessage, self._offers)
        self.install(messages_pb2.RescindResourceOfferMessage, self._rescinded)
        self.install(messages_pb2.StatusUpdateMessage, self._update)
        self.install(messages_pb2.FrameworkErrorMessage, self._error)
        self.install(messages_pb2.LostSlaveMessage, self._lost)
        self.install(messages_pb2.ExitedExecutorMessage, lambda from_, m: None)
        self.install(messages_pb2.ExecutorToFrameworkMessage, lambda from_, m: None)

    def _registered(self, from_: UPID, message: Any) -> None:
        self.framework_id = message.framework_id.value

    def _offers(self, from_: UPID, message: Any) -> None:
        self.offers.extend(message.offers)

    def _rescinded(self, from_: UPID, message: Any) -> None:
        self.rescinded.append(message.offer_id.value)

    def _update(self, from_: UPID, message: Any) -> None:
        self.updates.append(message.update)

    def _error(self, from_: UPID, message: Any) -> None:
        self.errors.append(message.message)

    def _lost(self, from_: UPID, message: Any) -> None:
        self.lost_slaves.append(message.slave_id.value)

    def send_to_master(self, message: Any) -> None:
        self.send(self.master, message)

    def call(self, call: Any) -> None:
        if self.framework_id is not None and not call.HasField("framework_id") and \
                call.type != Call.SUBSCRIBE:
            call.framework_id.value = self.framework_id
        self.send(self.master, call)


# -- helpers ------------------------------------------------------------------------------


def on(process: Process, fn: Callable[[], Any]) -> Any:
    """Runs `fn()` on `process`'s thread and returns its result (test thread blocks)."""
    return libprocess.dispatch(process, fn).get(TIMEOUT)


def framework_info(name: str = "framework", *, roles: Iterable[str] | None = None,
                   role: str | None = None, failover_timeout: float = 0.0,
                   checkpoint: bool = False, partition_aware: bool = False,
                   framework_id: str | None = None) -> Any:
    info = mesos_pb2.FrameworkInfo(user="test", name=name, failover_timeout=failover_timeout,
                                   checkpoint=checkpoint)
    capabilities = [mesos_pb2.FrameworkInfo.Capability.RESERVATION_REFINEMENT]
    if roles is not None:
        capabilities.append(mesos_pb2.FrameworkInfo.Capability.MULTI_ROLE)
        info.roles.extend(roles)
    elif role is not None:
        info.role = role
    if partition_aware:
        capabilities.append(mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE)
    info.capabilities.extend(mesos_pb2.FrameworkInfo.Capability(type=c) for c in capabilities)
    if framework_id is not None:
        info.id.value = framework_id
    return info


def agent_task(framework_id: str, slave_id: str, task_id: str,
               state: int = mesos_pb2.TASK_RUNNING, resources: str = "cpus:1;mem:128") -> Any:
    """A `Task` as an agent reports it when it reregisters: in `state`, with that status."""
    task = mesos_pb2.Task(name=task_id, state=state)  # type: ignore[arg-type]
    task.task_id.value = task_id
    task.framework_id.value = framework_id
    task.slave_id.value = slave_id
    task.resources.extend(Resources.parse(resources).allocate("*").to_protobuf_list())
    status = task.statuses.add(state=state)  # type: ignore[arg-type]
    status.task_id.value = task_id
    return task


def launch(master: Master, agent: TestAgent, scheduler: TestScheduler, task_id: str = "t1",
           resources: str = "cpus:1;mem:64") -> Any:
    """Launches one task on `agent` from the scheduler's first offer for it (the offer must
    have arrived); returns the RunTaskMessage the agent got."""
    offer = next(o for o in on(scheduler, lambda: list(scheduler.offers))
                 if o.slave_id.value == agent.slave_id)
    run = future_message(messages_pb2.RunTaskMessage, master, agent)
    libprocess.dispatch(scheduler, scheduler.call, accept_call(
        [offer.id.value], [task_info(task_id, agent.slave_id, resources)]))
    return run.get(TIMEOUT)


def subscribe_call(info: Any, force: bool = False) -> Any:
    call = Call(type=Call.SUBSCRIBE)
    call.subscribe.framework_info.CopyFrom(info)
    call.subscribe.force = force
    if info.HasField("id"):
        call.framework_id.CopyFrom(info.id)
    return call


def task_info(task_id: str, slave_id: str, resources: str = "cpus:1;mem:128",
              command: str | None = "sleep 1000") -> Any:
    task = mesos_pb2.TaskInfo(name=f"task {task_id}")
    task.task_id.value = task_id
    task.slave_id.value = slave_id
    task.resources.extend(Resources.parse(resources).to_protobuf_list())
    if command is not None:
        task.command.value = command
    return task


def accept_call(offer_ids: Iterable[str], tasks: Iterable[Any],
                refuse_seconds: float | None = None) -> Any:
    call = Call(type=Call.ACCEPT)
    call.accept.offer_ids.extend(mesos_pb2.OfferID(value=o) for o in offer_ids)
    operation = call.accept.operations.add(type=mesos_pb2.Offer.Operation.LAUNCH)
    operation.launch.task_infos.extend(tasks)
    if refuse_seconds is not None:
        call.accept.filters.refuse_seconds = refuse_seconds
    return call


def reconcile_call(tasks: Iterable[tuple[str, str | None]]) -> Any:
    """RECONCILE of `tasks` (task id, agent id or None) as `(task_id, slave_id)` pairs; none
    for implicit reconciliation."""
    call = Call(type=Call.RECONCILE)
    call.reconcile.SetInParent()  # Empty: implicit reconciliation.
    for task_id, slave_id in tasks:
        entry = call.reconcile.tasks.add()
        entry.task_id.value = task_id
        if slave_id is not None:
            entry.slave_id.value = slave_id
    return call


def decline_call(offer_ids: Iterable[str], refuse_seconds: float | None = None) -> Any:
    call = Call(type=Call.DECLINE)
    call.decline.offer_ids.extend(mesos_pb2.OfferID(value=o) for o in offer_ids)
    if refuse_seconds is not None:
        call.decline.filters.refuse_seconds = refuse_seconds
    return call


def acknowledge_call(slave_id: str, task_id: str, update_uuid: bytes) -> Any:
    call = Call(type=Call.ACKNOWLEDGE)
    call.acknowledge.slave_id.value = slave_id
    call.acknowledge.task_id.value = task_id
    call.acknowledge.uuid = update_uuid
    return call


def http_get(path: str, method: str = "GET", body: bytes | None = None,
             ) -> tuple[int, dict[str, str], bytes]:
    """Requests `path` from this OS process's HTTP server; (status, headers, body)."""
    host, port = libprocess.http_address()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(f"http://{host}:{port}{path}", data=body, method=method)
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http_json(path: str) -> Any:
    status, _, body = http_get(path)
    assert status == 200, body
    return json.loads(body)


# -- pings and a slow registry --------------------------------------------------------------


def advance(clock: Any, seconds: float, step: float = PING) -> None:
    """Moves the paused clock in ping-sized steps, letting every observer act at each step
    (and first letting observers that are still being spawned start their ping timers)."""
    settle()
    while seconds > 0:
        clock.advance(min(step, seconds))
        settle()
        seconds -= step


def answer_pings(agent: TestAgent, answer: bool) -> None:
    """Makes the agent answer the master's pings, or stop answering them."""
    def set_answer() -> None:
        agent.answer_pings = answer

    on(agent, set_answer)


def partition(clock: Any, agent: TestAgent) -> None:
    """Cuts off an agent that answered pings so far until the master marks it unreachable:
    the ping in flight was answered, so it takes one ping more than `UNHEALTHY` to miss
    `--max_agent_ping_timeouts` in a row."""
    answer_pings(agent, False)
    advance(clock, UNHEALTHY + PING)


class GatedStorage(InMemoryStorage):
    """An in-memory storage whose writes wait while its gate is closed (`close_gate()`
    until `open_gate()`: a slow registry), counting the writes it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: Promise[None] | None = None
        self.writes = 0

    def close_gate(self) -> None:
        self.gate = Promise()

    def open_gate(self) -> None:
        assert self.gate is not None
        gate, self.gate = self.gate, None
        gate.set(None)

    def set(self, entry: Entry, uuid: bytes) -> Future[bool]:
        self.writes += 1
        if self.gate is None:
            return super().set(entry, uuid)
        return self.gate.future.then(lambda _: super(GatedStorage, self).set(entry, uuid))


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def kit() -> types.SimpleNamespace:
    """The helpers of this module (test modules cannot import a conftest by name)."""
    return types.SimpleNamespace(
        TIMEOUT=TIMEOUT, Call=Call, TestAgent=TestAgent, TestScheduler=TestScheduler,
        on=on, framework_info=framework_info, subscribe_call=subscribe_call,
        agent_task=agent_task, launch=launch,
        task_info=task_info, accept_call=accept_call, decline_call=decline_call,
        reconcile_call=reconcile_call,
        acknowledge_call=acknowledge_call, http_get=http_get, http_json=http_json,
        PING=PING, UNHEALTHY=UNHEALTHY, advance=advance, answer_pings=answer_pings,
        partition=partition)


@pytest.fixture
def start_master() -> Callable[..., Master]:
    """`start_master(**flags)`: spawns a `Master` with the real allocator and an in-memory
    registry, leading alone; returns once it has recovered."""

    def start(**flags: Any) -> Master:
        flags.setdefault("hostname", "master.example.org")
        flags.setdefault("registry", "in_memory")
        master = Master(MasterFlags(**flags))
        libprocess.spawn(master)
        # Standalone, the master appoints itself and recovers the (empty) registry.
        master.recovery.get(TIMEOUT)
        return master

    return start


@pytest.fixture
def master(start_master: Callable[..., Master]) -> Master:
    return start_master()


@pytest.fixture
def gated_master() -> Iterator[tuple[Master, GatedStorage]]:
    """A leading master (recovered) whose registry writes can be held (`GatedStorage`);
    terminated after the test."""
    storage = GatedStorage()
    registrar = Registrar(RegistrarOptions(), StateVariables(storage))
    master = Master(MasterFlags(hostname="master.example.org"), registrar=registrar)
    libprocess.spawn(master)
    try:
        master.recovery.get(TIMEOUT)
        yield master, storage
    finally:
        libprocess.terminate(master)
        libprocess.wait(master, TIMEOUT)
        registrar.close()


@pytest.fixture
def start_agent() -> Callable[..., TestAgent]:
    """`start_agent(master, **kwargs)`: a registered `TestAgent`."""

    def start(master: Master, **kwargs: Any) -> TestAgent:
        agent = TestAgent(master.upid, **kwargs)
        libprocess.spawn(agent)
        registered = future_message(messages_pb2.SlaveRegisteredMessage, master, agent)
        libprocess.dispatch(agent, agent.register)
        registered.get(TIMEOUT)
        on(agent, lambda: None)
        return agent

    return start


@pytest.fixture
def start_scheduler() -> Callable[..., TestScheduler]:
    """`start_scheduler(master, info=None)`: a subscribed `TestScheduler`."""

    def start(master: Master, info: Any = None) -> TestScheduler:
        scheduler = TestScheduler(master.upid)
        libprocess.spawn(scheduler)
        registered = future_message(messages_pb2.FrameworkRegisteredMessage, master, scheduler)
        libprocess.dispatch(scheduler, scheduler.call,
                            subscribe_call(info if info is not None else framework_info()))
        registered.get(TIMEOUT)
        on(scheduler, lambda: None)
        return scheduler

    return start
