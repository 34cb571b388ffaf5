"""Tests of the scheduler driver against a fake master (actor level, paused clock).

Port of the spirit of Mesos's `src/tests/scheduler_driver_tests.cpp`,
`fault_tolerance_tests.cpp` and `scheduler_tests.cpp`: the driver is the real one, the master
is `FakeMaster` (see conftest.py), and each test reads what the driver sent off the master and
what the scheduler saw off `RecordingScheduler`.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from libprocess import spawn, terminate, wait
from libprocess.testing import (
    drop_message,
    future_dispatch,
    future_message,
    inject_exited,
    settle,
)
from mesos.interface import mesos_pb2
from mesos.native import MesosSchedulerDriver
from mesos.protos.mesos.scheduler import scheduler_pb2
from mesos.protos.messages import messages_pb2
from mesos.sched.constants import DEFAULT_REGISTRATION_BACKOFF_FACTOR
from mesos.sched.detector import RESOLUTION_BACKOFF_MIN, StandaloneMasterDetector

Call = scheduler_pb2.Call
Event = scheduler_pb2.Event

TIMEOUT = 10


def test_registration(clock: Any, master: Any, detector: Any, scheduler: Any, kit: Any) -> None:
    """This test ensures that a new framework's driver sends SUBSCRIBE to the detected master
    and calls `registered()` with the id the master assigned, on the driver's own thread."""
    # 1. Expectations: the SUBSCRIBE at the master, the callback at the scheduler.
    subscribe = master.future_call(Call.SUBSCRIBE)
    registered = scheduler.expect("registered")

    # 2. Start the driver.
    driver = kit.start_driver(scheduler, detector)

    # 3. The SUBSCRIBE carries the FrameworkInfo (with `user` and `hostname` filled in) and,
    #    for a new framework, neither an id nor `force`.
    sender, call = subscribe.get(timeout=TIMEOUT)
    assert sender == driver.process.upid
    assert sender.id.startswith("scheduler-")
    assert call.subscribe.framework_info.name == "default"
    assert call.subscribe.framework_info.hostname != ""
    assert not call.HasField("framework_id")
    assert not call.subscribe.HasField("force")

    # 4. `registered()` gets the master's id and MasterInfo, on the driver's thread.
    framework_id, master_info = registered.get(timeout=TIMEOUT)
    assert framework_id.value == master.framework_id
    assert master_info.pid == str(master.upid)
    assert scheduler.threads() == {driver.process.id}


def test_registration_is_retried_when_subscribe_is_lost(clock: Any, master: Any,
                                                         detector: Any, scheduler: Any,
                                                         kit: Any) -> None:
    """This test ensures that the driver retries SUBSCRIBE, after a random delay bounded by
    the registration backoff factor, when the first one never reaches the master."""
    # 1. Drop the first SUBSCRIBE.
    dropped = drop_message(Call, to=master)
    registered = scheduler.expect("registered")
    kit.start_driver(scheduler, detector)
    assert dropped.get(timeout=TIMEOUT).type == Call.SUBSCRIBE

    # 2. Without time passing, nothing else happens.
    settle()
    assert registered.is_pending()
    assert master.calls(Call.SUBSCRIBE) == []

    # 3. The retry comes within the first backoff bound.
    clock.advance(DEFAULT_REGISTRATION_BACKOFF_FACTOR)
    registered.get(timeout=TIMEOUT)
    assert len(master.calls(Call.SUBSCRIBE)) == 1


def test_failover_subscribes_with_force_then_reregisters(clock: Any, master: Any,
                                                          detector: Any, scheduler: Any,
                                                          kit: Any) -> None:
    """This test ensures that a scheduler started with an existing framework id subscribes
    with `force=true` and sees `registered()`, and that after a master failover it sees
    `disconnected()`, resubscribes without `force` and sees `reregistered()`."""
    # 1. A failing-over scheduler: its FrameworkInfo has an id.
    subscribe = master.future_call(Call.SUBSCRIBE)
    registered = scheduler.expect("registered")
    kit.start_driver(scheduler, detector, kit.framework_info(id="framework-7"))

    _, call = subscribe.get(timeout=TIMEOUT)
    assert call.framework_id.value == "framework-7"
    assert call.subscribe.force is True
    framework_id, _ = registered.get(timeout=TIMEOUT)
    assert framework_id.value == "framework-7"

    # 2. The master fails over to another one.
    new_master = kit.FakeMaster()
    spawn(new_master)
    disconnected = scheduler.expect("disconnected")
    reregistered = scheduler.expect("reregistered")
    resubscribe = new_master.future_call(Call.SUBSCRIBE)
    detector.appoint(new_master.upid)

    # 3. Disconnected, then a SUBSCRIBE without force, then `reregistered()`.
    disconnected.get(timeout=TIMEOUT)
    _, call = resubscribe.get(timeout=TIMEOUT)
    assert call.subscribe.HasField("force") and call.subscribe.force is False
    (master_info,) = reregistered.get(timeout=TIMEOUT)
    assert master_info.pid == str(new_master.upid)
    assert scheduler.count("registered") == 1


