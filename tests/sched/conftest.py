"""Helpers for the scheduler driver's tests: a fake master, a fake agent, a recording scheduler.

Like Mesos's `src/tests/scheduler_driver_tests.cpp` and `fault_tolerance_tests.cpp`, the
driver runs against processes in this OS process, with a paused clock, and the test reads the
protocol off the fake master (`future_call`) and the scheduler's callbacks off futures
(`RecordingScheduler.expect`), registered before the action that causes them.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from libprocess import ID, OK, UPID, Future, Process, Promise, Request, Response, dispatch, spawn
from mesos.interface import Scheduler, mesos_pb2
from mesos.native import MesosSchedulerDriver
from mesos.protos.mesos.scheduler import scheduler_pb2
from mesos.protos.messages import messages_pb2
from mesos.sched.detector import StandaloneMasterDetector, master_info_from_pid

Call = scheduler_pb2.Call


class FakeMaster(Process):
    """Stands in for the Mesos master: records every `mesos.scheduler.Call` (and
    `DeactivateFrameworkMessage`) and answers SUBSCRIBE as the master answers a PID framework:
    `FrameworkRegisteredMessage` for a new framework or a forced failover, else
    `FrameworkReregisteredMessage`. Serves `/state` with its `pid`. Runs on its own thread;
    `future_call` and `tell` are safe from the test's thread."""

    def __init__(self, id: str | None = None, framework_id: str = "fake-master-0000") -> None:
        super().__init__(id or ID.generate("master"))
        self.framework_id = framework_id
        self.answer_subscribe = True
        self._lock = threading.Lock()
        self._calls: list[tuple[UPID, Any]] = []
        self._waiters: list[tuple[Any, Promise[tuple[UPID, Any]]]] = []
        self.master_id = f"fake-{uuid.uuid4()}"

    def initialize(self) -> None:
        self.install(Call, self.call)
        self.install(messages_pb2.DeactivateFrameworkMessage, self.deactivate)
        self.route("/state", self.state)

    @property
    def info(self) -> Any:
        return master_info_from_pid(self.upid, id=self.master_id)

    def state(self, request: Request) -> Response:
        return OK({"id": self.master_id, "pid": str(self.upid), "hostname": "localhost",
                   "version": "1.12.0"})

    def call(self, from_: UPID, call: Any) -> None:
        self._record(from_, call, call.type)
        if call.type == Call.SUBSCRIBE and self.answer_subscribe:
            self.subscribe(from_, call)

    def deactivate(self, from_: UPID, message: Any) -> None:
        self._record(from_, message, "deactivate")

    def subscribe(self, from_: UPID, call: Any) -> None:
        info = call.subscribe.framework_info
        message: Any
        if info.HasField("id") and info.id.value:
            framework_id = info.id
            if call.subscribe.force:
                message = messages_pb2.FrameworkRegisteredMessage()
            else:
                message = messages_pb2.FrameworkReregisteredMessage()
        else:
            framework_id = mesos_pb2.FrameworkID(value=self.framework_id)
            message = messages_pb2.FrameworkRegisteredMessage()
        message.framework_id.CopyFrom(framework_id)
        message.master_info.CopyFrom(self.info)
        self.send(from_, message)

    def _record(self, from_: UPID, message: Any, kind: Any) -> None:
        with self._lock:
            self._calls.append((from_, message))
            matched = [w for w in self._waiters if w[0] == kind]
            if matched:
                self._waiters.remove(matched[0])
        if matched:
            matched[0][1].set((from_, message))

    def future_call(self, kind: Any) -> Future[tuple[UPID, Any]]:
        """A future of `(sender, call)` for the next call of type `kind` (or the next
        `DeactivateFrameworkMessage` for `"deactivate"`)."""
        promise: Promise[tuple[UPID, Any]] = Promise()
        with self._lock:
            self._waiters.append((kind, promise))
        return promise.future

    def calls(self, kind: Any) -> list[Any]:
        """The calls of type `kind` received so far."""
        with self._lock:
            return [message for _, message in self._calls
                    if getattr(message, "type", "deactivate") == kind]

    def tell(self, to: UPID | str, message: Any) -> None:
        """Sends `message` from this master (on its own thread)."""
        dispatch(self, self.send, to, message).get(timeout=10)


class FakeAgent(Process):
    """An agent that only receives `FrameworkToExecutorMessage`s (the test reads them)."""

    def __init__(self) -> None:
        super().__init__(ID.generate("slave"))

    def initialize(self) -> None:
        self.install(messages_pb2.FrameworkToExecutorMessage, self.framework_to_executor)

    def framework_to_executor(self, from_: UPID, message: Any) -> None:
        pass


