"""Bad input and faults at the scheduler driver (issue 6): messages from a process that is not
the detected leading master, such as a deposed master in a split brain
(mesos-behaviour.md §2.11; `src/sched/sched.cpp`).

The driver is the real one against `FakeMaster`s (see conftest.py) with a paused clock; an
impostor is another `FakeMaster`, whose pid the detector never reported. Nothing an
impostor says may reach the scheduler, change the driver's state, or be acknowledged: an
acknowledgement of an update the scheduler never saw would lose that update.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from libprocess import spawn
from libprocess.testing import settle
from mesos.interface import mesos_pb2
from mesos.protos.mesos.scheduler import scheduler_pb2
from mesos.protos.messages import messages_pb2

Call = scheduler_pb2.Call
Event = scheduler_pb2.Event

TIMEOUT = 10

CALLBACKS = ("registered", "reregistered", "disconnected", "resourceOffers",
             "offerRescinded", "statusUpdate", "slaveLost", "executorLost", "error")


def _offer(kit: Any, offer_id: str, framework_id: str) -> Any:
    """An offer with the agent's `url`, as the master puts it in an OFFERS event."""
    offer = kit.offer(offer_id, "agent-1", framework_id)
    offer.url.scheme = "http"
    offer.url.address.ip = "127.0.0.1"
    offer.url.address.port = 5051
    offer.url.path = "/slave(1)"
    return offer


def _master_messages(kit: Any, framework_id: str) -> list[Any]:
    """Every message a master sends a registered PID framework, and its Event forms; the
    update carries a uuid and an agent pid, so that the driver would acknowledge it."""
    update_uuid = uuid.uuid4().bytes
    offer_id = mesos_pb2.OfferID(value="offer-1")
    slave_id = mesos_pb2.SlaveID(value="agent-1")
    messages: list[Any] = [
        messages_pb2.ResourceOffersMessage(offers=[kit.offer("offer-1", "agent-1",
                                                             framework_id)],
                                           pids=["slave(1)@127.0.0.1:5051"]),
        messages_pb2.RescindResourceOfferMessage(offer_id=offer_id),
        kit.status_update_message(framework_id, "task-1", mesos_pb2.TASK_LOST,
                                  uuid_bytes=update_uuid, pid="slave(1)@127.0.0.1:5051"),
        messages_pb2.LostSlaveMessage(slave_id=slave_id),
        messages_pb2.ExitedExecutorMessage(
            executor_id=mesos_pb2.ExecutorID(value="executor-1"),
            framework_id=mesos_pb2.FrameworkID(value=framework_id), slave_id=slave_id,
            status=9),
        messages_pb2.FrameworkErrorMessage(message="Framework failed over"),
    ]
    offers = Event(type=Event.OFFERS)
    offers.offers.offers.add().CopyFrom(_offer(kit, "offer-2", framework_id))
    rescind = Event(type=Event.RESCIND)
    rescind.rescind.offer_id.value = "offer-2"
    update = Event(type=Event.UPDATE)
    update.update.status.task_id.value = "task-1"
    update.update.status.state = mesos_pb2.TASK_LOST
    update.update.status.slave_id.value = "agent-1"
    update.update.status.uuid = uuid.uuid4().bytes
    failure = Event(type=Event.FAILURE)
    failure.failure.slave_id.value = "agent-1"
    error = Event(type=Event.ERROR)
    error.error.message = "Framework has been removed"
    messages.extend([offers, rescind, update, failure, error])
    return messages


def _ignored_lines(caplog: pytest.LogCaptureFixture, impostor: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if f"from {impostor.upid} because it was not sent from the current leading "
               "master" in r.getMessage()]