def test_offers_and_launch_from_a_callback(clock: Any, master: Any, detector: Any,
                                           scheduler: Any, kit: Any) -> None:
    """This test ensures that offers reach `resourceOffers()`, that `launchTasks` called
    inside that callback (with a single OfferID) sends an ACCEPT with one LAUNCH operation,
    and that framework messages then go straight to the agent that made the offer."""
    # 1. An agent, and a scheduler that launches one task on every offer it gets.
    agent = kit.FakeAgent()
    spawn(agent)

    def launch(driver: Any, offers: Any) -> None:
        for o in offers:
            status = driver.launchTasks(o.id, [kit.task("task-1", o.slave_id.value)])
            assert status == mesos_pb2.DRIVER_RUNNING

    scheduler.hooks["resourceOffers"] = launch
    driver = kit.register(scheduler, detector)

    # 2. The master offers the agent's resources.
    offers = scheduler.expect("resourceOffers")
    accept = master.future_call(Call.ACCEPT)
    master.tell(driver.process.upid, messages_pb2.ResourceOffersMessage(
        offers=[kit.offer("offer-1", "agent-1", master.framework_id)],
        pids=[str(agent.upid)]))

    (delivered,) = offers.get(timeout=TIMEOUT)
    assert [o.id.value for o in delivered] == ["offer-1"]

    # 3. The ACCEPT: the offer, one LAUNCH with the task, default filters.
    _, call = accept.get(timeout=TIMEOUT)
    assert call.framework_id.value == master.framework_id
    assert [i.value for i in call.accept.offer_ids] == ["offer-1"]
    assert len(call.accept.operations) == 1
    operation = call.accept.operations[0]
    assert operation.type == mesos_pb2.Offer.Operation.LAUNCH
    assert [t.task_id.value for t in operation.launch.task_infos] == ["task-1"]
    assert call.accept.HasField("filters")

    # 4. A framework message for that agent goes to the agent, not through the master.
    direct = future_message(messages_pb2.FrameworkToExecutorMessage, to=agent)
    assert driver.sendFrameworkMessage(mesos_pb2.ExecutorID(value="default"),
                                       mesos_pb2.SlaveID(value="agent-1"),
                                       b"hello") == mesos_pb2.DRIVER_RUNNING
    message = direct.get(timeout=TIMEOUT)
    assert message.data == b"hello"
    assert message.framework_id.value == master.framework_id
    settle()
    assert master.calls(Call.MESSAGE) == []


def test_framework_message_to_an_unknown_agent_goes_through_the_master(
        clock: Any, master: Any, detector: Any, scheduler: Any, kit: Any) -> None:
    """This test ensures that a framework message for an agent the driver has no pid for is
    sent to the master as a MESSAGE call."""
    driver = kit.register(scheduler, detector)
    relayed = master.future_call(Call.MESSAGE)
    driver.sendFrameworkMessage(mesos_pb2.ExecutorID(value="e"),
                                mesos_pb2.SlaveID(value="agent-9"), "text")
    _, call = relayed.get(timeout=TIMEOUT)
    assert call.message.slave_id.value == "agent-9"
    assert call.message.executor_id.value == "e"
    assert call.message.data == b"text"


def test_status_update_is_acknowledged_after_the_callback(clock: Any, master: Any,
                                                          detector: Any, scheduler: Any,
                                                          kit: Any) -> None:
    """This test ensures that with implicit acknowledgements a status update reaches
    `statusUpdate()` with its uuid and is then acknowledged to the master with that uuid."""
    driver = kit.register(scheduler, detector)

    # 1. An update forwarded by the master, with a uuid.
    updated = scheduler.expect("statusUpdate")
    acknowledged = master.future_call(Call.ACKNOWLEDGE)
    update_uuid = uuid.uuid4().bytes
    master.tell(driver.process.upid, kit.status_update_message(
        master.framework_id, "task-1", mesos_pb2.TASK_RUNNING, uuid_bytes=update_uuid,
        pid="slave(1)@127.0.0.1:5051"))

    # 2. The scheduler sees it, uuid included.
    (status,) = updated.get(timeout=TIMEOUT)
    assert status.task_id.value == "task-1"
    assert status.state == mesos_pb2.TASK_RUNNING
    assert status.uuid == update_uuid

    # 3. The ACKNOWLEDGE names the agent, the task and the uuid.
    _, call = acknowledged.get(timeout=TIMEOUT)
    assert call.framework_id.value == master.framework_id
    assert call.acknowledge.slave_id.value == "agent-1"
    assert call.acknowledge.task_id.value == "task-1"
    assert call.acknowledge.uuid == update_uuid