class RecordingScheduler(Scheduler):
    """A `Scheduler` that records each callback (name, arguments, calling thread's name).

    `expect(name)` gives a future of the arguments of the next call of that callback;
    `hooks[name]` runs inside the callback (on the driver's thread), with the driver and the
    arguments, before that future is completed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, tuple[Any, ...], str]] = []
        self._waiters: dict[str, list[Promise[tuple[Any, ...]]]] = defaultdict(list)
        self.hooks: dict[str, Callable[..., Any]] = {}

    def expect(self, name: str) -> Future[tuple[Any, ...]]:
        promise: Promise[tuple[Any, ...]] = Promise()
        with self._lock:
            self._waiters[name].append(promise)
        return promise.future

    def count(self, name: str) -> int:
        with self._lock:
            return sum(1 for event in self.events if event[0] == name)

    def threads(self) -> set[str]:
        with self._lock:
            return {event[2] for event in self.events}

    def _record(self, name: str, driver: Any, *args: Any) -> None:
        with self._lock:
            self.events.append((name, args, threading.current_thread().name))
            waiters = self._waiters[name]
            waiter = waiters.pop(0) if waiters else None
        hook = self.hooks.get(name)
        try:
            if hook is not None:
                hook(driver, *args)
        finally:
            if waiter is not None:
                waiter.set(args)

    def registered(self, driver: Any, frameworkId: Any, masterInfo: Any) -> None:
        self._record("registered", driver, frameworkId, masterInfo)

    def reregistered(self, driver: Any, masterInfo: Any) -> None:
        self._record("reregistered", driver, masterInfo)

    def disconnected(self, driver: Any) -> None:
        self._record("disconnected", driver)

    def resourceOffers(self, driver: Any, offers: Any) -> None:
        self._record("resourceOffers", driver, offers)

    def offerRescinded(self, driver: Any, offerId: Any) -> None:
        self._record("offerRescinded", driver, offerId)

    def statusUpdate(self, driver: Any, status: Any) -> None:
        self._record("statusUpdate", driver, status)

    def frameworkMessage(self, driver: Any, executorId: Any, slaveId: Any,
                         message: Any) -> None:
        self._record("frameworkMessage", driver, executorId, slaveId, message)

    def slaveLost(self, driver: Any, slaveId: Any) -> None:
        self._record("slaveLost", driver, slaveId)

    def executorLost(self, driver: Any, executorId: Any, slaveId: Any,
                     status: Any) -> None:
        self._record("executorLost", driver, executorId, slaveId, status)

    def error(self, driver: Any, message: Any) -> None:
        self._record("error", driver, message)


def framework_info(**fields: Any) -> Any:
    info = mesos_pb2.FrameworkInfo(user="tester", name="default")
    for name, value in fields.items():
        if name == "id":
            info.id.value = value
        elif name == "capabilities":
            for capability in value:
                info.capabilities.add().type = capability
        elif name == "roles":
            info.roles.extend(value)
        else:
            setattr(info, name, value)
    return info


def offer(offer_id: str, agent_id: str, framework_id: str) -> Any:
    message = mesos_pb2.Offer()
    message.id.value = offer_id
    message.framework_id.value = framework_id
    message.slave_id.value = agent_id
    message.hostname = "agent.example"
    resource = message.resources.add()
    resource.name = "cpus"
    resource.type = mesos_pb2.Value.SCALAR
    resource.scalar.value = 1.0
    return message


def task(task_id: str, agent_id: str) -> Any:
    info = mesos_pb2.TaskInfo(name=task_id)
    info.task_id.value = task_id
    info.slave_id.value = agent_id
    info.command.value = "true"
    return info


def status_update_message(framework_id: str, task_id: str, state: int, *,
                          agent_id: str = "agent-1", uuid_bytes: bytes | None = None,
                          pid: str = "") -> Any:
    """A `StatusUpdateMessage` as the master forwards it (`pid` is the agent's)."""
    message = messages_pb2.StatusUpdateMessage()
    update = message.update
    update.framework_id.value = framework_id
    update.slave_id.value = agent_id
    update.timestamp = 1.0
    update.status.task_id.value = task_id
    update.status.state = state
    update.status.slave_id.value = agent_id
    update.status.source = mesos_pb2.TaskStatus.SOURCE_EXECUTOR
    if uuid_bytes is not None:
        update.uuid = uuid_bytes
        update.status.uuid = uuid_bytes
    if pid:
        message.pid = pid
    return message


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    m = FakeMaster()
    spawn(m)
    yield m


@pytest.fixture
def detector(master: FakeMaster) -> Iterator[StandaloneMasterDetector]:
    d = StandaloneMasterDetector(master.upid)
    yield d


@pytest.fixture
def scheduler() -> RecordingScheduler:
    return RecordingScheduler()


def start_driver(scheduler: Scheduler, detector: Any, framework: Any = None,
                 implicit: Any = True) -> MesosSchedulerDriver:
    """A started driver that finds its master through `detector`."""
    driver = MesosSchedulerDriver(scheduler, framework or framework_info(), "", implicit,
                                  detector=detector)
    assert driver.start() == mesos_pb2.DRIVER_RUNNING
    return driver


def register(scheduler: RecordingScheduler, detector: Any, framework: Any = None,
             implicit: Any = True) -> MesosSchedulerDriver:
    """A started driver that has registered (its `registered()` callback has run)."""
    registered = scheduler.expect("registered")
    driver = start_driver(scheduler, detector, framework, implicit)
    registered.get(timeout=10)
    return driver


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (which cannot import this conftest)."""
    return SimpleNamespace(
        FakeMaster=FakeMaster, FakeAgent=FakeAgent, RecordingScheduler=RecordingScheduler,
        framework_info=framework_info, offer=offer, task=task,
        status_update_message=status_update_message, start_driver=start_driver,
        register=register)