def test_messages_from_a_process_that_is_not_the_leader_are_ignored(
        clock: Any, master: Any, detector: Any, scheduler: Any, kit: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """This test ensures that offers, rescinds, status updates (even with a uuid), agent and
    executor losses and framework errors, as legacy messages or as `Event`s, are ignored
    when sent by a process other than the detected leading master: no callback runs, the
    driver is not aborted, nothing is acknowledged, and each is logged ("Ignoring ...
    because it was not sent from the current leading master")."""
    driver = kit.register(scheduler, detector)
    impostor = kit.FakeMaster()
    spawn(impostor)

    # 1. The impostor says everything a master says to a registered framework.
    before = {name: scheduler.count(name) for name in CALLBACKS}
    messages = _master_messages(kit, master.framework_id)
    for message in messages:
        impostor.tell(driver.process.upid, message)
    settle()

    # 2. None of it reached the scheduler, aborted the driver, or was acknowledged.
    assert {name: scheduler.count(name) for name in CALLBACKS} == before
    assert driver.process is not None and driver.process.running.is_set()
    assert master.calls(Call.ACKNOWLEDGE) == [] and impostor.calls(Call.ACKNOWLEDGE) == []
    assert master.calls("deactivate") == []
    assert driver.process.ignored_messages == len(messages)
    assert len(_ignored_lines(caplog, impostor)) == len(messages)

    # 3. The leader's update is delivered and acknowledged to the leader.
    updated = scheduler.expect("statusUpdate")
    acknowledged = master.future_call(Call.ACKNOWLEDGE)
    master.tell(driver.process.upid, messages[2])
    (status,) = updated.get(timeout=TIMEOUT)
    assert status.uuid == messages[2].update.uuid
    _, call = acknowledged.get(timeout=TIMEOUT)
    assert call.acknowledge.uuid == messages[2].update.uuid
    settle()
    assert impostor.calls(Call.ACKNOWLEDGE) == []


def test_deposed_master_cannot_reach_the_scheduler_after_a_failover(
        clock: Any, master: Any, detector: Any, scheduler: Any, kit: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """This test ensures that after the detector reports a new leading master, the previous
    one (deposed but still running: a split brain) is an impostor like any other: its
    update is neither delivered nor acknowledged (the agent keeps it and the new leader
    delivers it), its "Framework failed over" error does not abort the driver, and its
    offers are not seen; the new leader's messages are."""
    driver = kit.register(scheduler, detector)
    deposed = master

    # 1. The leadership moves; the driver reregisters with the new leader.
    leader = kit.FakeMaster()
    spawn(leader)
    reregistered = scheduler.expect("reregistered")
    detector.appoint(leader.upid)
    reregistered.get(timeout=TIMEOUT)
    settle()

    # 2. The deposed master still speaks.
    messages = _master_messages(kit, master.framework_id)
    for message in messages:
        deposed.tell(driver.process.upid, message)
    settle()
    assert scheduler.count("statusUpdate") == scheduler.count("error") == 0
    assert scheduler.count("resourceOffers") == 0
    assert driver.process is not None and driver.process.running.is_set()
    assert deposed.calls(Call.ACKNOWLEDGE) == [] and leader.calls(Call.ACKNOWLEDGE) == []
    assert len(_ignored_lines(caplog, deposed)) == len(messages)

    # 3. The update, resent by the agent through the new leader, is delivered and
    #    acknowledged to it.
    updated = scheduler.expect("statusUpdate")
    acknowledged = leader.future_call(Call.ACKNOWLEDGE)
    leader.tell(driver.process.upid, messages[2])
    updated.get(timeout=TIMEOUT)
    sender, call = acknowledged.get(timeout=TIMEOUT)
    assert sender == driver.process.upid
    assert call.acknowledge.uuid == messages[2].update.uuid

    # 4. The new leader's error does abort the driver.
    error = scheduler.expect("error")
    leader.tell(driver.process.upid,
                messages_pb2.FrameworkErrorMessage(message="Framework has been removed"))
    assert error.get(timeout=TIMEOUT) == ("Framework has been removed",)
    assert driver.join() == mesos_pb2.DRIVER_ABORTED


def test_registration_by_a_process_that_is_not_the_leader_is_ignored(
        clock: Any, master: Any, detector: Any, scheduler: Any, kit: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """This test ensures that a FrameworkRegisteredMessage, FrameworkReregisteredMessage or
    SUBSCRIBED event from a process other than the detected leader does not register the
    driver (which would then take that process's offers and updates): the driver keeps
    subscribing with the leader, and registers when the leader answers."""
    master.answer_subscribe = False
    subscribe = master.future_call(Call.SUBSCRIBE)
    driver = kit.start_driver(scheduler, detector)
    subscribe.get(timeout=TIMEOUT)
    impostor = kit.FakeMaster()
    spawn(impostor)

    # 1. The impostor claims the registration, in every form.
    registered = messages_pb2.FrameworkRegisteredMessage(master_info=impostor.info)
    registered.framework_id.value = "impostor-0001"
    reregistered = messages_pb2.FrameworkReregisteredMessage(master_info=impostor.info)
    reregistered.framework_id.value = "impostor-0001"
    subscribed = Event(type=Event.SUBSCRIBED)
    subscribed.subscribed.framework_id.value = "impostor-0001"
    for message in (registered, reregistered, subscribed):
        impostor.tell(driver.process.upid, message)
    settle()
    assert scheduler.count("registered") == scheduler.count("reregistered") == 0
    assert driver.process is not None and not driver.process.connected
    assert len(_ignored_lines(caplog, impostor)) == 3

    # 2. The driver still retries with the leader, which registers it.
    resubscribe = master.future_call(Call.SUBSCRIBE)
    clock.advance(60.0)
    sender, call = resubscribe.get(timeout=TIMEOUT)
    assert not call.HasField("framework_id")
    first = scheduler.expect("registered")
    master.subscribe(sender, call)
    framework_id, _ = first.get(timeout=TIMEOUT)
    assert framework_id.value == master.framework_id