def test_status_update_without_uuid_is_not_acknowledged(clock: Any, master: Any,
                                                        detector: Any, scheduler: Any,
                                                        kit: Any) -> None:
    """This test ensures that an update without a uuid (made by the master, as in
    reconciliation) is delivered but never acknowledged."""
    driver = kit.register(scheduler, detector)
    updated = scheduler.expect("statusUpdate")
    master.tell(driver.process.upid, kit.status_update_message(
        master.framework_id, "task-1", mesos_pb2.TASK_LOST))

    (status,) = updated.get(timeout=TIMEOUT)
    assert status.state == mesos_pb2.TASK_LOST
    assert not status.HasField("uuid")
    settle()
    assert master.calls(Call.ACKNOWLEDGE) == []


def test_no_acknowledgement_when_the_callback_aborts_the_driver(clock: Any, master: Any,
                                                                detector: Any,
                                                                scheduler: Any,
                                                                kit: Any) -> None:
    """This test ensures that the implicit acknowledgement is sent only after `statusUpdate()`
    returns: a scheduler that aborts the driver inside the callback leaves the update
    unacknowledged (the agent will send it again)."""
    scheduler.hooks["statusUpdate"] = lambda driver, status: driver.abort()
    driver = kit.register(scheduler, detector)
    updated = scheduler.expect("statusUpdate")
    master.tell(driver.process.upid, kit.status_update_message(
        master.framework_id, "task-1", mesos_pb2.TASK_FINISHED,
        uuid_bytes=uuid.uuid4().bytes, pid="slave(1)@127.0.0.1:5051"))

    updated.get(timeout=TIMEOUT)
    assert driver.join() == mesos_pb2.DRIVER_ABORTED
    settle()
    assert master.calls(Call.ACKNOWLEDGE) == []


def test_explicit_acknowledgements(clock: Any, master: Any, detector: Any, scheduler: Any,
                                   kit: Any) -> None:
    """This test ensures that with explicit acknowledgements (`implicitAcknowledgements`
    given as the int 0, as old frameworks do) the driver sends no ACKNOWLEDGE by itself, and
    sends one when the framework calls `acknowledgeStatusUpdate`."""
    driver = kit.register(scheduler, detector, implicit=0)

    # 1. An update with a uuid: delivered, not acknowledged.
    updated = scheduler.expect("statusUpdate")
    update_uuid = uuid.uuid4().bytes
    master.tell(driver.process.upid, kit.status_update_message(
        master.framework_id, "task-1", mesos_pb2.TASK_RUNNING, uuid_bytes=update_uuid,
        pid="slave(1)@127.0.0.1:5051"))
    (status,) = updated.get(timeout=TIMEOUT)
    settle()
    assert master.calls(Call.ACKNOWLEDGE) == []

    # 2. The framework acknowledges it.
    acknowledged = master.future_call(Call.ACKNOWLEDGE)
    assert driver.acknowledgeStatusUpdate(status) == mesos_pb2.DRIVER_RUNNING
    _, call = acknowledged.get(timeout=TIMEOUT)
    assert call.acknowledge.uuid == update_uuid
    assert call.acknowledge.task_id.value == "task-1"
    assert call.acknowledge.slave_id.value == "agent-1"


def test_explicit_acknowledgement_with_implicit_ones_enabled_raises(
        clock: Any, master: Any, detector: Any, scheduler: Any, kit: Any) -> None:
    """This test ensures that `acknowledgeStatusUpdate` on a driver with implicit
    acknowledgements fails loudly (the C++ driver aborts the program) and sends nothing."""
    driver = kit.register(scheduler, detector)
    status = mesos_pb2.TaskStatus(state=mesos_pb2.TASK_RUNNING, uuid=b"0123456789abcdef")
    status.task_id.value = "task-1"
    status.slave_id.value = "agent-1"
    with pytest.raises(RuntimeError, match="implicit acknowledgements are enabled"):
        driver.acknowledgeStatusUpdate(status)
    settle()
    assert master.calls(Call.ACKNOWLEDGE) == []


def test_messages_from_another_pid_are_ignored(clock: Any, master: Any, detector: Any,
                                               scheduler: Any, kit: Any) -> None:
    """This test ensures that offers, updates and agent losses sent by a process other than
    the leading master (a deposed master, say) are ignored, while the leader's are not."""
    driver = kit.register(scheduler, detector)
    impostor = kit.FakeMaster()
    spawn(impostor)
    offers = scheduler.expect("resourceOffers")

    # 1. The impostor speaks.
    impostor.tell(driver.process.upid, messages_pb2.ResourceOffersMessage(
        offers=[kit.offer("offer-impostor", "agent-1", master.framework_id)],
        pids=["slave(1)@127.0.0.1:5051"]))
    impostor.tell(driver.process.upid, kit.status_update_message(
        master.framework_id, "task-1", mesos_pb2.TASK_LOST))
    impostor.tell(driver.process.upid,
                  messages_pb2.LostSlaveMessage(slave_id=mesos_pb2.SlaveID(value="agent-1")))
    settle()
    assert offers.is_pending()
    assert scheduler.count("statusUpdate") == 0
    assert scheduler.count("slaveLost") == 0
    assert driver.process is not None

    # 2. The leader speaks.
    master.tell(driver.process.upid, messages_pb2.ResourceOffersMessage(
        offers=[kit.offer("offer-real", "agent-1", master.framework_id)],
        pids=["slave(1)@127.0.0.1:5051"]))
    (delivered,) = offers.get(timeout=TIMEOUT)
    assert [o.id.value for o in delivered] == ["offer-real"]


def test_updates_before_registration_are_ignored(clock: Any, master: Any, detector: Any,
                                                 scheduler: Any, kit: Any) -> None:
    """This test ensures that a status update from the master arriving while the driver is
    not registered is ignored (not delivered, not acknowledged)."""
    master.answer_subscribe = False
    subscribe = master.future_call(Call.SUBSCRIBE)
    driver = kit.start_driver(scheduler, detector)
    subscribe.get(timeout=TIMEOUT)

    master.tell(driver.process.upid, kit.status_update_message(
        master.framework_id, "task-1", mesos_pb2.TASK_RUNNING,
        uuid_bytes=uuid.uuid4().bytes, pid="slave(1)@127.0.0.1:5051"))
    settle()
    assert scheduler.count("statusUpdate") == 0
    assert master.calls(Call.ACKNOWLEDGE) == []


def test_framework_error_aborts_then_calls_error(clock: Any, master: Any, detector: Any,
                                                 scheduler: Any, kit: Any) -> None:
    """This test ensures that a FrameworkErrorMessage aborts the driver (which deactivates
    the framework) before `error()` is called, and that `join()` then returns
    DRIVER_ABORTED."""
    # 1. Inside `error()`, the driver is already aborted.
    statuses: list[int] = []
    scheduler.hooks["error"] = lambda driver, message: statuses.append(driver.abort())
    driver = kit.register(scheduler, detector)

    # 2. The master removes the framework.
    error = scheduler.expect("error")
    deactivate = master.future_call("deactivate")
    master.tell(driver.process.upid,
                messages_pb2.FrameworkErrorMessage(message="Framework has been removed"))

    (message,) = error.get(timeout=TIMEOUT)
    assert message == "Framework has been removed"
    assert statuses == [mesos_pb2.DRIVER_ABORTED]
    _, deactivation = deactivate.get(timeout=TIMEOUT)
    assert deactivation.framework_id.value == master.framework_id
    assert driver.join() == mesos_pb2.DRIVER_ABORTED

    # 3. An aborted driver accepts no calls.
    assert driver.reconcileTasks([]) == mesos_pb2.DRIVER_ABORTED
    settle()
    assert master.calls(Call.RECONCILE) == []


def test_stop_without_failover_tears_the_framework_down(clock: Any, master: Any,
                                                        detector: Any, scheduler: Any,
                                                        kit: Any) -> None:
    """This test ensures that `stop()` (failover=False) sends TEARDOWN, terminates the
    driver's process and makes `join()` return DRIVER_STOPPED."""
    driver = kit.register(scheduler, detector)
    process = driver.process
    teardown = master.future_call(Call.TEARDOWN)

    assert driver.stop() == mesos_pb2.DRIVER_STOPPED

    _, call = teardown.get(timeout=TIMEOUT)
    assert call.framework_id.value == master.framework_id
    assert driver.join() == mesos_pb2.DRIVER_STOPPED
    assert wait(process, TIMEOUT)
    assert driver.stop() == mesos_pb2.DRIVER_STOPPED


def test_stop_with_failover_keeps_the_framework(clock: Any, master: Any, detector: Any,
                                                scheduler: Any, kit: Any) -> None:
    """This test ensures that `stop(failover=True)` sends no TEARDOWN (the tasks keep running
    for the next scheduler) and still stops the driver."""
    driver = kit.register(scheduler, detector)
    process = driver.process

    assert driver.stop(True) == mesos_pb2.DRIVER_STOPPED
    assert driver.join() == mesos_pb2.DRIVER_STOPPED
    assert wait(process, TIMEOUT)
    settle()
    assert master.calls(Call.TEARDOWN) == []


def test_abort_deactivates_the_framework(clock: Any, master: Any, detector: Any,
                                         scheduler: Any, kit: Any) -> None:
    """This test ensures that `abort()` sends DeactivateFrameworkMessage (and no TEARDOWN),
    that `join()` returns DRIVER_ABORTED, and that a later `stop()` answers DRIVER_ABORTED and,
    as in Mesos, still tears the framework down."""
    driver = kit.register(scheduler, detector)
    deactivate = future_message(messages_pb2.DeactivateFrameworkMessage, to=master)

    # 1. Abort.
    assert driver.abort() == mesos_pb2.DRIVER_ABORTED
    assert deactivate.get(timeout=TIMEOUT).framework_id.value == master.framework_id
    assert driver.join() == mesos_pb2.DRIVER_ABORTED
    settle()
    assert master.calls(Call.TEARDOWN) == []

    # 2. Stop after abort.
    teardown = master.future_call(Call.TEARDOWN)
    assert driver.stop() == mesos_pb2.DRIVER_ABORTED
    teardown.get(timeout=TIMEOUT)


def test_a_raising_callback_aborts_the_driver(clock: Any, master: Any, detector: Any,
                                              scheduler: Any, kit: Any) -> None:
    """This test ensures that an exception escaping a callback aborts the driver, as the
    official Python bindings do."""

    def broken(driver: Any, offers: Any) -> None:
        raise RuntimeError("scheduler bug")

    scheduler.hooks["resourceOffers"] = broken
    driver = kit.register(scheduler, detector)
    deactivate = master.future_call("deactivate")
    master.tell(driver.process.upid, messages_pb2.ResourceOffersMessage(
        offers=[kit.offer("offer-1", "agent-1", master.framework_id)],
        pids=["slave(1)@127.0.0.1:5051"]))

    deactivate.get(timeout=TIMEOUT)
    assert driver.join() == mesos_pb2.DRIVER_ABORTED


@pytest.mark.parametrize(("capabilities", "state"), [
    ([], mesos_pb2.TASK_LOST),
    ([mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE], mesos_pb2.TASK_DROPPED),
])
def test_launch_while_disconnected_reports_the_tasks_lost(clock: Any, scheduler: Any,
                                                          kit: Any, capabilities: Any,
                                                          state: int) -> None:
    """This test ensures that launching while no master is known sends nothing and reports
    each task TASK_LOST (TASK_DROPPED for a partition-aware framework), from the master,
    with REASON_MASTER_DISCONNECTED and no uuid."""
    # 1. No master is ever detected.
    detector = StandaloneMasterDetector()
    driver = kit.start_driver(scheduler, detector,
                              kit.framework_info(capabilities=capabilities))

    # 2. Launch two tasks.
    lost = [scheduler.expect("statusUpdate"), scheduler.expect("statusUpdate")]
    assert driver.launchTasks([mesos_pb2.OfferID(value="offer-1")],
                              [kit.task("task-1", "agent-1"),
                               kit.task("task-2", "agent-1")]) == mesos_pb2.DRIVER_RUNNING

    # 3. Each task is reported gone, by the driver, on the driver's thread.
    statuses = [future.get(timeout=TIMEOUT)[0] for future in lost]
    assert [s.task_id.value for s in statuses] == ["task-1", "task-2"]
    for status in statuses:
        assert status.state == state
        assert status.reason == mesos_pb2.TaskStatus.REASON_MASTER_DISCONNECTED
        assert status.source == mesos_pb2.TaskStatus.SOURCE_MASTER
        assert not status.HasField("uuid")
    assert scheduler.threads() == {driver.process.id}


def test_master_exit_disconnects_then_reregisters(clock: Any, master: Any, detector: Any,
                                                  scheduler: Any, kit: Any) -> None:
    """This test ensures that when the link to the master breaks the driver calls
    `disconnected()`, drops calls while disconnected, and registers again (as `reregistered`)
    once a master is detected."""
    driver = kit.register(scheduler, detector)

    # 1. The link to the master breaks.
    disconnected = scheduler.expect("disconnected")
    inject_exited(master, driver.process)
    disconnected.get(timeout=TIMEOUT)
    settle()

    # 2. Calls while disconnected are dropped.
    assert driver.reconcileTasks([]) == mesos_pb2.DRIVER_RUNNING
    assert driver.killTask(mesos_pb2.TaskID(value="task-1")) == mesos_pb2.DRIVER_RUNNING
    settle()
    assert master.calls(Call.RECONCILE) == []
    assert master.calls(Call.KILL) == []

    # 3. The master is detected again: a SUBSCRIBE without force, then `reregistered()`.
    resubscribe = master.future_call(Call.SUBSCRIBE)
    reregistered = scheduler.expect("reregistered")
    detector.appoint(master.upid)
    _, call = resubscribe.get(timeout=TIMEOUT)
    assert call.framework_id.value == master.framework_id
    assert call.subscribe.force is False
    reregistered.get(timeout=TIMEOUT)
    assert scheduler.count("disconnected") == 1


def test_reconcile_tasks(clock: Any, master: Any, detector: Any, scheduler: Any,
                         kit: Any) -> None:
    """This test ensures that `reconcileTasks` sends RECONCILE naming each task (and its
    agent when known), and an empty RECONCILE for implicit reconciliation."""
    driver = kit.register(scheduler, detector)

    # 1. Explicit.
    explicit = master.future_call(Call.RECONCILE)
    known = mesos_pb2.TaskStatus(state=mesos_pb2.TASK_RUNNING)
    known.task_id.value = "task-1"
    known.slave_id.value = "agent-1"
    unknown_agent = mesos_pb2.TaskStatus(state=mesos_pb2.TASK_STAGING)
    unknown_agent.task_id.value = "task-2"
    driver.reconcileTasks([known, unknown_agent])
    _, call = explicit.get(timeout=TIMEOUT)
    assert [(t.task_id.value, t.slave_id.value) for t in call.reconcile.tasks] == [
        ("task-1", "agent-1"), ("task-2", "")]
    assert not call.reconcile.tasks[1].HasField("slave_id")

    # 2. Implicit.
    implicit = master.future_call(Call.RECONCILE)
    driver.reconcileTasks([])
    _, call = implicit.get(timeout=TIMEOUT)
    assert call.HasField("reconcile") and len(call.reconcile.tasks) == 0


def test_other_calls(clock: Any, master: Any, detector: Any, scheduler: Any,
                     kit: Any) -> None:
    """This test ensures that decline, kill, revive, suppress, request and update-framework
    each send their Call, with the framework id and the arguments given."""
    driver = kit.register(scheduler, detector,
                          kit.framework_info(roles=["web", "batch"]))
    framework_id = master.framework_id

    def sent(kind: int, action: Any) -> Any:
        future = master.future_call(kind)
        assert action() == mesos_pb2.DRIVER_RUNNING
        _, call = future.get(timeout=TIMEOUT)
        assert call.framework_id.value == framework_id
        return call

    call = sent(Call.DECLINE, lambda: driver.declineOffer(
        mesos_pb2.OfferID(value="offer-1"), mesos_pb2.Filters(refuse_seconds=60)))
    assert [i.value for i in call.decline.offer_ids] == ["offer-1"]
    assert call.decline.filters.refuse_seconds == 60

    call = sent(Call.KILL, lambda: driver.killTask(mesos_pb2.TaskID(value="task-1")))
    assert call.kill.task_id.value == "task-1"

    call = sent(Call.SUPPRESS, lambda: driver.suppressOffers())
    assert list(call.suppress.roles) == []
    call = sent(Call.REVIVE, lambda: driver.reviveOffers(["web"]))
    assert list(call.revive.roles) == ["web"]
    call = sent(Call.REVIVE, lambda: driver.reviveOffers())
    assert list(call.revive.roles) == []

    request = mesos_pb2.Request()
    request.slave_id.value = "agent-1"
    call = sent(Call.REQUEST, lambda: driver.requestResources([request]))
    assert call.request.requests[0].slave_id.value == "agent-1"

    updated = kit.framework_info(id=framework_id, roles=["web", "batch"], name="renamed")
    call = sent(Call.UPDATE_FRAMEWORK, lambda: driver.updateFramework(updated, ["batch"]))
    assert call.update_framework.framework_info.name == "renamed"
    assert list(call.update_framework.suppressed_roles) == ["batch"]


def test_update_framework_with_another_id_is_an_error(clock: Any, master: Any,
                                                      detector: Any, scheduler: Any,
                                                      kit: Any) -> None:
    """This test ensures that `updateFramework` with a FrameworkInfo of another framework
    aborts the driver and reports the error, as the C++ driver does."""
    driver = kit.register(scheduler, detector)
    error = scheduler.expect("error")
    driver.updateFramework(kit.framework_info(id="someone-else"))
    (message,) = error.get(timeout=TIMEOUT)
    assert "someone-else" in message
    assert driver.join() == mesos_pb2.DRIVER_ABORTED
    settle()
    assert master.calls(Call.UPDATE_FRAMEWORK) == []


def test_suppressed_roles_are_sent_on_reregistration(clock: Any, master: Any,
                                                     detector: Any, scheduler: Any,
                                                     kit: Any) -> None:
    """This test ensures that suppressing offers while disconnected is remembered: the
    next SUBSCRIBE lists the suppressed roles and an UPDATE_FRAMEWORK follows it."""
    driver = kit.register(scheduler, detector, kit.framework_info(roles=["web", "batch"]))
    disconnected = scheduler.expect("disconnected")
    inject_exited(master, driver.process)
    disconnected.get(timeout=TIMEOUT)
    settle()

    driver.suppressOffers(["web"])
    resubscribe = master.future_call(Call.SUBSCRIBE)
    update = master.future_call(Call.UPDATE_FRAMEWORK)
    detector.appoint(master.upid)
    _, call = resubscribe.get(timeout=TIMEOUT)
    assert list(call.subscribe.suppressed_roles) == ["web"]
    _, call = update.get(timeout=TIMEOUT)
    assert list(call.update_framework.suppressed_roles) == ["web"]


def test_suppressing_every_role_of_a_single_role_framework_is_remembered(
        clock: Any, master: Any, detector: Any, scheduler: Any, kit: Any) -> None:
    """This test ensures that `suppressOffers()` (every role) of a framework with one legacy
    `role` remembers that role as suppressed, so the SUBSCRIBE after a reconnection keeps
    it suppressed (the framework's `roles` list is empty: it is not MULTI_ROLE)."""
    driver = kit.register(scheduler, detector, kit.framework_info(role="batch"))
    disconnected = scheduler.expect("disconnected")
    inject_exited(master, driver.process)
    disconnected.get(timeout=TIMEOUT)
    settle()

    driver.suppressOffers()
    resubscribe = master.future_call(Call.SUBSCRIBE)
    detector.appoint(master.upid)
    _, call = resubscribe.get(timeout=TIMEOUT)
    assert list(call.subscribe.suppressed_roles) == ["batch"]


def test_scheduler_events_are_understood(clock: Any, master: Any, detector: Any,
                                         scheduler: Any, kit: Any) -> None:
    """This test ensures that the driver also handles `mesos.scheduler.Event`s from the
    master, as the C++ driver does: SUBSCRIBED registers, UPDATE is delivered and
    acknowledged, ERROR aborts."""
    master.answer_subscribe = False
    subscribe = master.future_call(Call.SUBSCRIBE)
    registered = scheduler.expect("registered")
    driver = kit.start_driver(scheduler, detector)
    subscribe.get(timeout=TIMEOUT)

    # 1. SUBSCRIBED.
    event = Event(type=Event.SUBSCRIBED)
    event.subscribed.framework_id.value = "framework-e"
    master.tell(driver.process.upid, event)
    framework_id, master_info = registered.get(timeout=TIMEOUT)
    assert framework_id.value == "framework-e"
    assert master_info.pid == str(master.upid)

    # 2. UPDATE with a uuid.
    updated = scheduler.expect("statusUpdate")
    acknowledged = master.future_call(Call.ACKNOWLEDGE)
    event = Event(type=Event.UPDATE)
    status = event.update.status
    status.task_id.value = "task-1"
    status.state = mesos_pb2.TASK_RUNNING
    status.slave_id.value = "agent-1"
    status.uuid = b"0123456789abcdef"
    master.tell(driver.process.upid, event)
    (delivered,) = updated.get(timeout=TIMEOUT)
    assert delivered.state == mesos_pb2.TASK_RUNNING
    _, call = acknowledged.get(timeout=TIMEOUT)
    assert call.acknowledge.uuid == b"0123456789abcdef"

    # 3. ERROR.
    error = scheduler.expect("error")
    event = Event(type=Event.ERROR)
    event.error.message = "go away"
    master.tell(driver.process.upid, event)
    assert error.get(timeout=TIMEOUT) == ("go away",)
    assert driver.join() == mesos_pb2.DRIVER_ABORTED


def test_master_given_as_http_address_is_resolved(clock: Any, scheduler: Any,
                                                  kit: Any) -> None:
    """This test ensures that a driver given the master's HTTP address (`ip:port`) finds the
    master's UPID through `/master/state`, and that when that master restarts (new process,
    nobody answering for a while) the driver re-resolves the address with backoff and
    registers again."""
    import libprocess

    # 1. A master named `master`, reachable at the HTTP address.
    first = kit.FakeMaster("master")
    spawn(first)
    ip, http_port = libprocess.http_address()
    registered = scheduler.expect("registered")
    driver = MesosSchedulerDriver(scheduler, kit.framework_info(), f"{ip}:{http_port}")
    assert driver.start() == mesos_pb2.DRIVER_RUNNING
    framework_id, master_info = registered.get(timeout=TIMEOUT)
    assert master_info.pid == str(first.upid)

    # 2. The master dies; the first re-resolution finds nobody.
    detector_process = driver.process.detector.process
    failed = future_dispatch(detector_process, "_resolved")
    disconnected = scheduler.expect("disconnected")
    terminate(first)
    assert wait(first, TIMEOUT)
    disconnected.get(timeout=TIMEOUT)
    (result,) = failed.get(timeout=TIMEOUT)
    assert isinstance(result, str)
    settle()

    # 3. The master is back; the retry after the backoff finds it.
    second = kit.FakeMaster("master")
    spawn(second)
    resubscribe = second.future_call(Call.SUBSCRIBE)
    reregistered = scheduler.expect("reregistered")
    clock.advance(RESOLUTION_BACKOFF_MIN)
    _, call = resubscribe.get(timeout=TIMEOUT)
    assert call.framework_id.value == framework_id.value
    reregistered.get(timeout=TIMEOUT)
    driver.stop()
    assert driver.join() == mesos_pb2.DRIVER_STOPPED


@pytest.mark.parametrize("master_address", ["zk://localhost:2181/", "local",
                                            "not a master"])
def test_an_unusable_master_aborts_start(scheduler: Any, kit: Any,
                                         master_address: str) -> None:
    """This test ensures that `start()` with a master string the driver cannot use (a
    ZooKeeper URL without a chroot path, as Mesos refuses it) aborts the driver and reports
    why through `error()`."""
    driver = MesosSchedulerDriver(scheduler, kit.framework_info(), master_address)
    error = scheduler.expect("error")
    assert driver.start() == mesos_pb2.DRIVER_ABORTED
    (message,) = error.get(timeout=0)
    assert message.startswith(f"Failed to create a master detector for '{master_address}'")
    assert driver.join() == mesos_pb2.DRIVER_ABORTED
    assert driver.run() == mesos_pb2.DRIVER_ABORTED


def test_calls_before_start_do_nothing(scheduler: Any, kit: Any) -> None:
    """This test ensures that calls on a driver that was never started answer
    DRIVER_NOT_STARTED, and that bad arguments raise as in the official bindings."""
    driver = MesosSchedulerDriver(scheduler, kit.framework_info(), "127.0.0.1:5050")
    assert driver.killTask(mesos_pb2.TaskID(value="t")) == mesos_pb2.DRIVER_NOT_STARTED
    assert driver.stop() == mesos_pb2.DRIVER_NOT_STARTED
    assert driver.abort() == mesos_pb2.DRIVER_NOT_STARTED
    assert driver.join() == mesos_pb2.DRIVER_NOT_STARTED
    with pytest.raises(TypeError):
        driver.launchTasks(mesos_pb2.OfferID(value="o"), kit.task("t", "a"))
    with pytest.raises(Exception, match="missing required fields"):
        driver.launchTasks([mesos_pb2.OfferID(value="o")], [mesos_pb2.TaskInfo(name="t")])
    operation = mesos_pb2.Offer.Operation(type=mesos_pb2.Offer.Operation.LAUNCH)
    operation.id.value = "op-1"
    with pytest.raises(ValueError, match="'id'"):
        driver.acceptOffers([mesos_pb2.OfferID(value="o")], [operation])
    with pytest.raises(ValueError, match="name"):
        MesosSchedulerDriver(scheduler, mesos_pb2.FrameworkInfo(), "127.0.0.1:5050")
